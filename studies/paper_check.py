"""Reproduce the Deep k-Means paper's consistency check: its energy metric against a hierarchy model.

Wu et al. (ICML 2018, Sec. 5) report R^2 = 0.9931 (AlexNet) and 0.9675 (GoogLeNet) between their metric and the
MIT energy-estimation tool (Yang, Chen, Sze, CVPR 2017) across cluster rates of Deep k-Means row clustering.
Here the hierarchy model is clusterwatt's own row-stationary energy.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from accelerators import AcceleratorSpec
from simulator.clustering import VectorLength, cluster_layers
from simulator.simulate import simulate
from simulator.workload import Layer

PAPER_RATES = {
    "alexnet": (0.5, 0.3, 0.25, 0.2, 0.15, 0.1, 0.05, 0.01),
    "googlenet": (0.33, 0.18, 0.05, 0.012),
}
PAPER_R2 = {"alexnet": 0.9931, "googlenet": 0.9675}


def conv_layers(layers: Sequence[Layer]) -> list[Layer]:
    """The paper clusters convolution layers; fully connected layers keep their weights."""
    return [x for x in layers if x.kind == "conv"]


def r_squared(x: Sequence[float], y: Sequence[float]) -> float:
    """Coefficient of determination of the least-squares line through (x, y): the squared Pearson r."""
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(xa) < 3 or np.std(xa) == 0 or np.std(ya) == 0:
        return float("nan")
    return float(np.corrcoef(xa, ya)[0, 1] ** 2)


def paper_check(
    spec: AcceleratorSpec,
    layers: Sequence[Layer],
    rates: Sequence[float],
    vector_length: VectorLength = "S",
    name: str = "custom",
) -> tuple[pd.DataFrame, float]:
    """Per cluster rate: the paper's total metric and the hierarchy energy (and its parts); with R^2."""
    convs = conv_layers(layers)
    rows = []
    for rate in rates:
        result = simulate(spec, cluster_layers(convs, cluster_rate=rate, vector_length=vector_length), name=name)
        total = result.total()
        paper = total["paper_metrics"]
        energy = total["energy"]
        rows.append(
            {
                "cluster_rate": rate,
                "paper_total": paper["total_per_mac"] * total["macs"],
                "paper_per_mac": paper["total_per_mac"],
                "hierarchy_energy": energy["total"],
                "hierarchy_per_mac": energy["per_mac"],
                "dram_share": energy["by_level"]["dram"] / energy["total"],
                "index_energy": energy["by_data"]["index"],
                "codebook_energy": energy["by_data"]["codebook"],
                "weight_repr_bits": paper["weight_repr_bits"],
                "act_repr_bits": paper["act_repr_bits"],
            }
        )
    df = pd.DataFrame(rows)
    return df, r_squared(df["paper_total"], df["hierarchy_energy"])


def plot_paper_check(df: pd.DataFrame, r2: float, network: str, path: Path) -> list[Path]:
    """Both metrics, each normalized to its value at the largest cluster rate, against the cluster rate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = df.sort_values("cluster_rate")
    ref = d.iloc[-1]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(d["cluster_rate"], d["paper_total"] / ref["paper_total"], "o-", label="Deep k-Means paper metric")
    ax.plot(
        d["cluster_rate"], d["hierarchy_energy"] / ref["hierarchy_energy"], "s--", label="clusterwatt hierarchy energy"
    )
    ax.set_xlabel("cluster rate (clusters / filter rows)")
    ax.set_ylabel(f"energy relative to rate {ref['cluster_rate']:g}")
    ax.set_title(f"{network}: paper metric vs hierarchy model (R² = {r2:.4f})")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out = []
    for suffix in (".png", ".svg"):
        target = path.with_suffix(suffix)
        fig.savefig(target, dpi=150)
        out.append(target)
    plt.close(fig)
    return out
