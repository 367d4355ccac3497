"""No-local-reuse (NLR) dataflow: mapping parameters, candidate space and access counts.

After Chen, Emer, Sze (ISCA 2016, Sec. V-C) and DianNao (Chen et al. ASPLOS 2014): the PEs keep nothing
between MACs, so the register-file area goes to a larger global buffer and every operand comes from it. The
array is t x r lanes: t filters and r reduction lanes over the (c, r, s) taps of one output (and g groups),
DianNao's Tn x Ti. Every cycle each lane multiplies one ifmap pixel by one weight; a pixel read from the
buffer is multicast to the t filter lanes that use it, every lane reads its own weight, and the r products of
an output are summed by the array's adder tree (r - 1 hops) and accumulated into its psum in the global buffer
(a read and a write per step of r taps). No register file is read or written.

The model also evaluates n image lanes (a weight read multicast to n images, which DianNao does not do);
candidates() offers them only when asked (`image_lanes=True`, used by benchmarks/compare_dataflows.py).

A pass covers n images x e output rows, t filters and q channels; passes follow the (NE, M, C) loop nest and
global-buffer blocking shared with RS, with no data type resident in the array.
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
    "NLRMapping",
    "candidates",
    "check_fit",
    "evaluate",
    "mapping_arrays",
    "mapping_at",
    "with_policies",
]

PARAMS = ("n", "t", "r", "e", "q", "g")


@dataclass(frozen=True)
class NLRMapping(MappingRecord):
    """One no-local-reuse mapping.

    n image lanes (1 in DianNao's style), t filter lanes and r reduction lanes (g groups side by side); a pass
    covers e output rows and q input channels; `order`, the global-buffer block (b_ne, b_m, b_c) and stream_w as in RS.
    """

    n: int
    t: int
    r: int
    e: int
    q: int
    g: int = 1
    order: int = 0
    b_ne: int = 1
    b_m: int = 1
    b_c: int = 1
    stream_w: int = 1
    dataflow: ClassVar[str] = "nlr"

    def describe(self) -> str:
        return f"NLR lanes(n,t,r)=({self.n},{self.t},{self.r}) g={self.g} e={self.e} q={self.q} " + self.buffer_policy()


MAPPING = NLRMapping
# (loop order, block-growth priority, weights streamed) policies that, between them, were best for every
# layer of the built-in networks (batch 1, and 16 for AlexNet, VGG-16, ResNet-50, MobileNet) on
# eyeriss-isca16-nlr, eyeriss and edge-int8 under exhaustive search over POLICIES (see DEFAULT_POLICIES
# in simulator.row_stationary); the default search scores every candidate under these only.
DEFAULT_POLICIES: tuple[tuple[int, int, int], ...] = ((1, 2, 0), (0, 2, 1), (1, 0, 0), (1, 4, 1), (3, 2, 0))


def mapping_at(result: dict[str, np.ndarray], i: int) -> NLRMapping:
    """Candidate i of an evaluate() result as a mapping."""
    return rs.mapping_at(result, i, NLRMapping)


def candidates(spec: AcceleratorSpec, layer: Layer, wid: Widths, image_lanes: bool = False) -> dict[str, np.ndarray]:
    """Filter lanes t (and image lanes n if asked, else n = 1), strip heights e and group parallelism g; for
    each, the most channels q per pass that a one-pass global-buffer tile allows (and the next smaller
    balanced q), and the most balanced reduction lanes r over the q x R x S taps that the remaining PEs hold."""
    pes = spec.pe_array.pes
    N, C, M, E, F, R, S, U = layer.N, layer.Cg, layer.Mg, layer.E, layer.F, layer.R, layer.S, layer.U
    n_opts = splits(N, pes) if image_lanes else np.ones(1, dtype=np.int64)
    n, t, e, g = (
        a.ravel().astype(np.float64)
        for a in np.meshgrid(n_opts, splits(M, pes), splits(E), splits(layer.groups, pes), indexing="ij")
    )
    room = pes // (n * t * g)
    keep = room >= 1
    n, t, e, g, room = n[keep], t[keep], e[keep], g[keep], room[keep]

    cap = glb_capacity(spec)
    rows_strip = np.minimum((e - 1) * U + R, e * R)
    i_per_q = n * rows_strip * layer.cols_touched * wid.act * g
    w_per_q = t * R * S * wid.weight_glb * g
    o_tile = n * e * F * t * wid.psum * g
    q_top = snap(C, glb_room(cap, o_tile, i_per_q, w_per_q))
    out = []
    for q in (q_top, snap(C, q_top - 1)):
        r = snap(np.maximum(q, 1) * R * S, room)
        sel = (q >= 1) & (r >= 1)
        out.append(np.stack([n[sel], t[sel], r[sel], e[sel], q[sel], g[sel]], axis=1))
    arr = _unique_rows(np.concatenate(out).astype(np.int64))
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
    n, t, r, e, q, g = (cand[k].astype(np.float64) for k in PARAMS)
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

    Pn, Pe = _ceil(N, n), _ceil(E, e)
    Pm, Pc, Pg = _ceil(M, t), _ceil(C, q), _ceil(G, g)
    passes = {"NE": Pn * Pe, "M": Pm, "C": Pc}
    steps = _ceil(q * R * S, r)  # adder-tree steps per output and pass
    rows_strip, halo = strips(E, e, Pe, R, U)
    ifmap_eff = layer.ifmap_touched / G
    weights = layer.weights / G
    ofmap = N * M * E * F
    macs = float(layer.macs)
    macs_group = macs / G

    blk = {
        "weight": t * q * R * S * wid.weight_glb * g,
        "ifmap": n * q * rows_strip * layer.cols_touched * wid.act * g,
        "psum": n * e * F * t * wid.psum * g,
    }
    nest = pass_nest(spec, cand, blk, passes, ideal, resident=())
    gate = gated_share(spec, layer)
    macs_gated = macs * gate

    # Every MAC's operands come from the buffer: a pixel read serves the t filter lanes, a weight read the
    # n image lanes (one without image lanes); psums are read and written back once per adder-tree step.
    ifmap_reads = macs_group / M * Pm
    w_reads = macs_group / N * Pn
    w_loads = weights * passes["NE"]  # what a streamed one-pass weight slot takes from DRAM
    w_dram = weight_dram_fetch(spec, nest, weights, w_loads, w_reads)
    ifmap_fetch = ifmap_eff * halo * nest.dram["ifmap"]
    psum_writes = Pc * steps
    psum_hops = ofmap * np.maximum(layer.Cg * R * S - psum_writes, 0)

    acc = BitCounter(G)
    memory_bits(
        acc,
        spec,
        wid,
        rlc_factors(spec, layer, wid),
        ifmap_fetch=ifmap_fetch,
        ifmap_reads=ifmap_reads,
        w_dram=w_dram,
        w_reads=w_reads,
        ofmap=ofmap,
        psum_writes=psum_writes,
        spill=nest.dram["psum"],
    )
    put = acc.put
    wk_pe = wid.weight_pe_key
    put("noc.ifmap", macs_group * wid.act)
    put(f"noc.{wk_pe}", macs_group * wid.weight_pe)
    put("noc.psum", psum_hops * wid.psum)
    if not spec.noc.multicast:
        # Without multicast every lane's operand is its own buffer read.
        put("glb.ifmap", (macs_group - ifmap_reads) * wid.act)
        if spec.glb.holds_weights:
            put(f"glb.{wid.weight_glb_key}", (macs_group - w_reads) * wid.weight_glb)

    active = n * t * r * g
    cycles = Pn * Pe * Pm * Pc * Pg * e * F * steps
    codebook_bits(acc.bits, wid, n, active, macs_gated, w_dram * G)
    return finish(
        acc.bits,
        {k: cand[k] for k in (*PARAMS, "order")},
        nest,
        macs=np.full_like(n, macs),
        macs_run=macs_gated,
        macs_reused=0.0,
        loads_weight=w_reads * G,
        loads_ifmap=ifmap_reads * G,
        active=active,
        cycles=cycles,
        passes=Pn * Pe * Pm * Pc * Pg,
    )


def check_fit(spec: AcceleratorSpec, layer: Layer, wid: Widths, m: NLRMapping) -> list[str]:
    """Human-readable capacity violations of one mapping (empty when it fits); NLR uses no register file."""
    limits = {"n": layer.N, "t": layer.Mg, "e": layer.E, "q": layer.Cg, "g": layer.groups}
    problems = [
        f"{name}={getattr(m, name)} must lie in [1, {limit}]"
        for name, limit in limits.items()
        if not 1 <= getattr(m, name) <= limit
    ]
    if not 1 <= m.r <= m.q * layer.R * layer.S:
        problems.append(f"r={m.r} must lie in [1, q*R*S={m.q * layer.R * layer.S}]")
    if not 0 <= m.order < len(ORDERS):
        problems.append(f"order={m.order} must lie in [0, {len(ORDERS) - 1}]")
    if problems:
        return problems
    lanes = m.n * m.t * m.r * m.g
    if lanes > spec.pe_array.pes:
        problems.append(f"{lanes} lanes (n*t*r*g) do not fit the {spec.pe_array.pes} PEs")
    counts = evaluate(spec, layer, wid, mapping_arrays(m))
    if not bool(counts["valid"][0]):
        problems.append(f"global-buffer block ({m.b_ne},{m.b_m},{m.b_c}) passes does not fit {spec.glb.size_kb} kB")
    return problems
