"""The pass schedule of one mapped layer: the DRAM-level blocks the hardware runs, in order.

A block is one iteration of the DRAM-level loop nest over (NE, M, C) (groups outermost): it loads the tiles
whose indices changed, runs its b_ne x b_m x b_c passes in the same loop order, and stores the psum tile when
the next block moves on. Runs of identical consecutive passes become one `Step`, runs of identical consecutive
blocks one `Block` with a `repeat` count, so the event model touches a few objects per layer, not every pass.

DRAM bits are reconciled with the LayerResult: the loop nest says when and how many pass-tiles of each data
type move (its structural count), and each tile carries `bits['dram.X'] / count`, so the schedule's DRAM
traffic adds up exactly to the energy model's (RLC, halos, index bits and codebooks included). On-chip bits
per pass are likewise the LayerResult's totals spread over the passes that move them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import lru_cache

from accelerators.spec import AcceleratorSpec
from simulator.bits import Widths, layer_widths, rlc_factors
from simulator.loopnest import ORDERS
from simulator.results import LayerResult
from simulator.row_stationary import folded_shape


@dataclass(frozen=True)
class PassWork:
    """What one processing pass does: its compute cycles and the bits it moves on each on-chip path."""

    compute_cycles: float
    weight_bits: float = 0.0  # weight network, before the first MAC (0: the spads keep the last pass's weights)
    ifmap_fill_bits: float = 0.0  # first ifmap window, before the first MAC
    ifmap_bits: float = 0.0  # the rest of the ifmap tile, streamed while computing
    psum_in_bits: float = 0.0  # GLB -> array psums of earlier channel passes, streamed while computing
    psum_out_bits: float = 0.0  # array -> GLB psums, streamed while computing
    glb_fill_bits: float = 0.0  # GLB bank traffic before the first MAC
    glb_bits: float = 0.0  # GLB bank traffic while computing
    drain_hops: float = 0.0  # cycles of the vertical psum accumulation of the last output column
    drain_bits: float = 0.0  # psums of the last output column, written after the last MAC


@dataclass(frozen=True)
class Step:
    """`count` identical consecutive passes; `stream_bits` DRAM bits arrive before each (streamed weights)."""

    count: int
    work: PassWork
    stream_bits: float = 0.0


@dataclass(frozen=True)
class Block:
    """One DRAM-level block (or `repeat` identical consecutive ones): loads, passes, stores."""

    loads: tuple[tuple[str, float], ...]  # ('dram.X', bits) fetched before the first pass
    stores: tuple[tuple[str, float], ...]  # ('dram.X', bits) written after the last pass
    steps: tuple[Step, ...]
    repeat: int = 1

    @property
    def load_bits(self) -> float:
        return sum(b for _, b in self.loads)

    @property
    def store_bits(self) -> float:
        return sum(b for _, b in self.stores)

    @property
    def passes(self) -> int:
        return sum(s.count for s in self.steps)

    @property
    def stream_bits(self) -> float:
        return sum(s.count * s.stream_bits for s in self.steps)


@dataclass(frozen=True)
class Schedule:
    """Every block of one layer in program order, plus one-off setup work (codebook into the PE tables)."""

    blocks: tuple[Block, ...]
    setup_weight_bits: float = 0.0  # weight-network bits before the first pass (codebooks into the PE LUTs)
    units: dict[str, float] = field(default_factory=dict)  # structural pass-tile counts, for diagnostics
    stream_key: str = "dram.weight"  # the DRAM key of streamed weights (index bits when clustered)

    @property
    def passes(self) -> int:
        return sum(b.passes * b.repeat for b in self.blocks)

    @property
    def block_count(self) -> int:
        return sum(b.repeat for b in self.blocks)

    @property
    def compute_cycles(self) -> float:
        return sum(s.count * s.work.compute_cycles * b.repeat for b in self.blocks for s in b.steps)

    def dram_bits(self) -> dict[str, float]:
        """DRAM bits per 'dram.X' key over the whole layer (equals the LayerResult's)."""
        out: dict[str, float] = {}
        for b in self.blocks:
            for key, bits in (*b.loads, *b.stores):
                out[key] = out.get(key, 0.0) + bits * b.repeat
            for s in b.steps:
                if s.stream_bits:
                    out[self.stream_key] = out.get(self.stream_key, 0.0) + s.stream_bits * s.count * b.repeat
        return out


# --- the loop nest -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Nest:
    """Pass counts and GLB blocks of an RS mapping, per loop dimension."""

    order: tuple[str, str, str]
    passes: dict[str, int]
    block: dict[str, int]
    groups: int  # group passes (outermost loop)
    streamed: bool

    def outer(self, d: str) -> int:
        return -(-self.passes[d] // self.block[d])

    def size(self, d: str, i: int) -> int:
        """Passes along d in the i-th block (the last one may be short)."""
        return self.block[d] if i < self.outer(d) - 1 else self.passes[d] - (self.outer(d) - 1) * self.block[d]


@dataclass(frozen=True)
class _Raw:
    """One block in structural units (pass-tiles), before bits are assigned."""

    ifmap: int
    weight: int  # block-level weight tiles (not streamed)
    psum_read: int  # spilled psum tiles read back
    psum_spill: int  # psum tiles written out unfinished
    psum_final: int  # finished ofmap tiles written out
    first: bool  # first block of the layer (codebook load)
    steps: tuple[tuple[int, bool, bool], ...]  # (count, weight reload, psum in)


def _nest(spec: AcceleratorSpec, result: LayerResult) -> _Nest:
    m = result.mapping
    fs = folded_shape(spec, result.layer)
    pn, pe = -(-fs.N // m.n), -(-fs.E // m.e)
    passes = {"NE": pn * pe, "M": -(-fs.M // (m.p * m.t)), "C": -(-fs.C // (m.q * m.r))}
    block = {"NE": min(m.b_ne, passes["NE"]), "M": min(m.b_m, passes["M"]), "C": min(m.b_c, passes["C"])}
    streamed = bool(m.stream_w) or not spec.glb.holds_weights
    return _Nest(ORDERS[m.order], passes, block, -(-fs.G // m.g), streamed)


@lru_cache(maxsize=4096)
def _inner_steps(
    order: tuple[str, str, str], sizes: tuple[int, int, int], c_start: bool, first_reload: bool
) -> tuple[tuple[int, bool, bool], ...]:
    """Runs of identical passes inside a block: (count, weight reload, psum in), in loop order.

    The spads reload weights when the pass's (M, C) tile differs from the previous pass's; a pass reads psums
    back from the GLB when an earlier channel pass of its output tile exists.
    """
    im, ic = order.index("M"), order.index("C")
    runs: list[list] = []
    prev: tuple[int, int] | None = None
    for idx in _product(sizes):
        mc = (idx[im], idx[ic])
        reload = first_reload if prev is None else mc != prev
        psum_in = c_start or idx[ic] > 0
        prev = mc
        if runs and runs[-1][1] == reload and runs[-1][2] == psum_in:
            runs[-1][0] += 1
        else:
            runs.append([1, reload, psum_in])
    return tuple((int(c), bool(r), bool(p)) for c, r, p in runs)


def _product(sizes: tuple[int, int, int]) -> Iterator[tuple[int, int, int]]:
    for a in range(sizes[0]):
        for b in range(sizes[1]):
            for c in range(sizes[2]):
                yield a, b, c


Position = tuple[int, tuple[int, int, int]]  # (group pass, block index along each loop, outer to inner)


def _changed(here: Position, other: Position | None, a: int, b: int) -> bool:
    """Whether the tile indexed by loops a and b differs between two block positions (None: no block)."""
    return other is None or other[0] != here[0] or other[1][a] != here[1][a] or other[1][b] != here[1][b]


def _raw_blocks(nest: _Nest) -> list[_Raw]:
    """Walk the DRAM-level loop nest (groups outermost) and record what each block moves."""
    dims = nest.order
    outer = [nest.outer(d) for d in dims]
    ine, im, ic = dims.index("NE"), dims.index("M"), dims.index("C")
    positions = [(g, idx) for g in range(nest.groups) for idx in _product((outer[0], outer[1], outer[2]))]
    size_of = [[nest.size(d, i) for i in range(nest.outer(d))] for d in dims]
    raws: list[_Raw] = []
    last_c = nest.outer("C") - 1
    for k, (g, idx) in enumerate(positions):
        sizes = (size_of[0][idx[0]], size_of[1][idx[1]], size_of[2][idx[2]])
        s_ne, s_m, s_c = sizes[ine], sizes[im], sizes[ic]
        prev = positions[k - 1] if k else None
        nxt = positions[k + 1] if k + 1 < len(positions) else None
        new_ifmap = _changed((g, idx), prev, ine, ic)
        new_weight = _changed((g, idx), prev, im, ic)
        new_psum = _changed((g, idx), prev, ine, im)
        psum_leaves = _changed((g, idx), nxt, ine, im)
        if prev is None or prev[0] != g:
            first_reload = True
        else:
            # Last pass of the previous block vs first pass of this one, in global (M, C) pass indices.
            p_idx = prev[1]
            p_sizes = [size_of[j][p_idx[j]] for j in range(3)]
            p_last = [p_idx[j] * nest.block[dims[j]] + p_sizes[j] - 1 for j in range(3)]
            first = [idx[j] * nest.block[dims[j]] for j in range(3)]
            first_reload = (p_last[im], p_last[ic]) != (first[im], first[ic])
        steps = _inner_steps(dims, sizes, idx[ic] > 0, first_reload)
        final = idx[ic] == last_c
        raws.append(
            _Raw(
                ifmap=s_ne * s_c if new_ifmap else 0,
                weight=s_m * s_c if new_weight and not nest.streamed else 0,
                psum_read=s_ne * s_m if new_psum and idx[ic] > 0 else 0,
                psum_spill=s_ne * s_m if psum_leaves and not final else 0,
                psum_final=s_ne * s_m if psum_leaves and final else 0,
                first=k == 0,
                steps=steps,
            )
        )
    return raws


# --- bits ---------------------------------------------------------------------------------------------------


def _share(total: float, units: float) -> float:
    return total / units if units > 0 else 0.0


@dataclass(frozen=True)
class _DramShares:
    """DRAM bits carried by one pass-tile of each kind, so that the tiles add up to the LayerResult."""

    ifmap: float
    weight: float
    spill: float  # one spilled psum tile, out or back in
    final: float  # one finished ofmap tile
    once: tuple[tuple[str, float], ...]  # other DRAM traffic (codebooks), loaded with the first block


def _dram_shares(spec: AcceleratorSpec, result: LayerResult, wid: Widths, units: dict[str, float]) -> _DramShares:
    bits, layer = result.bits, result.layer
    w_key = f"dram.{wid.weight_dram_key}"
    psum_total = bits.get("dram.psum", 0.0)
    _, rlc_out = rlc_factors(spec, layer, wid)
    final_bits = min(psum_total, layer.ofmap_size * wid.act * rlc_out)
    if units["psum_read"] + units["psum_spill"] > 0:
        spill = _share(psum_total - final_bits, units["psum_read"] + units["psum_spill"])
        final = _share(final_bits, units["psum_final"])
    else:
        spill, final = 0.0, _share(psum_total, units["psum_final"])
    known = {"dram.ifmap", w_key, "dram.psum"}
    return _DramShares(
        ifmap=_share(bits.get("dram.ifmap", 0.0), units["ifmap"]),
        weight=_share(bits.get(w_key, 0.0), units["weight"]),
        spill=spill,
        final=final,
        once=tuple((k, v) for k, v in sorted(bits.items()) if k.startswith("dram.") and k not in known and v),
    )


def _pass_works(
    spec: AcceleratorSpec, result: LayerResult, wid: Widths, nest: _Nest, units: dict[str, float]
) -> dict[tuple[bool, bool], PassWork]:
    """The work of a pass for each (weight reload, psum in), with on-chip bits spread from the LayerResult."""
    m, bits, layer = result.mapping, result.bits, result.layer
    fs = folded_shape(spec, layer)
    n_pass, n_reload = units["passes"], units["reloads"]
    # Weights into the spads: distinct values (multicast reaches the e PEs of a row at once) or deliveries.
    distinct_w = result.loads.get("weight", 0.0) * wid.weight_pe or bits.get(f"noc.{wid.weight_pe_key}", 0.0) / m.e
    weight_noc = distinct_w * (1 if spec.noc.multicast else m.e)
    w_key = f"dram.{wid.weight_dram_key}"
    w_fill = bits.get(w_key, 0.0) * (wid.weight_glb / wid.weight_dram) if wid.weight_dram else 0.0
    weight_glb = max(bits.get(f"glb.{wid.weight_glb_key}", 0.0) - w_fill, 0.0) if spec.glb.holds_weights else 0.0
    rlc_in, _ = rlc_factors(spec, layer, wid)
    raw_in = bits.get("dram.ifmap", 0.0) / rlc_in
    ifmap = _share(max(bits.get("glb.ifmap", 0.0) - raw_in, 0.0), n_pass)  # GLB -> array, per pass
    i_fill = ifmap * min(1.0, fs.S / (m.n * max(layer.cols_touched, 1)))  # the first window of the first image
    psum = _share(layer.ofmap_size * wid.psum * nest.passes["C"], n_pass)
    compute = _share(result.cycles, n_pass)
    reload_w, reload_glb = _share(weight_noc, n_reload), _share(weight_glb, n_reload)

    def work(reload: bool, psum_in: bool) -> PassWork:
        p_in = psum if psum_in else 0.0
        return PassWork(
            compute_cycles=compute,
            weight_bits=reload_w if reload else 0.0,
            ifmap_fill_bits=i_fill,
            ifmap_bits=ifmap - i_fill,
            psum_in_bits=p_in,
            psum_out_bits=psum,
            glb_fill_bits=(reload_glb if reload else 0.0) + i_fill,
            glb_bits=ifmap - i_fill + p_in + psum,
            drain_hops=float(fs.R - 1 + m.p),
            drain_bits=float(m.e * m.p * m.t * m.g * wid.psum),
        )

    return {(rl, pi): work(rl, pi) for rl in (False, True) for pi in (False, True)}


def _units(raws: list[_Raw], streamed: bool) -> dict[str, float]:
    """Structural counts over the layer, in pass-tiles."""
    reloads = sum(c for r in raws for c, rl, _ in r.steps if rl)
    return {
        "ifmap": float(sum(r.ifmap for r in raws)),
        "weight": float(reloads if streamed else sum(r.weight for r in raws)),
        "psum_read": float(sum(r.psum_read for r in raws)),
        "psum_spill": float(sum(r.psum_spill for r in raws)),
        "psum_final": float(sum(r.psum_final for r in raws)),
        "passes": float(sum(c for r in raws for c, _, _ in r.steps)),
        "reloads": float(reloads),
    }


def build_schedule(spec: AcceleratorSpec, result: LayerResult) -> Schedule:
    """The block/pass schedule of a mapped layer (row stationary; other mappings get a one-block schedule)."""
    if not all(hasattr(result.mapping, k) for k in ("n", "p", "q", "e", "r", "t", "g", "order", "b_ne", "b_m", "b_c")):
        return _single_block(result)
    wid = layer_widths(spec, result.layer)
    nest = _nest(spec, result)
    raws = _raw_blocks(nest)
    units = _units(raws, nest.streamed)
    share = _dram_shares(spec, result, wid, units)
    works = _pass_works(spec, result, wid, nest, units)
    w_key = f"dram.{wid.weight_dram_key}"
    blocks: list[Block] = []
    for r in raws:
        loads = [("dram.ifmap", r.ifmap * share.ifmap), (w_key, r.weight * share.weight)]
        loads += [("dram.psum", r.psum_read * share.spill), *(share.once if r.first else ())]
        stores = [("dram.psum", r.psum_spill * share.spill + r.psum_final * share.final)]
        stream = share.weight if nest.streamed else 0.0
        steps = tuple(Step(c, works[(rl, pi)], stream if rl else 0.0) for c, rl, pi in r.steps)
        block = Block(_nonzero(loads), _nonzero(stores), steps)
        if blocks and _same(blocks[-1], block):
            blocks[-1] = replace(blocks[-1], repeat=blocks[-1].repeat + 1)
        else:
            blocks.append(block)
    # Codebooks into every PE's lookup table: one multicast, or one delivery per active PE.
    codebook = result.bits.get("noc.codebook", 0.0) / (max(result.active_pes, 1) if spec.noc.multicast else 1)
    return Schedule(tuple(blocks), setup_weight_bits=codebook, units=units, stream_key=w_key)


def _nonzero(items: list[tuple[str, float]]) -> tuple[tuple[str, float], ...]:
    merged: dict[str, float] = {}
    for k, v in items:
        if v:
            merged[k] = merged.get(k, 0.0) + v
    return tuple(merged.items())


def _same(a: Block, b: Block) -> bool:
    return a.loads == b.loads and a.stores == b.stores and a.steps == b.steps


def _single_block(result: LayerResult) -> Schedule:
    """Fallback for mappings without RS loop structure: load everything, run the passes, store the outputs."""
    dram = {k: v for k, v in result.bits.items() if k.startswith("dram.") and v}
    psum = dram.pop("dram.psum", 0.0)
    passes = max(int(result.passes), 1)
    work = PassWork(compute_cycles=result.cycles / passes)
    stores = (("dram.psum", psum),) if psum else ()
    return Schedule((Block(tuple(sorted(dram.items())), stores, (Step(passes, work),)),))


def expand(schedule: Schedule) -> Schedule:
    """The same schedule with every block and every pass on its own (the unaggregated reference)."""
    blocks: list[Block] = []
    for b in schedule.blocks:
        steps = tuple(Step(1, s.work, s.stream_bits) for s in b.steps for _ in range(s.count))
        blocks.extend([replace(b, steps=steps, repeat=1)] * b.repeat)
    return replace(schedule, blocks=tuple(blocks))
