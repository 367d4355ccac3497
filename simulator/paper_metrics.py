"""The Deep k-Means paper's hardware metrics (Wu, Wang, Zhang, Wang, ICML 2018, Sec. 3), beside ours.

Computation is counted in 1-bit full adders: a D-long dot product of B_w-bit weights and B_x-bit activations
needs FA(D) = D*B_w*B_x + (D-1)*(B_x + B_w + ceil(log2 D) - 1) (Eq. 5). Representational cost is N_w*|W|*B_w for
weights and N_x*|X|*B_x for activations (Eqs. 6, 7), with |W| the distinct weights and N_w, N_x how often each
value is loaded. The paper turns bits into MAC units with one global-buffer factor and divides by the MACs; it
ignores index bits, DRAM and sparsity, which is where it parts from the hierarchy model.
"""

from __future__ import annotations

import math
from typing import Any

from simulator.bits import Widths
from simulator.results import LayerResult

GLOBAL_BUFFER_FACTOR = 6.0  # GLB access energy over one MAC (Eyeriss ISCA 2016 normalized table)
REFERENCE_BITS = 16  # the word and operand width that defines one MAC unit


def full_adders(d: int, weight_bits: int, act_bits: int) -> float:
    """Eq. 5: full adders of one D-long dot product (multipliers plus the adder tree)."""
    if d < 1:
        raise ValueError(f"dot-product length must be >= 1, got {d}")
    return float(d * weight_bits * act_bits + (d - 1) * (act_bits + weight_bits + math.ceil(math.log2(d)) - 1))


def mac_unit_full_adders(bits: int = REFERENCE_BITS) -> float:
    """Full adders of one reference MAC: a bits x bits multiplier plus its share of a wide adder tree."""
    return bits * bits + (2 * bits - 1)


def paper_metrics(result: LayerResult, wid: Widths, gb_factor: float = GLOBAL_BUFFER_FACTOR) -> dict[str, Any]:
    """compute_fa, weight_repr_bits, act_repr_bits and total_per_mac (plus the inputs they use) of one layer."""
    layer = result.layer
    c = layer.numerics.clustering
    d = layer.Cg * layer.R * layer.S
    outputs = layer.ofmap_size
    bw, bx = wid.weight_value, wid.act
    compute_fa = outputs * full_adders(d, bw, bx)
    weights = float(layer.weights)
    unique_w = float(min(c.used * c.vector_length, layer.weights)) if (c is not None and wid.clustered) else weights
    acts = float(layer.ifmap_touched)
    n_w = result.loads.get("weight", weights) / weights
    n_x = result.loads.get("ifmap", acts) / acts
    weight_repr = n_w * unique_w * bw
    act_repr = n_x * acts * bx
    compute_units = compute_fa / mac_unit_full_adders()
    repr_units = gb_factor * (weight_repr + act_repr) / REFERENCE_BITS
    return {
        "compute_fa": compute_fa,
        "weight_repr_bits": weight_repr,
        "act_repr_bits": act_repr,
        "total_per_mac": (compute_units + repr_units) / layer.macs,
        "unique_weights": unique_w,
        "loads_per_weight": n_w,
        "loads_per_act": n_x,
    }


def network_paper_total(layer_metrics: list[dict[str, Any]], macs: list[int]) -> dict[str, float]:
    """Network totals: sums of the bit and adder counts, MAC-weighted mean of total_per_mac."""
    total_macs = sum(macs)
    return {
        "compute_fa": sum(m["compute_fa"] for m in layer_metrics),
        "weight_repr_bits": sum(m["weight_repr_bits"] for m in layer_metrics),
        "act_repr_bits": sum(m["act_repr_bits"] for m in layer_metrics),
        "total_per_mac": sum(m["total_per_mac"] * k for m, k in zip(layer_metrics, macs, strict=True)) / total_macs,
    }
