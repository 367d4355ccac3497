"""Output-stationary (OS) dataflow: mapping parameters, candidate space and access counts.

After Chen, Emer, Sze (ISCA 2016, Sec. V-B) and ShiDianNao (Du et al. ISCA 2015): each PE accumulates one
output in its register file until the whole reduction over C x R x S is done, so psums never move while they
are being accumulated; the array processes a region of the 4-D ofmap at a time. Here the region is tiles of
e x f output pixels, one tile per (image, filter) pair for n images and t filters (and g groups). Every step
of the reduction (one channel c and tap r, s) multicasts one weight per filter to the n x e x f PEs that use
it and one ifmap pixel to every PE; pixels shared by neighbouring outputs travel PE to PE (ShiDianNao's
inter-PE propagation), so the global buffer reads each pixel of a tile once per pass and the t filter tiles
share it by multicast. No operand is reused inside a PE: each MAC takes a fresh weight and pixel.

The paper's three OS variants are shapes of this region, and `variant()` names the one a mapping has: OS_A
(SOC-MOP: one output channel, many pixels; t = 1), OS_C (MOC-SOP: many channels, one pixel; e = f = 1) and
OS_B (MOC-MOP: both). The search is free to pick any; compare_dataflows.py also reports each on its own.

Passes follow the (NE, M, C) loop nest and global-buffer blocking shared with RS, NE covering images, output
rows and output columns; psums are the array-resident type: they stay in the PEs across channel passes as
long as only C turns beneath their loops, and go to the global buffer (or DRAM) otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from accelerators.spec import AcceleratorSpec
from simulator import row_stationary as rs
from simulator.bits import Widths, gated_share, rlc_factors
from simulator.loopnest import ORDERS
from simulator.row_stationary import (
    POLICIES,
    BitCounter,
    MappingRecord,
    _ceil,
    _unique_rows,
    codebook_bits,
    expand_policies,
    finish,
    glb_capacity,
    glb_room,
    mapping_arrays,
    memory_bits,
    pass_nest,
    snap,
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
    "OSMapping",
    "candidates",
    "check_fit",
    "evaluate",
    "mapping_arrays",
    "mapping_at",
    "variant",
    "with_policies",
]

PARAMS = ("n", "q", "e", "f", "t", "g")


@dataclass(frozen=True)
class OSMapping(MappingRecord):
    """One output-stationary mapping.

    Tiles of e x f PEs (one output each) cover e output rows and f output columns of one image and one
    filter; n x t tiles (and g groups) side by side for n images and t filters; q input channels per pass;
    `order`, the global-buffer block (b_ne, b_m, b_c) and stream_w as in RS.
    """

    n: int
    q: int
    e: int
    f: int
    t: int
    g: int = 1
    order: int = 0
    b_ne: int = 1
    b_m: int = 1
    b_c: int = 1
    stream_w: int = 1
    dataflow: ClassVar[str] = "os"

    def describe(self) -> str:
        return (
            f"OS_{variant(self.t, self.e * self.f)} n={self.n} q={self.q} e={self.e} f={self.f} t={self.t} "
            f"g={self.g} " + self.buffer_policy()
        )


MAPPING = OSMapping
# (loop order, block-growth priority, weights streamed) policies that, between them, were best for every
# layer of the built-in networks (batch 1, and 16 for AlexNet, VGG-16, ResNet-50, MobileNet) on
# eyeriss-isca16-os, eyeriss and edge-int8 under exhaustive search over POLICIES (see DEFAULT_POLICIES
# in simulator.row_stationary); the default search scores every candidate under these only.
DEFAULT_POLICIES: tuple[tuple[int, int, int], ...] = ((1, 2, 0), (1, 0, 0), (2, 2, 0), (0, 0, 1), (0, 1, 1))


def variant(filters: Any, pixels: Any) -> Any:
    """ISCA 2016 OS variant of a pass with `filters` output channels and `pixels` output pixels per image
    plane: 'A' (SOC-MOP, one channel), 'C' (MOC-SOP, one pixel) or 'B' (MOC-MOP); vectorised."""
    return np.where(np.asarray(filters) == 1, "A", np.where(np.asarray(pixels) == 1, "C", "B"))[()]


def mapping_at(result: dict[str, np.ndarray], i: int) -> OSMapping:
    """Candidate i of an evaluate() result as a mapping."""
    return rs.mapping_at(result, i, OSMapping)


def rf_problems(spec: AcceleratorSpec, wid: Widths) -> list[str]:
    """Why a PE's register file cannot hold one psum, one weight and one ifmap pixel (empty when it can)."""
    need = {"psum": wid.psum, "weight": wid.weight_pe, "ifmap": wid.act}
    rf = spec.rf
    if rf.shared is not None:
        total = sum(need.values())
        return [] if total <= rf.shared.bits else [f"register file holds {rf.shared.bits} bits but needs {total:.0f}"]
    return [
        f"{label} scratchpad holds {getattr(rf, label).bits} bits but needs {bits:.0f}"
        for label, bits in need.items()
        if bits > getattr(rf, label).bits
    ]


