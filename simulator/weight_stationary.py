"""Weight-stationary (WS) dataflow: mapping parameters, candidate space and access counts.

After Chen, Emer, Sze (ISCA 2016, Sec. V-A) and the designs it files under WS (Chakradhar et al. ISCA 2010,
NeuFlow): every filter weight stays in the register file of one PE while the ifmaps stream past it. The
R x S weights of one filter plane (one filter, one input channel) sit in a region of R x S PEs; each ifmap
pixel of that channel is multicast to the PEs of the region that multiply it (the useful deliveries: one per
PE and output position), and the products of an output are summed spatially: the psum travels PE to PE
through the region and on through the regions of the pass's other channels before it is written to the
global buffer. A PE may stack the weights of p filters (same channel and tap): a delivered pixel then feeds p
MACs and the PE keeps p psums in flight. Regions are replicated r times across channels, t times across
filter stacks and g times across groups; a pass streams n images x e output rows through the array.

Passes follow the (NE, M, C) loop nest and global-buffer blocking shared with RS (simulator.row_stationary),
with weights resident in the array across passes that only change NE. Filters taller than the array are
split into row chunks that act as extra channels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from accelerators.spec import AcceleratorSpec
from simulator import row_stationary as rs
from simulator.bits import Widths, gated_share, rlc_factors
from simulator.loopnest import ORDERS
from simulator.row_stationary import (
    POLICIES,
    BitCounter,
    FoldedShape,
    MappingRecord,
    _ceil,
    _unique_rows,
    codebook_bits,
    expand_policies,
    finish,
    folded_shape,
    glb_capacity,
    mapping_arrays,
    memory_bits,
    pass_nest,
    replicate,
    splits,
    strips,
    weight_dram_fetch,
    with_policies,
)
from simulator.workload import Layer

__all__ = [
    "DEFAULT_POLICIES",
    "MAPPING",
    "POLICIES",
    "WSMapping",
    "candidates",
    "check_fit",
    "evaluate",
    "mapping_arrays",
    "mapping_at",
    "with_policies",
]


@dataclass(frozen=True)
class WSMapping(MappingRecord):
    """One weight-stationary mapping.

    n images and e output rows per pass; p filters stacked in each PE; r, t, g regions of R x S PEs across
    channels, filter stacks and groups; `order`, the global-buffer block (b_ne, b_m, b_c) and stream_w as in
    RS.
    """

    n: int
    p: int
    e: int
    r: int
    t: int
    g: int = 1
    order: int = 0
    b_ne: int = 1
    b_m: int = 1
    b_c: int = 1
    stream_w: int = 1
    dataflow: ClassVar[str] = "ws"

    def describe(self) -> str:
        return f"WS n={self.n} p={self.p} e={self.e} r={self.r} t={self.t} g={self.g} " + self.buffer_policy()


MAPPING = WSMapping
# (loop order, block-growth priority, weights streamed) policies that, between them, were best for every
# layer of the built-in networks (batch 1, and 16 for AlexNet, VGG-16, ResNet-50, MobileNet) on
# eyeriss-isca16-ws, eyeriss and edge-int8 under exhaustive search over POLICIES (see DEFAULT_POLICIES
# in simulator.row_stationary); the default search scores every candidate under these only.
DEFAULT_POLICIES: tuple[tuple[int, int, int], ...] = ((0, 2, 1), (3, 5, 0), (4, 4, 1), (2, 2, 1))


def mapping_at(result: dict[str, np.ndarray], i: int) -> WSMapping:
    """Candidate i of an evaluate() result as a mapping."""
    return rs.mapping_at(result, i, WSMapping)


def region_shape(spec: AcceleratorSpec, layer: Layer) -> FoldedShape:
    """Per-group loop bounds with R split into chunks whose R x S region fits the array."""
    return folded_shape(spec, layer, rows=max(1, spec.pe_array.pes // layer.S))


def _stack_limit(spec: AcceleratorSpec, wid: Widths) -> int:
    """Most filters one PE can stack: p weights, p psums in flight and the current ifmap pixel."""
    rf = spec.rf
    if rf.shared is not None:
        return int((rf.shared.bits - wid.act) // (wid.weight_pe + wid.psum))
    assert rf.ifmap is not None and rf.weight is not None and rf.psum is not None
    if rf.ifmap.bits < wid.act:
        return 0
    return int(min(rf.weight.bits // wid.weight_pe, rf.psum.bits // wid.psum))


def candidates(spec: AcceleratorSpec, layer: Layer, wid: Widths) -> dict[str, np.ndarray]:
    """Stacks p (the three largest balanced ones that fit the RF), strip heights e, batches n and group
    parallelism g; for each, the (r, t) replications of RS's rule (simulator.row_stationary.replicate)."""
    fs = region_shape(spec, layer)
    regions = spec.pe_array.pes // (fs.R * fs.S)
    p_opts = splits(fs.M, _stack_limit(spec, wid))[-3:]
    if regions < 1 or len(p_opts) == 0:
        return {k: np.zeros(0, dtype=np.int64) for k in ("n", "p", "e", "r", "t", "g")}
    p, e, g, n = (
        a.ravel().astype(np.float64)
        for a in np.meshgrid(p_opts, splits(fs.E), splits(fs.G), splits(fs.N), indexing="ij")
    )
    room = regions // g
    keep = room >= 1
    p, e, g, n, room = p[keep], e[keep], g[keep], n[keep], room[keep]
    rows_strip = np.minimum((e - 1) * fs.U + fs.R, e * fs.R)
    i_unit = n * rows_strip * layer.cols_touched * wid.act * g
    o_unit = n * e * fs.F * p * wid.psum * g
    w_unit = p * fs.R * fs.S * wid.weight_glb * g
    row, r, t = replicate(room, np.full_like(p, fs.C), _ceil(fs.M, p), i_unit, o_unit, w_unit, glb_capacity(spec))
    arr = _unique_rows(np.stack([n[row], p[row], e[row], r, t, g[row]], axis=1).astype(np.int64))
    return {k: arr[:, i] for i, k in enumerate(("n", "p", "e", "r", "t", "g"))}


