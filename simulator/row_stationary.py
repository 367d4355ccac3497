"""Row-stationary (RS) dataflow of Eyeriss: mapping parameters, candidate space and access counts.

A PE runs the 1-D convolution of one filter row with one ifmap row (p filters x q channels at a time). A logical
PE set of R x e PEs produces e output rows; sets are folded onto the physical array and replicated r times
across channels and t times across filters (g times across groups). A processing pass runs n images through
the array; passes are ordered by a loop nest over (NE, M, C) whose blocks the global buffer holds.

Every count is a vectorised numpy expression over an array of candidate mappings, so the same code evaluates
one mapping or searches thousands. All counts are bits moved per (level, data type); see docs/energy-model.md.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar

import numpy as np

from accelerators.spec import AcceleratorSpec
from simulator.bits import Widths, gated_share, rlc_factors
from simulator.loopnest import ORDERS, refetch
from simulator.workload import Layer

PARAMS = ("n", "p", "q", "e", "r", "t", "g", "order", "b_ne", "b_m", "b_c", "stream_w")


class MappingRecord:
    """Dict round trip shared by every dataflow's mapping dataclass (integer fields, one of them `order`)."""

    dataflow: ClassVar[str]
    order: int
    b_ne: int
    b_m: int
    b_c: int
    stream_w: int

    def buffer_policy(self) -> str:
        """The pass loop order and global-buffer blocking, as every dataflow's description ends."""
        streamed = " weights-streamed" if self.stream_w else ""
        return f"order={'/'.join(ORDERS[self.order])} glb-block(ne,m,c)=({self.b_ne},{self.b_m},{self.b_c}){streamed}"

    def to_dict(self) -> dict[str, Any]:
        return {"dataflow": self.dataflow, **asdict(self), "loop_order": "/".join(ORDERS[self.order])}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Any:
        names = {f.name for f in fields(cls)}
        return cls(**{k: int(v) for k, v in data.items() if k in names})


@dataclass(frozen=True)
class RSMapping(MappingRecord):
    """One row-stationary mapping: plain data that can be printed, saved and re-evaluated.

    n images per pass; p filters and q channels per PE; e output rows per PE set; r, t, g sets across
    channels, filters and groups; `order` indexes the pass loop order over (NE, M, C), outer to inner; the
    global buffer holds blocks of b_ne x b_m x b_c passes; with stream_w weights pass through it one pass at
    a time instead of staying for the whole block.
    """

    n: int
    p: int
    q: int
    e: int
    r: int
    t: int
    g: int = 1
    order: int = 0
    b_ne: int = 1
    b_m: int = 1
    b_c: int = 1
    stream_w: int = 1
    dataflow: ClassVar[str] = "rs"

    def describe(self) -> str:
        return (
            f"RS n={self.n} p={self.p} q={self.q} e={self.e} r={self.r} t={self.t} g={self.g} " + self.buffer_policy()
        )


MAPPING = RSMapping  # the mapping class of this dataflow (the mapper's registry looks it up)


@dataclass(frozen=True)
class FoldedShape:
    """Per-group loop bounds seen by the array; filters taller than the array are split into row chunks."""

    N: int
    C: int
    M: int
    E: int
    F: int
    R: int
    S: int
    U: int
    G: int
    H: int
    W: int
    row_chunks: int


def folded_shape(spec: AcceleratorSpec, layer: Layer, rows: int | None = None) -> FoldedShape:
    """Split R into chunks of at most `rows` filter rows (default: the PE rows); each chunk acts as an extra
    input channel."""
    chunks = math.ceil(layer.R / (spec.pe_array.rows if rows is None else rows))
    return FoldedShape(
        N=layer.N,
        C=layer.Cg * chunks,
        M=layer.Mg,
        E=layer.E,
        F=layer.F,
        R=math.ceil(layer.R / chunks),
        S=layer.S,
        U=layer.U,
        G=layer.groups,
        H=layer.H,
        W=layer.W,
        row_chunks=chunks,
    )


