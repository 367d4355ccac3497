"""Results of a simulation: per-layer records that add up to network totals, as dicts, JSON and DataFrames."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from simulator.energy import DATA, LEVELS, split_by_data, split_by_level
from simulator.workload import Layer


@dataclass(frozen=True)
class LayerResult:
    """Everything the model says about one layer under one mapping."""

    layer: Layer
    mapping: Any
    unit: str
    bits: dict[str, float]
    energy: dict[str, float]
    macs_effective: float
    active_pes: int
    total_pes: int
    cycles: float
    passes: int
    lower_bound: float
    loads: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.layer.name

    @property
    def macs(self) -> int:
        return self.layer.macs

    @property
    def total_energy(self) -> float:
        return self.energy["total"]

    @property
    def utilization(self) -> float:
        """MACs over PE-cycles available while the layer computes."""
        return self.macs / (self.total_pes * self.cycles) if self.cycles else 0.0

    def bytes_at(self, level: str) -> float:
        return sum(v for k, v in self.bits.items() if k.startswith(level + ".")) / 8.0

    @property
    def dram_bytes(self) -> float:
        return self.bytes_at("dram")

    @property
    def glb_bytes(self) -> float:
        return self.bytes_at("glb")

    @property
    def by_level(self) -> dict[str, float]:
        return split_by_level(self.energy)

    @property
    def by_data(self) -> dict[str, float]:
        return split_by_data(self.energy)

    @property
    def bound_ratio(self) -> float:
        return self.total_energy / self.lower_bound if self.lower_bound else float("nan")

    def energy_dict(self) -> dict[str, Any]:
        return {
            "total": self.total_energy,
            "unit": self.unit,
            "per_mac": self.total_energy / self.macs,
            "by_level": self.by_level,
            "by_data": self.by_data,
        }

    def to_dict(self) -> dict[str, Any]:
        mapping = self.mapping.to_dict() if hasattr(self.mapping, "to_dict") else self.mapping
        return {
            "name": self.name,
            "shape": self.layer.shape_str(),
            "macs": self.macs,
            "macs_effective": self.macs_effective,
            "active_pes": self.active_pes,
            "utilization": self.utilization,
            "cycles": self.cycles,
            "passes": self.passes,
            "dram_bytes": self.dram_bytes,
            "glb_bytes": self.glb_bytes,
            "energy": self.energy_dict(),
            "lower_bound": {"energy": self.lower_bound, "ratio": self.bound_ratio},
            "mapping": mapping,
            "bits": dict(self.bits),
            **self.extra,
        }

    def row(self) -> dict[str, Any]:
        """One flat DataFrame row: columns use `a__b` paths (energy__by_level__dram, ...)."""
        row: dict[str, Any] = {
            "layer": self.name,
            "macs": self.macs,
            "macs_effective": self.macs_effective,
            "active_pes": self.active_pes,
            "utilization": self.utilization,
            "cycles": self.cycles,
            "passes": self.passes,
            "dram_bytes": self.dram_bytes,
            "glb_bytes": self.glb_bytes,
            "energy": self.total_energy,
            "energy_unit": self.unit,
            "energy_per_mac": self.total_energy / self.macs,
            "lower_bound": self.lower_bound,
            "bound_ratio": self.bound_ratio,
        }
        for level, value in self.by_level.items():
            row[f"energy__by_level__{level}"] = value
        for data, value in self.by_data.items():
            row[f"energy__by_data__{data}"] = value
        for key, value in self.extra.items():
            if isinstance(value, dict):
                for sub, v in value.items():
                    if isinstance(v, int | float):
                        row[f"{key}__{sub}"] = v
            elif isinstance(value, int | float | str):
                row[key] = value
        return row


@dataclass(frozen=True)
class NetworkResult:
    """Per-layer results of one network on one accelerator, with totals."""

    accelerator: str
    network: str
    dataflow: str
    batch: int
    unit: str
    layers: tuple[LayerResult, ...]
    extra: dict[str, Any] = field(default_factory=dict)

    def total(self) -> dict[str, Any]:
        ls = self.layers
        by_level = {k: sum(r.by_level[k] for r in ls) for k in LEVELS}
        by_data = {k: sum(r.by_data[k] for r in ls) for k in DATA}
        total_energy = sum(r.total_energy for r in ls)
        macs = sum(r.macs for r in ls)
        bound = sum(r.lower_bound for r in ls)
        cycles = sum(r.cycles for r in ls)
        pes = ls[0].total_pes if ls else 0
        return {
            "macs": macs,
            "macs_effective": sum(r.macs_effective for r in ls),
            "dram_bytes": sum(r.dram_bytes for r in ls),
            "glb_bytes": sum(r.glb_bytes for r in ls),
            "cycles": cycles,
            "utilization": macs / (pes * cycles) if cycles else 0.0,
            "energy": {
                "total": total_energy,
                "unit": self.unit,
                "per_mac": total_energy / macs if macs else 0.0,
                "by_level": by_level,
                "by_data": by_data,
            },
            "lower_bound": {"energy": bound, "ratio": total_energy / bound if bound else float("nan")},
            **self.extra.get("total", {}),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "accelerator": self.accelerator,
            "network": self.network,
            "dataflow": self.dataflow,
            "batch": self.batch,
            "objective": self.extra.get("objective"),
            "layers": [r.to_dict() for r in self.layers],
            "total": self.total(),
        }

    def total_row(self) -> dict[str, Any]:
        """The totals as one flat row with the same column names as the per-layer rows (layer = 'TOTAL')."""
        t = self.total()
        e = t["energy"]
        row: dict[str, Any] = {
            "layer": "TOTAL",
            "macs": t["macs"],
            "macs_effective": t["macs_effective"],
            "utilization": t["utilization"],
            "cycles": t["cycles"],
            "dram_bytes": t["dram_bytes"],
            "glb_bytes": t["glb_bytes"],
            "energy": e["total"],
            "energy_unit": self.unit,
            "energy_per_mac": e["per_mac"],
            "lower_bound": t["lower_bound"]["energy"],
            "bound_ratio": t["lower_bound"]["ratio"],
        }
        for level, value in e["by_level"].items():
            row[f"energy__by_level__{level}"] = value
        for data, value in e["by_data"].items():
            row[f"energy__by_data__{data}"] = value
        for key, value in t.items():
            if key in row or key in ("energy", "lower_bound"):
                continue
            if isinstance(value, dict):
                row.update({f"{key}__{k}": v for k, v in value.items() if isinstance(v, int | float)})
            elif isinstance(value, int | float | str):
                row[key] = value
        return row

    def to_dataframe(self, include_total: bool = False) -> pd.DataFrame:
        """One row per layer (plus a TOTAL row on request), columns as in LayerResult.row(), plus the run's
        identity."""
        rows = [r.row() for r in self.layers]
        if include_total:
            rows.append(self.total_row())
        df = pd.DataFrame(rows)
        df.insert(0, "accelerator", self.accelerator)
        df.insert(1, "network", self.network)
        df.insert(2, "dataflow", self.dataflow)
        df.insert(3, "batch", self.batch)
        return df