def evaluate(
    spec: AcceleratorSpec,
    layer: Layer,
    wid: Widths,
    cand: dict[str, np.ndarray],
    ideal: bool = False,
) -> dict[str, np.ndarray]:
    """Counts for every candidate, in the form of simulator.row_stationary.evaluate (same keys and rules)."""
    fs = region_shape(spec, layer)
    cand = expand_policies(cand, ideal)
    n, p, e, r, t, g = (cand[k].astype(np.float64) for k in ("n", "p", "e", "r", "t", "g"))
    N, C, M, E, F, R, S, U, G = fs.N, fs.C, fs.M, fs.E, fs.F, fs.R, fs.S, fs.U, fs.G

    Pn, Pe = _ceil(N, n), _ceil(E, e)
    Pm, Pc, Pg = _ceil(M, p * t), _ceil(C, r), _ceil(G, g)
    passes = {"NE": Pn * Pe, "M": Pm, "C": Pc}
    rows_strip, halo = strips(E, e, Pe, R, U)
    ifmap_eff = layer.ifmap_touched / G
    weights = layer.weights / G
    ofmap = N * M * E * F
    macs = float(layer.macs)
    macs_group = macs / G
    taps = layer.Cg * layer.R * layer.S  # products summed into one output

    blk = {
        "weight": p * t * r * R * S * wid.weight_glb * g,
        "ifmap": n * r * rows_strip * layer.cols_touched * wid.act * g,
        "psum": n * e * F * p * t * wid.psum * g,
    }
    nest = pass_nest(spec, cand, blk, passes, ideal, resident=("weight",))
    gate = gated_share(spec, layer)
    macs_gated = macs * gate

    # Weights: one PE each, reloaded only when the nest evicts them.
    w_loads = weights * nest.array["weight"]
    w_dram = weight_dram_fetch(spec, nest, weights, w_loads, w_loads)
    ifmap_fetch = ifmap_eff * halo * nest.dram["ifmap"]
    ifmap_reads = ifmap_eff * halo * Pm  # each pass reads its strips once and multicasts them
    # Each PE of a stack receives every pixel it multiplies once (per output position) and uses it p times.
    ifmap_deliveries = macs_group / M * _ceil(M, p)
    # Each pass chains the taps of its r regions: one hop per product but the first of each chain.
    psum_hops = ofmap * np.maximum(taps - Pc, 0)

    acc = BitCounter(G)
    memory_bits(
        acc,
        spec,
        wid,
        rlc_factors(spec, layer, wid),
        ifmap_fetch=ifmap_fetch,
        ifmap_reads=ifmap_reads,
        w_dram=w_dram,
        w_reads=w_loads,
        ofmap=ofmap,
        psum_writes=Pc,
        spill=nest.dram["psum"],
    )
    put = acc.put
    wk_pe = wid.weight_pe_key
    put("noc.ifmap", ifmap_deliveries * wid.act)
    put(f"noc.{wk_pe}", w_loads * wid.weight_pe)
    put("noc.psum", psum_hops * wid.psum)
    if not spec.noc.multicast:
        put("glb.ifmap", (ifmap_deliveries - ifmap_reads) * wid.act)
    put("rf.ifmap", ifmap_deliveries * wid.act + macs_group * wid.act)
    put(f"rf.{wk_pe}", w_loads * wid.weight_pe + (macs_gated / G) * wid.weight_pe)
    # Every tap reads the psum that reached it (zero at the head of a chain) and writes it on with its
    # product added, also when a zero ifmap gates the MAC: the psum still has to move on.
    put("rf.psum", 2 * macs_group * wid.psum)

    active = R * S * r * t * g
    cycles = Pn * Pe * Pm * Pc * Pg * n * e * F * p
    codebook_bits(acc.bits, wid, n, active, macs_gated, w_dram * G)
    return finish(
        acc.bits,
        {k: cand[k] for k in ("n", "p", "e", "r", "t", "g", "order")},
        nest,
        macs=np.full_like(n, macs),
        macs_run=macs_gated,
        macs_reused=0.0,
        loads_weight=w_loads * G,
        loads_ifmap=ifmap_reads * G,
        active=active,
        cycles=cycles,
        passes=Pn * Pe * Pm * Pc * Pg,
    )