def _ceil(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int):
        return -(-a // b)
    return np.ceil(np.divide(a, b))


def splits(total: int, limit: int | None = None) -> np.ndarray:
    """Balanced tile sizes ceil(total / k) for every pass count k, ascending, optionally capped."""
    k = np.arange(1, total + 1)
    sizes = np.unique(_ceil(total, k))
    if limit is not None:
        sizes = sizes[sizes <= limit]
    return sizes


def _rf_limits(spec: AcceleratorSpec, fs: FoldedShape, wid: Widths) -> tuple[np.ndarray, np.ndarray]:
    """(p, q) pairs that fit the scratchpads: for each q the three largest balanced p."""
    rf = spec.rf
    q_opts = splits(fs.C)
    pairs: list[tuple[int, int]] = []
    for q in q_opts:
        if rf.shared is not None:
            fixed = q * fs.S * wid.act
            per_p = q * fs.S * wid.weight_pe + wid.psum
            p_max = (rf.shared.bits - fixed) // per_p if per_p > 0 else 0
        else:
            assert rf.ifmap is not None and rf.weight is not None and rf.psum is not None
            if q * fs.S * wid.act > rf.ifmap.bits:
                continue
            p_max = min(rf.psum.bits // wid.psum, int(rf.weight.bits // (q * fs.S * wid.weight_pe)))
        p_opts = splits(fs.M, int(p_max))
        pairs.extend((int(p), int(q)) for p in p_opts[-3:])
    if not pairs:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    arr = np.array(pairs, dtype=np.int64)
    return arr[:, 0], arr[:, 1]


def set_geometry(spec: AcceleratorSpec, R: Any, e: Any) -> tuple[Any, Any]:
    """(height, number of sets that fit) of an R x e PE set folded into columns of the array."""
    rows, cols = spec.pe_array.rows, spec.pe_array.cols
    strips = _ceil(e, cols)
    height = R * strips
    width = np.minimum(e, cols)
    fit = (rows // np.maximum(height, 1)) * (cols // width)
    return height, np.where(height <= rows, fit, 0)


def snap(total: Any, limit: Any) -> Any:
    """Largest balanced tile size ceil(total / k) not above limit (0 where limit < 1)."""
    lim = np.maximum(limit, 1)
    return np.where(limit >= 1, _ceil(total, _ceil(total, lim)), 0)


def candidates(spec: AcceleratorSpec, layer: Layer, wid: Widths) -> dict[str, np.ndarray]:
    """The pruned candidate space (loop order and GLB blocks are resolved by evaluate()).

    For each set width e, PE tiling (p, q), group parallelism g and batch n, the array replication (r, t)
    takes, for every balanced r, the largest balanced t that fits the array and a one-pass global-buffer
    tile, and the same with the roles swapped.
    """
    fs = folded_shape(spec, layer)
    cap = glb_capacity(spec)
    p_arr, q_arr = _rf_limits(spec, fs, wid)
    e_opts = splits(fs.E)
    _, fit = set_geometry(spec, fs.R, e_opts)
    e_opts, fit = e_opts[fit > 0], fit[fit > 0]
    pq = np.arange(len(p_arr))
    g_opts, n_opts = splits(fs.G), splits(fs.N)
    ei, pqi, g, n = (a.ravel() for a in np.meshgrid(np.arange(len(e_opts)), pq, g_opts, n_opts, indexing="ij"))
    e, room = e_opts[ei], fit[ei] // g
    p, q = p_arr[pqi], q_arr[pqi]
    keep = room >= 1
    e, room, p, q, g, n = e[keep], room[keep], p[keep], q[keep], g[keep], n[keep]
    rows_strip = np.minimum((e - 1) * fs.U + fs.R, e * fs.R)
    i_unit = n * q * rows_strip * layer.cols_touched * wid.act * g
    o_unit = n * e * fs.F * p * wid.psum * g
    w_unit = p * q * fs.R * fs.S * wid.weight_glb * g
    row, r, t = replicate(room, _ceil(fs.C, q), _ceil(fs.M, p), i_unit, o_unit, w_unit, cap)
    names = ("n", "p", "q", "e", "r", "t", "g")
    arr = _unique_rows(np.stack([n[row], p[row], q[row], e[row], r, t, g[row]], axis=1).astype(np.int64))
    return {k: arr[:, i] for i, k in enumerate(names)}


def replicate(
    room: np.ndarray,
    chunks_c: np.ndarray,
    chunks_m: np.ndarray,
    i_unit: np.ndarray,
    o_unit: np.ndarray,
    w_unit: np.ndarray,
    cap: Capacity,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, r, t): replications across channels (r) and filters (t) of every base candidate `row`.

    `room` is how many replicas the array holds; a pass of r x t replicas needs r ifmap units, t psum units
    and r * t weight units of the global buffer. For every balanced r, the largest balanced t that fits the
    array and a one-pass buffer tile, and the same with the roles swapped.
    """

    def best_other(row: np.ndarray, x: np.ndarray, x_unit: np.ndarray, y_unit: np.ndarray) -> np.ndarray:
        """Most sets y that fit beside x sets: the array, a one-pass buffer tile and the weight partition."""
        return np.minimum(room[row] // x, glb_room(cap, x_unit * x, y_unit, w_unit[row] * x))

    width = int(room.max()) if len(room) else 0
    xs = np.arange(1, width + 1)
    rows, rs_, ts = [], [], []
    for own_chunks, other_chunks, own_unit, other_unit, r_first in (
        (chunks_c, chunks_m, i_unit, o_unit, True),
        (chunks_m, chunks_c, o_unit, i_unit, False),
    ):
        grid = np.broadcast_to(xs, (len(room), width))
        row = np.broadcast_to(np.arange(len(room))[:, None], grid.shape)
        ok = grid <= room[:, None]
        row, x = row[ok], grid[ok]
        x = snap(own_chunks[row], x)
        y = snap(other_chunks[row], best_other(row, x, own_unit[row], other_unit[row]))
        sel = y >= 1
        row, x, y = row[sel], x[sel], y[sel]
        rows.append(row)
        rs_.append(x if r_first else y)
        ts.append(y if r_first else x)
    return np.concatenate(rows), np.concatenate(rs_), np.concatenate(ts)


def _unique_rows(arr: np.ndarray) -> np.ndarray:
    """Distinct rows of a non-negative integer matrix (mixed-radix keys: far faster than unique(axis=0))."""
    if len(arr) == 0:
        return arr
    radix = arr.max(axis=0) + 1
    if float(np.prod(radix.astype(np.float64))) >= 2**62:
        return np.unique(arr, axis=0)
    weights = np.concatenate([np.cumprod(radix[::-1])[::-1][1:], [1]])
    _, first = np.unique(arr @ weights, return_index=True)
    return arr[np.sort(first)]


def glb_room(cap: Capacity, fixed: Any, per_unit: Any, per_unit_weight: Any) -> Any:
    """Most units of a one-pass tile that fit the global buffer beside `fixed` bits: a unit takes `per_unit`
    bits of ifmaps and psums plus `per_unit_weight` bits of weights (in the pool, or the weight partition)."""
    shared = 1.0 if cap.holds_weights and cap.weight is None else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        limit = np.floor((cap.pool - fixed) / (per_unit + shared * per_unit_weight))
        if cap.holds_weights and cap.weight is not None:
            limit = np.minimum(limit, np.floor(cap.weight / per_unit_weight))
    return limit


@dataclass(frozen=True)
class Capacity:
    """Global-buffer capacity in bits: one pool, or a pool plus a weight partition."""

    pool: float
    weight: float | None
    holds_weights: bool


def glb_capacity(spec: AcceleratorSpec) -> Capacity:
    glb = spec.glb
    if glb.weight_kb is None:
        return Capacity(pool=float(glb.bits), weight=None, holds_weights=glb.holds_weights)
    w = glb.weight_kb * 1024 * 8
    return Capacity(pool=float(glb.bits - w), weight=float(w), holds_weights=glb.holds_weights)


def footprint(b: dict[str, np.ndarray], blk: dict[str, np.ndarray], stream_w: np.ndarray) -> dict[str, np.ndarray]:
    """Bits each data type occupies in the global buffer for a block of b_ne x b_m x b_c passes.

    Ifmaps and psums keep their whole block tile (Timeloop's convention: a level holds the product of the
    loop factors below it); weights either do too or stream through a one-pass slot.
    """
    return {
        "ifmap": blk["ifmap"] * b["NE"] * b["C"],
        "psum": blk["psum"] * b["NE"] * b["M"],
        "weight": np.where(stream_w, blk["weight"], blk["weight"] * b["M"] * b["C"]),
    }


def _usage(
    b: dict[str, np.ndarray], blk: dict[str, np.ndarray], stream_w: np.ndarray, cap: Capacity
) -> tuple[np.ndarray, np.ndarray]:
    """(pool bits, weight-partition bits) the block occupies."""
    fp = footprint(b, blk, stream_w)
    pool = fp["ifmap"] + fp["psum"]
    wpart = np.zeros_like(pool)
    if cap.holds_weights and cap.weight is None:
        pool = pool + fp["weight"]
    elif cap.holds_weights:
        wpart = fp["weight"]
    return pool, wpart


def _fits(b: dict[str, np.ndarray], blk: dict[str, np.ndarray], stream_w: np.ndarray, cap: Capacity) -> np.ndarray:
    """Whether the block's footprint fits the buffer (and its weight partition, if any)."""
    pool, wpart = _usage(b, blk, stream_w, cap)
    ok = pool <= cap.pool
    if cap.weight is not None:
        ok &= wpart <= cap.weight
    return ok


def _grow(
    dim: str,
    b: dict[str, np.ndarray],
    limit: np.ndarray,
    blk: dict[str, np.ndarray],
    stream_w: np.ndarray,
    cap: Capacity,
) -> np.ndarray:
    """Largest block along `dim` (others fixed) that fits, clipped to [1, limit].

    Footprints are affine in each block factor, so two evaluations give slope and intercept.
    """
    zero = np.zeros_like(limit)
    pool0, w0 = _usage({**b, dim: zero}, blk, stream_w, cap)
    pool1, w1 = _usage({**b, dim: zero + 1}, blk, stream_w, cap)
    best = _affine_max(cap.pool, pool0, pool1 - pool0, limit)
    if cap.weight is not None:
        best = np.minimum(best, _affine_max(cap.weight, w0, w1 - w0, limit))
    return np.clip(best, 1, limit)


def _affine_max(capacity: float, intercept: np.ndarray, slope: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """Largest x with intercept + slope * x <= capacity (limit where the slope is zero)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.floor((capacity - intercept) / slope)
    return np.where(slope > 0, x, limit)


# Every (loop order, block-growth priority, weights streamed) combination the search considers.
POLICIES: tuple[tuple[int, int, int], ...] = tuple(
    (order, grow, stream) for order in range(len(ORDERS)) for grow in range(len(ORDERS)) for stream in (0, 1)
)
# Policies that, between them, were best for every layer of the built-in networks on the shipped presets
# (exhaustive search over POLICIES found nothing better); the default search scores every candidate
# under these only.
DEFAULT_POLICIES: tuple[tuple[int, int, int], ...] = (
    (2, 0, 1),
    (4, 5, 0),
    (5, 1, 1),
    (4, 4, 1),
    (2, 2, 1),
    (3, 5, 0),
    (3, 0, 1),
    (0, 0, 0),
)


def with_policies(cand: dict[str, np.ndarray], policies: tuple[tuple[int, int, int], ...]) -> dict[str, np.ndarray]:
    """Every candidate repeated under every policy (order, growth priority, streamed weights)."""
    size = len(cand["n"])
    pol = np.array(policies, dtype=np.int64)
    out = {name: np.tile(v, len(pol)) for name, v in cand.items()}
    out["order"] = np.repeat(pol[:, 0], size)
    out["_grow"] = np.repeat(pol[:, 1], size)
    out["stream_w"] = np.repeat(pol[:, 2], size)
    return out


def evaluate(
    spec: AcceleratorSpec,
    layer: Layer,
    wid: Widths,
    cand: dict[str, np.ndarray],
    ideal: bool = False,
) -> dict[str, np.ndarray]:
    """Counts for every candidate: bits per 'level.data', MACs after gating, compute cycles, active PEs and a
    validity mask.

    Without a loop order in `cand`, every candidate is expanded over all loop orders and block-growth
    priorities (blocks grown greedily, one dimension after another, to fill the global buffer). With
    `ideal`, every refetch multiplier is one: a lower bound on any order and blocking of the same passes.
    """
    fs = folded_shape(spec, layer)
    cand = expand_policies(cand, ideal)
    n, p, q, e, r, t, g = (cand[k].astype(np.float64) for k in ("n", "p", "q", "e", "r", "t", "g"))
    N, C, M, E, F, R, S, U, G = fs.N, fs.C, fs.M, fs.E, fs.F, fs.R, fs.S, fs.U, fs.G

    Pn, Pe = _ceil(N, n), _ceil(E, e)
    Pm, Pc, Pg = _ceil(M, p * t), _ceil(C, q * r), _ceil(G, g)
    passes = {"NE": Pn * Pe, "M": Pm, "C": Pc}

    # Rows of the padded ifmap one strip touches, and the halo rows strips share; all touched columns.
    rows_strip, halo = strips(E, e, Pe, R, U)
    cols_used = layer.cols_touched
    ifmap_eff = layer.ifmap_touched / G
    weights = layer.weights / G
    ofmap = N * M * E * F
    macs = float(layer.macs)

    # Pass-level tile footprints in bits (g groups side by side).
    blk = {
        "weight": p * t * q * r * R * S * wid.weight_glb * g,
        "ifmap": n * q * r * rows_strip * cols_used * wid.act * g,
        "psum": n * e * F * p * t * wid.psum * g,
    }
    nest = pass_nest(spec, cand, blk, passes, ideal, resident=("weight",))

    gate = gated_share(spec, layer)
    macs_gated = macs * gate
    # Share of 1-D row convolutions actually computed when PEs reuse shared clustered rows.
    computed = row_reuse_fraction(spec, layer, wid, p)
    macs_run = macs_gated * computed
    reused_outputs = (macs_gated / S) * (1.0 - computed)

    # Weights: spads reload nest.array times; DRAM supplies them per block (or per load when streamed).
    w_array_fetch = weights * nest.array["weight"]
    w_dram_fetch = weight_dram_fetch(spec, nest, weights, w_array_fetch, w_array_fetch)
    ifmap_fetch = ifmap_eff * halo * nest.dram["ifmap"]
    ifmap_glb_reads = ifmap_eff * halo * Pm
    diag = R * e / rows_strip
    ifmap_deliveries = ifmap_glb_reads * t * diag
    psum_hops = ofmap * np.maximum(R * _ceil(C, q) - Pc, 0)
    weight_deliveries = w_array_fetch * e

    acc = BitCounter(G)
    memory_bits(
        acc,
        spec,
        wid,
        rlc_factors(spec, layer, wid),
        ifmap_fetch=ifmap_fetch,
        ifmap_reads=ifmap_glb_reads,
        w_dram=w_dram_fetch,
        w_reads=w_array_fetch,
        ofmap=ofmap,
        psum_writes=Pc,
        spill=nest.dram["psum"],
    )
    put = acc.put
    wk_pe = wid.weight_pe_key
    put("noc.ifmap", ifmap_deliveries * wid.act)
    put(f"noc.{wk_pe}", weight_deliveries * wid.weight_pe)
    put("noc.psum", psum_hops * wid.psum)
    if not spec.noc.multicast:
        # Without multicast every PE delivery is its own GLB read.
        put("glb.ifmap", (ifmap_deliveries - ifmap_glb_reads) * wid.act)
        if spec.glb.holds_weights:
            put(f"glb.{wid.weight_glb_key}", (weight_deliveries - w_array_fetch) * wid.weight_glb)
    put("rf.ifmap", ifmap_deliveries * wid.act + (macs * computed / G) * wid.act)
    put(f"rf.{wk_pe}", weight_deliveries * wid.weight_pe + (macs_run / G) * wid.weight_pe)
    put("rf.psum", (2 * (macs_run + reused_outputs) / G + psum_hops) * wid.psum)

    active = R * e * r * t * g
    cycles = Pn * Pe * Pm * Pc * Pg * n * p * q * F * S * (computed + (1.0 - computed) / S)
    codebook_bits(acc.bits, wid, n, active, macs_run, w_dram_fetch * G)
    return finish(
        acc.bits,
        {k: cand[k] for k in ("n", "p", "q", "e", "r", "t", "g", "order")},
        nest,
        macs=np.full_like(n, macs),
        macs_run=macs_run,
        macs_reused=macs_gated - macs_run,
        loads_weight=w_array_fetch * G,
        loads_ifmap=ifmap_glb_reads * G,
        active=active,
        cycles=cycles,
        passes=Pn * Pe * Pm * Pc * Pg,
    )


def expand_policies(cand: dict[str, np.ndarray], ideal: bool) -> dict[str, np.ndarray]:
    """Candidates ready to evaluate: as given when they carry a loop order, else under every policy (or, for
    the ideal bound, one placeholder policy whose multipliers are all one)."""
    if "order" not in cand and ideal:
        return {**cand, "order": np.zeros_like(cand["n"]), "stream_w": np.ones_like(cand["n"])}
    if "order" not in cand:
        return with_policies(cand, POLICIES)
    return cand


def strips(E: int, e: Any, Pe: Any, R: int, U: int) -> tuple[Any, Any]:
    """(input rows one strip of e output rows touches, halo factor): strips of a filter R tall and stride U
    overlap, so Pe strips read U * (E - Pe) + Pe * R rows where the layer touches U * (E - 1) + R. The same
    holds for columns."""
    rows_strip = np.minimum((e - 1) * U + R, e * R)
    strip_rows_total = np.where(R >= U, U * (E - Pe) + Pe * R, E * R)
    rows_used = min(U * (E - 1) + R, E * R)
    return rows_strip, strip_rows_total / rows_used


@dataclass(frozen=True)
class PassNest:
    """Global-buffer blocking of the pass loop nest over (NE, M, C) and the refetch multipliers it implies."""

    blocks: dict[str, np.ndarray]  # passes per global-buffer block along NE, M and C
    stream_w: np.ndarray  # weights pass through a one-pass slot instead of staying for the block
    valid: np.ndarray  # the one-pass tile and the block fit the global buffer
    dram: dict[str, np.ndarray]  # times each datum crosses the DRAM link (refetch over the DRAM loops)
    array: dict[str, np.ndarray]  # times each datum of an array-resident type is loaded into the array


def pass_nest(
    spec: AcceleratorSpec,
    cand: dict[str, np.ndarray],
    blk: dict[str, np.ndarray],
    passes: dict[str, np.ndarray],
    ideal: bool,
    resident: tuple[str, ...],
) -> PassNest:
    """Blocks and multipliers for candidates with a loop order (see expand_policies).

    Blocks come from the candidates (b_ne, b_m, b_c) or are grown greedily, one dimension after another in
    the `_grow` priority, to fill the buffer. A `resident` data type stays in the array across passes while
    only irrelevant loops turn, so its array loads follow the refetch rule over the whole nest; the other
    types are reloaded every pass (the dataflow counts those). With `ideal` every multiplier is one.
    """
    like = cand["n"].astype(np.float64)
    order = cand["order"]
    cap = glb_capacity(spec)
    stream_w = cand["stream_w"].astype(bool) if cap.holds_weights else np.ones_like(like, dtype=bool)
    ones = {d: np.ones_like(like) for d in passes}
    valid = _fits(ones, blk, stream_w, cap)
    if all(k in cand for k in ("b_ne", "b_m", "b_c")):
        b = {
            "NE": cand["b_ne"].astype(np.float64),
            "M": cand["b_m"].astype(np.float64),
            "C": cand["b_c"].astype(np.float64),
        }
        valid &= _fits(b, blk, stream_w, cap)
    else:
        b = ones
        if not ideal:
            grow = cand.get("_grow", order)
            for k, priority in enumerate(ORDERS):
                sel = grow == k
                if not sel.any():
                    continue
                bs = {d: b[d][sel] for d in b}
                bk = {x: v[sel] for x, v in blk.items()}
                for d in priority:
                    bs[d] = _grow(d, bs, passes[d][sel], bk, stream_w[sel], cap)
                b = {d: b[d].copy() for d in b}
                for d in b:
                    b[d][sel] = bs[d]

    outer = {d: _ceil(passes[d], b[d]) for d in passes}
    mult_dram = {data: np.ones_like(like) for data in ("weight", "ifmap", "psum")}
    mult_array = {data: np.ones_like(like) for data in resident}
    for k, dims in enumerate(ORDERS):
        sel = order == k
        if ideal or not sel.any():
            continue
        dram_loops = [(d, outer[d][sel]) for d in dims]
        glb_loops = [(d, b[d][sel]) for d in dims]
        for data in ("weight", "ifmap", "psum"):
            mult_dram[data][sel] = refetch(dram_loops, data)
        for data in resident:
            mult_array[data][sel] = refetch(dram_loops + glb_loops, data)
    return PassNest(blocks=b, stream_w=stream_w, valid=valid, dram=mult_dram, array=mult_array)


def weight_dram_fetch(
    spec: AcceleratorSpec, nest: PassNest, weights: float, loads: np.ndarray, reads: np.ndarray
) -> np.ndarray:
    """Weights fetched from DRAM: one per array load when streamed, the block refetch count when the buffer
    keeps them, and one per array read when the buffer holds no weights at all."""
    if not spec.glb.holds_weights:
        return reads
    return np.where(nest.stream_w, loads, weights * nest.dram["weight"])


class BitCounter:
    """Bits per 'level.data' of one group, scaled to all groups as they are added."""

    def __init__(self, groups: int) -> None:
        self.groups = groups
        self.bits: dict[str, Any] = {}

    def put(self, key: str, value: Any) -> None:
        self.bits[key] = self.bits.get(key, 0.0) + value * self.groups


def memory_bits(
    acc: BitCounter,
    spec: AcceleratorSpec,
    wid: Widths,
    rlc: tuple[float, float],
    *,
    ifmap_fetch: Any,
    ifmap_reads: Any,
    w_dram: Any,
    w_reads: Any,
    ofmap: float,
    psum_writes: Any,
    spill: Any,
) -> None:
    """DRAM and global-buffer bits of one group, the same for every dataflow.

    Fetched ifmaps and weights are written into the buffer and read towards the array `ifmap_reads` and
    `w_reads` times; each output is written `psum_writes` times by the array (read back in between) and read
    once to leave; `spill` round trips to DRAM add a write-out and read-back each.
    """
    rlc_in, rlc_out = rlc
    put = acc.put
    put("dram.ifmap", ifmap_fetch * wid.act * rlc_in)
    put(f"dram.{wid.weight_dram_key}", w_dram * wid.weight_dram)
    put("dram.psum", ofmap * wid.act * rlc_out + ofmap * (spill - 1) * 2 * wid.psum)
    put("glb.ifmap", ifmap_fetch * wid.act + ifmap_reads * wid.act)
    if spec.glb.holds_weights:
        put(f"glb.{wid.weight_glb_key}", (w_dram + w_reads) * wid.weight_glb)
    put("glb.psum", ofmap * (2 * psum_writes - 1 + 2 * spill - 1) * wid.psum)


def codebook_bits(
    bits: dict[str, Any], wid: Widths, like: np.ndarray, active: Any, macs_run: Any, w_dram_total: Any
) -> None:
    """Codebook traffic of a clustered layer: loaded once; decoded by a lookup per MAC in the PEs (every
    active PE holds a copy) or once per weight fetched into the global buffer."""
    if not wid.clustered:
        return
    cb = wid.codebook_values * wid.codebook_bits
    bits["dram.codebook"] = np.full_like(like, cb)
    if wid.decode_in_pe:
        bits["glb.codebook"] = np.full_like(like, 2 * cb)
        bits["noc.codebook"] = cb * active
        bits["rf.codebook"] = cb * active + macs_run * wid.codebook_bits
    else:
        bits["glb.codebook"] = cb + w_dram_total * wid.codebook_bits


def finish(
    bits: dict[str, Any],
    params: dict[str, np.ndarray],
    nest: PassNest,
    *,
    macs: np.ndarray,
    macs_run: Any,
    macs_reused: Any,
    loads_weight: Any,
    loads_ifmap: Any,
    active: Any,
    cycles: Any,
    passes: Any,
) -> dict[str, np.ndarray]:
    """The counts dictionary every dataflow's evaluate() returns (see the mapper)."""
    shape = macs.shape
    return {
        **{f"bits.{k}": np.broadcast_to(v, shape).astype(np.float64) for k, v in bits.items()},
        **params,
        "b_ne": nest.blocks["NE"].astype(np.int64),
        "b_m": nest.blocks["M"].astype(np.int64),
        "b_c": nest.blocks["C"].astype(np.int64),
        "stream_w": nest.stream_w.astype(np.int64),
        "macs": macs,
        "macs_gated": np.broadcast_to(macs_run, shape).astype(np.float64),
        "macs_reused": np.broadcast_to(macs_reused, shape).astype(np.float64),
        "loads_weight": loads_weight,
        "loads_ifmap": loads_ifmap,
        "active_pes": active,
        "cycles": cycles,
        "passes": passes,
        "valid": nest.valid,
    }


def expected_distinct(pool: Any, draws: Any) -> Any:
    """Expected number of distinct values among `draws` picks, uniform with replacement from `pool` values."""
    pool = np.maximum(pool, 1.0)
    return pool * (1.0 - (1.0 - 1.0 / pool) ** draws)


def row_reuse_fraction(spec: AcceleratorSpec, layer: Layer, wid: Widths, p: Any) -> Any:
    """Share of a PE's p filter rows (same input channel and filter row) whose 1-D convolution must be
    computed: the distinct rows among them. One unless the spec enables row reuse for a row-clustered layer
    decoded in the PE."""
    c = layer.numerics.clustering
    if not (spec.features.row_reuse and wid.decode_in_pe and c is not None):
        return 1.0
    if c.vector_length != layer.S or layer.S == 1:
        return 1.0
    distinct_rows = c.distinct_rows if c.distinct_rows is not None else expected_distinct(float(c.used), layer.Mg)
    return expected_distinct(float(distinct_rows), p) / p


def mapping_arrays(m: MappingRecord) -> dict[str, np.ndarray]:
    """A single mapping (of any dataflow) as the one-element candidate arrays that evaluate() takes."""
    return {f.name: np.array([getattr(m, f.name)], dtype=np.int64) for f in fields(m)}


def mapping_at(result: dict[str, np.ndarray], i: int, cls: type = RSMapping) -> Any:
    """Mapping `i` of an evaluate() result as a `cls` (default RSMapping)."""
    return cls(**{f.name: int(result[f.name][i]) for f in fields(cls)})


def check_fit(spec: AcceleratorSpec, layer: Layer, wid: Widths, m: RSMapping) -> list[str]:
    """Human-readable capacity violations of one mapping (empty when it fits)."""
    fs = folded_shape(spec, layer)
    problems: list[str] = []
    bounds = {"n": fs.N, "p": fs.M, "q": fs.C, "e": fs.E, "g": fs.G}
    for name, limit in bounds.items():
        value = getattr(m, name)
        if not 1 <= value <= limit:
            problems.append(f"{name}={value} must lie in [1, {limit}]")
    if m.r < 1 or m.t < 1:
        problems.append("r and t must be >= 1")
    if not 0 <= m.order < len(ORDERS):
        problems.append(f"order={m.order} must lie in [0, {len(ORDERS) - 1}]")
    if problems:
        return problems
    rf = spec.rf
    w_bits = m.p * m.q * fs.S * wid.weight_pe
    i_bits = m.q * fs.S * wid.act
    o_bits = m.p * wid.psum
    if rf.shared is not None:
        if w_bits + i_bits + o_bits > rf.shared.bits:
            problems.append(
                f"register file needs {w_bits + i_bits + o_bits:.0f} bits (p*q*S weights, q*S ifmaps, p psums) "
                f"but holds {rf.shared.bits}"
            )
    else:
        assert rf.ifmap is not None and rf.weight is not None and rf.psum is not None
        for label, need, have in (
            ("weight", w_bits, rf.weight.bits),
            ("ifmap", i_bits, rf.ifmap.bits),
            ("psum", o_bits, rf.psum.bits),
        ):
            if need > have:
                problems.append(f"{label} scratchpad needs {need:.0f} bits but holds {have}")
    height, fit = set_geometry(spec, fs.R, m.e)
    if int(fit) < m.r * m.t * m.g:
        problems.append(
            f"{m.r * m.t * m.g} PE sets of {fs.R}x{m.e} (height {int(height)}) do not fit the "
            f"{spec.pe_array.rows}x{spec.pe_array.cols} array (room for {int(fit)})"
        )
    counts = evaluate(spec, layer, wid, mapping_arrays(m))
    if not bool(counts["valid"][0]):
        problems.append(f"global-buffer block ({m.b_ne},{m.b_m},{m.b_c}) passes does not fit {spec.glb.size_kb} kB")
    return problems
