"""Energy lower bound of a layer: every datum crosses each level once, each MAC reads its operands from the
register file once and updates its accumulator once, and no reuse is lost anywhere."""

from __future__ import annotations

from accelerators.spec import AcceleratorSpec
from simulator.bits import Widths, gated_share, rlc_factors
from simulator.energy import energy_of
from simulator.workload import Layer


def compulsory_bits(spec: AcceleratorSpec, layer: Layer, wid: Widths) -> tuple[dict[str, float], float]:
    """(bits per 'level.data', gated MACs) of the ideal schedule on this hardware."""
    rlc_in, rlc_out = rlc_factors(spec, layer, wid)
    gate = gated_share(spec, layer)
    i, w, o = float(layer.ifmap_touched), float(layer.weights), float(layer.ofmap_size)
    macs = float(layer.macs)
    macs_gated = macs * gate
    wk_dram, wk_glb, wk_pe = wid.weight_dram_key, wid.weight_glb_key, wid.weight_pe_key
    bits: dict[str, float] = {}

    def put(key: str, value: float) -> None:
        bits[key] = bits.get(key, 0.0) + value

    put("dram.ifmap", i * wid.act * rlc_in)
    put(f"dram.{wk_dram}", w * wid.weight_dram)
    put("dram.psum", o * wid.act * rlc_out)
    put("glb.ifmap", 2 * i * wid.act)
    if spec.glb.holds_weights:
        put(f"glb.{wk_glb}", 2 * w * wid.weight_glb)
    put("glb.psum", 2 * o * wid.psum)
    put("noc.ifmap", i * wid.act)
    put(f"noc.{wk_pe}", w * wid.weight_pe)
    put("rf.ifmap", i * wid.act + macs * wid.act)
    put(f"rf.{wk_pe}", w * wid.weight_pe + macs_gated * wid.weight_pe)
    put("rf.psum", 2 * macs_gated * wid.psum)
    if wid.clustered:
        cb = wid.codebook_values * wid.codebook_bits
        put("dram.codebook", cb)
        if wid.decode_in_pe:
            put("glb.codebook", 2 * cb)
            put("noc.codebook", cb)
            put("rf.codebook", cb + macs_gated * wid.codebook_bits)
        else:
            put("glb.codebook", cb + w * wid.codebook_bits)
    return bits, macs_gated


def lower_bound_energy(spec: AcceleratorSpec, layer: Layer, wid: Widths) -> float:
    bits, macs_gated = compulsory_bits(spec, layer, wid)
    return float(energy_of(spec, wid, bits, macs_gated)["total"])
