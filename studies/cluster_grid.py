"""A quick grid of cluster counts x bit widths on one network and accelerator: how energy moves with K and bits."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from accelerators import AcceleratorSpec
from simulator.clustering import VectorLength, cluster_layers
from simulator.simulate import simulate
from simulator.workload import Layer


def cluster_bit_grid(
    spec: AcceleratorSpec,
    layers: Sequence[Layer],
    clusters: Sequence[int | None],
    bits: Sequence[int],
    vector_length: VectorLength = 1,
    act_bits: int | None = None,
    name: str = "custom",
) -> pd.DataFrame:
    """One TOTAL row per (K, bits): K None is the unclustered model at `bits`-bit weights; otherwise the
    centroids are `bits` wide and the weights travel as ceil(log2 K)-bit indices."""
    rows = []
    for b in bits:
        for k in clusters:
            clustered = cluster_layers(
                layers, clusters=k, vector_length=vector_length, weight_bits=b, act_bits=act_bits, codebook_bits=b
            )
            result = simulate(spec, clustered, name=name)
            row = result.total_row()
            row.update({"clusters": k if k is not None else 0, "bits": b, "network": name, "accelerator": spec.name})
            rows.append(row)
    df = pd.DataFrame(rows)
    base = df[df["clusters"] == 0].set_index("bits")["energy"] if (df["clusters"] == 0).any() else None
    if base is not None:
        df["energy_vs_unclustered"] = df["energy"] / df["bits"].map(base)
    return df