def candidates(spec: AcceleratorSpec, layer: Layer, wid: Widths) -> dict[str, np.ndarray]:
    """Tiles (e, f), images n and group parallelism g; for each, every balanced number of filter tiles t the
    array holds, with the most channels q per pass that a one-pass global-buffer tile allows."""
    rows, cols = spec.pe_array.rows, spec.pe_array.cols
    N, C, M, E, F, R, S, U = layer.N, layer.Cg, layer.Mg, layer.E, layer.F, layer.R, layer.S, layer.U
    if rf_problems(spec, wid):
        return {k: np.zeros(0, dtype=np.int64) for k in PARAMS}
    ef = np.array([(e, f) for e in splits(E, rows) for f in splits(F, cols)], dtype=np.int64)
    ti, n, g = (a.ravel() for a in np.meshgrid(np.arange(len(ef)), splits(N), splits(layer.groups)))
    e, f = ef[ti, 0].astype(np.float64), ef[ti, 1].astype(np.float64)
    n, g = n.astype(np.float64), g.astype(np.float64)
    room = (rows // e) * (cols // f) // (n * g)
    keep = room >= 1
    n, e, f, g, room = n[keep], e[keep], f[keep], g[keep], room[keep]

    # Every balanced t up to the room, one row each.
    width = int(room.max()) if len(room) else 0
    grid = np.broadcast_to(np.arange(1, width + 1), (len(room), width))
    row = np.broadcast_to(np.arange(len(room))[:, None], grid.shape)
    ok = grid <= room[:, None]
    row = row[ok]
    t = snap(M, grid[ok])

    # Most channels per pass that fit the buffer beside the pass's psums (and its weight partition).
    cap = glb_capacity(spec)
    rows_strip, _ = strips(E, e[row], _ceil(E, e[row]), R, U)
    cols_strip, _ = strips(F, f[row], _ceil(F, f[row]), S, U)
    i_per_q = n[row] * rows_strip * cols_strip * wid.act * g[row]
    w_per_q = t * R * S * wid.weight_glb * g[row]
    o_tile = n[row] * e[row] * f[row] * t * wid.psum * g[row]
    q = snap(C, glb_room(cap, o_tile, i_per_q, w_per_q))
    sel = q >= 1
    columns = [n[row], q, e[row], f[row], t, g[row]]
    arr = _unique_rows(np.stack([c[sel] for c in columns], axis=1).astype(np.int64))
    return {k: arr[:, i] for i, k in enumerate(PARAMS)}


def evaluate(
    spec: AcceleratorSpec,
    layer: Layer,
    wid: Widths,
    cand: dict[str, np.ndarray],
    ideal: bool = False,
) -> dict[str, np.ndarray]:
    """Counts for every candidate, in the form of simulator.row_stationary.evaluate (same keys and rules)."""
    cand = expand_policies(cand, ideal)
    n, q, e, f, t, g = (cand[k].astype(np.float64) for k in PARAMS)
    N, C, M, E, F, R, S, U, G = (
        layer.N,
        layer.Cg,
        layer.Mg,
        layer.E,
        layer.F,
        layer.R,
        layer.S,
        layer.U,
        layer.groups,
    )

    Pn, Pe, Pf = _ceil(N, n), _ceil(E, e), _ceil(F, f)
    Pm, Pc, Pg = _ceil(M, t), _ceil(C, q), _ceil(G, g)
    passes = {"NE": Pn * Pe * Pf, "M": Pm, "C": Pc}
    rows_strip, halo_rows = strips(E, e, Pe, R, U)
    cols_strip, halo_cols = strips(F, f, Pf, S, U)
    halo = halo_rows * halo_cols
    ifmap_eff = layer.ifmap_touched / G
    weights = layer.weights / G
    ofmap = N * M * E * F
    macs = float(layer.macs)
    macs_group = macs / G

    blk = {
        "weight": t * q * R * S * wid.weight_glb * g,
        "ifmap": n * q * rows_strip * cols_strip * wid.act * g,
        "psum": n * e * f * t * wid.psum * g,
    }
    nest = pass_nest(spec, cand, blk, passes, ideal, resident=("psum",))
    gate = gated_share(spec, layer)
    macs_gated = macs * gate

    # Weights: every NE pass reads its filters once and multicasts them over its images and pixels.
    w_loads = weights * passes["NE"]
    w_dram = weight_dram_fetch(spec, nest, weights, w_loads, w_loads)
    ifmap_fetch = ifmap_eff * halo * nest.dram["ifmap"]
    ifmap_reads = ifmap_eff * halo * Pm  # each pass reads its tiles once; neighbours pass pixels on
    # One output per PE: every MAC takes a delivered weight and a delivered pixel.
    deliveries = macs_group

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
        psum_writes=nest.array["psum"],
        spill=nest.dram["psum"],
    )
    put = acc.put
    wk_pe = wid.weight_pe_key
    put("noc.ifmap", deliveries * wid.act)
    put(f"noc.{wk_pe}", deliveries * wid.weight_pe)
    if not spec.noc.multicast:
        # Filter tiles fetch their own pixels; every weight delivery is its own read.
        put("glb.ifmap", ifmap_reads * (t - 1) * wid.act)
        if spec.glb.holds_weights:
            put(f"glb.{wid.weight_glb_key}", (deliveries - w_loads) * wid.weight_glb)
    put("rf.ifmap", (deliveries + macs_group) * wid.act)
    put(f"rf.{wk_pe}", (deliveries + macs_gated / G) * wid.weight_pe)
    put("rf.psum", 2 * (macs_gated / G) * wid.psum)

    active = n * e * f * t * g
    cycles = Pn * Pe * Pf * Pm * Pc * Pg * q * R * S
    codebook_bits(acc.bits, wid, n, active, macs_gated, w_dram * G)
    return finish(
        acc.bits,
        {k: cand[k] for k in (*PARAMS, "order")},
        nest,
        macs=np.full_like(n, macs),
        macs_run=macs_gated,
        macs_reused=0.0,
        loads_weight=w_loads * G,
        loads_ifmap=ifmap_reads * G,
        active=active,
        cycles=cycles,
        passes=Pn * Pe * Pf * Pm * Pc * Pg,
    )


