"""The equal-area dataflow comparison of Chen, Emer, Sze, ISCA 2016 (Sec. VI): AlexNet at batch 16 on 256 PEs.

Each dataflow runs on its preset (eyeriss-isca16 for RS, eyeriss-isca16-{ws,os,nlr}: the same area with the
storage split the dataflow uses; docs/dataflows.md). For the CONV and the FC layers the script prints the
energy per MAC, its split by level and the ratio to RS, beside the paper's finding (RS 1.4x-2.5x more
efficient than the other dataflows on CONV layers, at least 1.3x on FC layers); then each OS variant on its
own, each layer, and what other storage splits (a register file for a single WS weight, no reallocation for
OS, other register-file areas for NLR) would change.

Run: python benchmarks/compare_dataflows.py [--exhaustive] [--batch N] [--json]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

import numpy as np

from accelerators import AcceleratorSpec, load_spec, with_overrides
from simulator import output_stationary
from simulator.bits import layer_widths
from simulator.energy import LEVELS
from simulator.mapper import DATAFLOWS, _best_of, _result, search
from simulator.networks import get_network
from simulator.results import LayerResult
from simulator.workload import Layer

DATAFLOW_ORDER = ("rs", "ws", "os", "nlr")
PRESETS = {"rs": "eyeriss-isca16", "ws": "eyeriss-isca16-ws", "os": "eyeriss-isca16-os", "nlr": "eyeriss-isca16-nlr"}
# Chen, Emer, Sze, ISCA 2016, Sec. VI-B: how much more energy efficient RS is than the other dataflows.
PAPER = {"conv": "1.4x-2.5x", "fc": ">= 1.3x"}
RF_AREA_RATIOS = (1.0, 2.0, 4.0, 7.0)  # area of a register-file byte in global-buffer bytes (presets: 2)


def equal_area_glb_kb(rf_bytes_per_pe: float, rf_area_ratio: float = 2.0) -> float:
    """Global buffer that keeps the area of eyeriss-isca16 (256 PEs x 512 B RF + 128 kB) when each PE has
    `rf_bytes_per_pe` of register file and a register-file byte takes `rf_area_ratio` buffer bytes of area."""
    return 128 + rf_area_ratio * 256 * (512 - rf_bytes_per_pe) / 1024


def best_among(
    spec: AcceleratorSpec,
    layer: Layer,
    dataflow: str,
    full: bool,
    keep: Callable[[dict[str, np.ndarray]], np.ndarray] = lambda cand: np.ones(len(cand["n"]), dtype=bool),
    **options: bool,
) -> LayerResult | None:
    """The least-energy mapping among the candidates (built with `options`) that `keep` selects; None when
    none fits."""
    model = DATAFLOWS[dataflow]
    wid = layer_widths(spec, layer)
    cand = model.candidates(spec, layer, wid, **options)
    cand = {k: v[keep(cand)] for k, v in cand.items()}
    if len(cand["n"]) == 0:
        return None
    ideal = model.evaluate(spec, layer, wid, cand, ideal=True)
    cand = {k: v[ideal["valid"]] for k, v in cand.items()}
    policies = model.POLICIES if full else model.DEFAULT_POLICIES
    best = _best_of(spec, layer, wid, model, cand, policies, "energy", None)
    return None if best is None else _result(spec, layer, wid, *best, model)


def os_variant(name: str) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
    return lambda cand: output_stationary.variant(cand["t"], cand["e"] * cand["f"]) == name


def summary(results: list[LayerResult]) -> dict[str, float]:
    """Energy per MAC in total and by level over a list of layers."""
    macs = sum(r.macs for r in results)
    by_level = {k: sum(r.by_level[k] for r in results) / macs for k in LEVELS}
    return {"per_mac": sum(r.total_energy for r in results) / macs, **by_level}


def main(batch: int = 16, exhaustive: bool = False) -> dict:
    layers = get_network("alexnet", batch)
    kinds = {"conv": [x for x in layers if x.kind == "conv"], "fc": [x for x in layers if x.kind == "fc"]}
    specs = {d: load_spec(p) for d, p in PRESETS.items()}
    results = {d: {x.name: search(specs[d], x, d, exhaustive=exhaustive) for x in layers} for d in DATAFLOW_ORDER}
    out: dict = {"batch": batch, "exhaustive": exhaustive, "presets": PRESETS, "paper_rs_advantage": PAPER}
    for kind, group in kinds.items():
        rows = {d: summary([results[d][x.name] for x in group]) for d in DATAFLOW_ORDER}
        for variant in "ABC":
            found = [best_among(specs["os"], x, "os", exhaustive, os_variant(variant)) for x in group]
            if all(r is not None for r in found):
                rows[f"os_{variant.lower()}"] = summary(found)  # type: ignore[arg-type]
        for row in rows.values():
            row["vs_rs"] = row["per_mac"] / rows["rs"]["per_mac"]
        out[kind] = rows
    out["layers"] = {
        x.name: {d: results[d][x.name].total_energy / x.macs for d in DATAFLOW_ORDER}
        | {f"{d}_mapping": results[d][x.name].mapping.describe() for d in DATAFLOW_ORDER}
        for x in layers
    }
    # The storage split and NLR's unicast weights are assumptions (docs/dataflows.md): what they change.
    lanes = [best_among(specs["nlr"], x, "nlr", exhaustive, image_lanes=True) for x in layers]
    out["assumptions"] = {
        "NLR with image lanes (weights multicast)": {
            kind: summary([r for r in lanes if r is not None and r.layer.kind == kind])["per_mac"]
            / out[kind]["rs"]["per_mac"]
            for kind in kinds
        }
    }
    variants = {
        "WS, one weight per PE (6 B RF)": (
            "ws",
            with_overrides(specs["ws"], {"rf__shared__words": 3, "glb__size_kb": equal_area_glb_kb(6)}),
        ),
        "OS, no reallocation (512 B RF, 128 kB)": ("os", with_overrides(specs["rs"], {"dataflows": ["os"]})),
        **{
            f"NLR, RF byte = {ratio:g} buffer bytes ({equal_area_glb_kb(0, ratio):g} kB)": (
                "nlr",
                with_overrides(specs["nlr"], {"glb__size_kb": equal_area_glb_kb(0, ratio)}),
            )
            for ratio in RF_AREA_RATIOS
        },
    }
    out["assumptions"] |= {
        label: {
            kind: summary([search(spec, x, d, exhaustive=exhaustive) for x in group])["per_mac"]
            / out[kind]["rs"]["per_mac"]
            for kind, group in kinds.items()
        }
        for label, (d, spec) in variants.items()
    }
    return out


def print_report(data: dict) -> None:
    print(
        f"AlexNet, batch {data['batch']}, 256 PEs, equal storage area; normalized energy (16-bit MAC = 1)"
        f"{'; exhaustive search' if data['exhaustive'] else ''}"
    )
    for kind in ("conv", "fc"):
        print(f"\n== {kind.upper()} layers: energy per MAC by level; paper: RS {PAPER[kind]} more efficient")
        print(f"{'dataflow':9} {'preset':20} {'E/MAC':>6} " + " ".join(f"{k:>6}" for k in LEVELS) + "   x RS")
        for name, row in data[kind].items():
            label = name.upper().replace("_", " ") if "_" in name else name.upper()
            preset = PRESETS.get(name, PRESETS["os"])
            print(
                f"{'  ' + label if '_' in name else label:9} {preset:20} {row['per_mac']:6.2f} "
                + " ".join(f"{row[k]:6.2f}" for k in LEVELS)
                + f"  {row['vs_rs']:5.2f}"
            )
    print("\n== energy per MAC by layer (mapping chosen)")
    print(f"{'layer':6} " + " ".join(f"{d.upper():>6}" for d in DATAFLOW_ORDER))
    for name, row in data["layers"].items():
        print(f"{name:6} " + " ".join(f"{row[d]:6.2f}" for d in DATAFLOW_ORDER))
    for name, row in data["layers"].items():
        print(f"  {name}: " + " | ".join(row[f"{d}_mapping"] for d in DATAFLOW_ORDER))
    print("\n== other assumptions: energy per MAC relative to RS")
    for label, row in data["assumptions"].items():
        print(f"  {label:42} CONV {row['conv']:5.2f}  FC {row['fc']:5.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--exhaustive", action="store_true", help="search every loop order and blocking")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    result = main(args.batch, args.exhaustive)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_report(result)
