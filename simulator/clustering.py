"""Give shape-only layers the numerics of a clustered model: cluster counts, vector length and bit widths.

This is how `clusterwatt simulate --clusters/--cluster-rate` and hardware sweeps study clustering before (or
without) training: it writes the same per-layer fields a compression trace carries.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

from simulator.workload import Clustering, Layer

VectorLength = int | Literal["S", "row"]


def vectors_of(layer: Layer, vector_length: int) -> int:
    """Number of clustered vectors in a layer's weights."""
    return layer.weights // vector_length


def resolve_vector_length(layer: Layer, vector_length: VectorLength) -> int:
    """'S' (or 'row') means Deep k-Means row clustering: vectors are filter rows of length S."""
    if vector_length in ("S", "row"):
        return layer.S
    v = int(vector_length)
    if v < 1:
        raise ValueError(f"vector_length must be >= 1 or 'S', got {vector_length!r}")
    return v


def _per_layer(values: Sequence[int] | int | None, n: int, option: str) -> list[int | None]:
    if values is None:
        return [None] * n
    if isinstance(values, int):
        return [values] * n
    vals = list(values)
    if len(vals) == 1:
        return vals * n
    if len(vals) != n:
        raise ValueError(f"{option} has {len(vals)} values but the network has {n} layers (give one, or one per layer)")
    return vals


def cluster_layers(
    layers: Sequence[Layer],
    clusters: Sequence[int] | int | None = None,
    cluster_rate: float | None = None,
    vector_length: VectorLength = 1,
    weight_bits: int | None = None,
    act_bits: int | None = None,
    codebook_bits: int | None = None,
    skip: Sequence[str] = (),
) -> list[Layer]:
    """Layers with clustering and bit widths applied.

    `clusters` gives K for every layer (or one per layer); `cluster_rate` gives K = ceil(rate x vectors),
    the Deep k-Means paper's convention; with neither, only the bit widths change. K is capped at the number of
    vectors, where sharing no longer saves anything. Layers named in `skip` keep their numerics.
    """
    if clusters is not None and cluster_rate is not None:
        raise ValueError("give clusters or cluster_rate, not both")
    if cluster_rate is not None and not 0 < cluster_rate <= 1:
        raise ValueError(f"cluster_rate must lie in (0, 1], got {cluster_rate}")
    ks = _per_layer(clusters, len(layers), "clusters")
    out = []
    for layer, k in zip(layers, ks, strict=True):
        nm = layer.numerics
        changes: dict[str, object] = {}
        if weight_bits is not None:
            changes["weight_bits"] = weight_bits
        if act_bits is not None:
            changes["act_bits"] = act_bits
        if layer.name not in skip and (k is not None or cluster_rate is not None):
            v = resolve_vector_length(layer, vector_length)
            if layer.weights % v:
                raise ValueError(f"layer {layer.name!r}: vector length {v} does not divide its {layer.weights} weights")
            n_vec = vectors_of(layer, v)
            if k is None:
                assert cluster_rate is not None
                k = max(1, math.ceil(cluster_rate * n_vec))
            if k < 1:
                raise ValueError(f"clusters must be >= 1, got {k}")
            changes["clustering"] = Clustering(clusters=min(k, n_vec), vector_length=v, codebook_bits=codebook_bits)
        out.append(layer.with_numerics(replace(nm, **changes)) if changes else layer)
    return out