def check_fit(spec: AcceleratorSpec, layer: Layer, wid: Widths, m: WSMapping) -> list[str]:
    """Human-readable capacity violations of one mapping (empty when it fits)."""
    fs = region_shape(spec, layer)
    problems = [
        f"{name}={getattr(m, name)} must lie in [1, {limit}]"
        for name, limit in {"n": fs.N, "p": fs.M, "e": fs.E, "r": fs.C, "g": fs.G}.items()
        if not 1 <= getattr(m, name) <= limit
    ]
    if m.t < 1:
        problems.append("t must be >= 1")
    if not 0 <= m.order < len(ORDERS):
        problems.append(f"order={m.order} must lie in [0, {len(ORDERS) - 1}]")
    if problems:
        return problems
    if m.p > _stack_limit(spec, wid):
        problems.append(
            f"register file holds a stack of {_stack_limit(spec, wid)} filters (weight, psum in flight, one "
            f"ifmap pixel) but p={m.p}"
        )
    region = fs.R * fs.S
    if region * m.r * m.t * m.g > spec.pe_array.pes:
        problems.append(
            f"{m.r * m.t * m.g} regions of {fs.R}x{fs.S} PEs do not fit the {spec.pe_array.pes} PEs "
            f"(room for {spec.pe_array.pes // region})"
        )
    counts = evaluate(spec, layer, wid, mapping_arrays(m))
    if not bool(counts["valid"][0]):
        problems.append(f"global-buffer block ({m.b_ne},{m.b_m},{m.b_c}) passes does not fit {spec.glb.size_kb} kB")
    return problems