def check_fit(spec: AcceleratorSpec, layer: Layer, wid: Widths, m: OSMapping) -> list[str]:
    """Human-readable capacity violations of one mapping (empty when it fits)."""
    limits = {"n": layer.N, "q": layer.Cg, "e": layer.E, "f": layer.F, "t": layer.Mg, "g": layer.groups}
    problems = [
        f"{name}={getattr(m, name)} must lie in [1, {limit}]"
        for name, limit in limits.items()
        if not 1 <= getattr(m, name) <= limit
    ]
    if not 0 <= m.order < len(ORDERS):
        problems.append(f"order={m.order} must lie in [0, {len(ORDERS) - 1}]")
    if problems:
        return problems
    problems.extend(rf_problems(spec, wid))
    rows, cols = spec.pe_array.rows, spec.pe_array.cols
    tiles = (rows // m.e) * (cols // m.f) if m.e <= rows and m.f <= cols else 0
    if tiles < m.n * m.t * m.g:
        problems.append(
            f"{m.n * m.t * m.g} tiles of {m.e}x{m.f} PEs do not fit the {rows}x{cols} array (room for {tiles})"
        )
    counts = evaluate(spec, layer, wid, mapping_arrays(m))
    if not bool(counts["valid"][0]):
        problems.append(f"global-buffer block ({m.b_ne},{m.b_m},{m.b_c}) passes does not fit {spec.glb.size_kb} kB")
    return problems
