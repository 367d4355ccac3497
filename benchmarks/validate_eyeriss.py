"""Print clusterwatt's figures for AlexNet CONV1-5 on Eyeriss beside the chip's published ones (JSSC 2017).

Three mappings per layer: the mapper's energy optimum, its latency optimum, and the published (n, p, q, e, r, t)
with the best loop order and buffer blocking. Run: python benchmarks/validate_eyeriss.py [--json]
"""

from __future__ import annotations

import json
import sys

import numpy as np

from accelerators import load_spec
from simulator import row_stationary as rs
from simulator.bits import layer_widths
from simulator.mapper import _best_of, _result, search
from simulator.references import EYERISS_ALEXNET, EYERISS_ALEXNET_TOTAL, eyeriss_alexnet_layers
from simulator.simulate import with_sparsity


def published(spec, layer, params):  # type: ignore[no-untyped-def]
    """The published pass parameters under the best order and blocking the model finds for them."""
    wid = layer_widths(spec, layer)
    cand = {k: np.array([v]) for k, v in zip(("n", "p", "q", "e", "r", "t", "g"), (*params, 1), strict=True)}
    best = _best_of(spec, layer, wid, rs, cand, rs.POLICIES, "energy", None)
    assert best is not None, f"published mapping of {layer.name} does not fit"
    return _result(spec, layer, wid, *best, rs)


def main() -> dict:
    spec = load_spec("eyeriss")
    layers = with_sparsity(eyeriss_alexnet_layers(), None)
    rows = {"energy": [], "latency": [], "published": []}
    for layer, ref in zip(layers, EYERISS_ALEXNET, strict=True):
        rows["energy"].append(search(spec, layer, objective="energy"))
        rows["latency"].append(search(spec, layer, objective="latency"))
        rows["published"].append(published(spec, layer, ref.mapping))
    out = {}
    for label, results in rows.items():
        dram = sum(r.dram_bytes for r in results) / 1e6
        glb = sum(r.glb_bytes for r in results) / 1e6
        macs = sum(r.macs for r in results)
        active = sum(r.active_pes for r in results) / len(results) / spec.pe_array.pes
        out[label] = {
            "layers": [
                {
                    "name": r.name,
                    "dram_mb": r.dram_bytes / 1e6,
                    "glb_mb": r.glb_bytes / 1e6,
                    "active_pes": r.active_pes,
                    "energy_per_mac": r.total_energy / r.macs,
                    "mapping": r.mapping.describe(),
                }
                for r in results
            ],
            "dram_mb": dram,
            "dram_accesses_per_mac": dram * 1e6 / 2 / macs,
            "glb_mb": glb,
            "active_pe_share": active,
            "energy_per_mac": sum(r.total_energy for r in results) / macs,
        }
    out["published"]["reference"] = EYERISS_ALEXNET_TOTAL
    return out


if __name__ == "__main__":
    data = main()
    if "--json" in sys.argv:
        print(json.dumps(data, indent=2))
        sys.exit(0)
    ref = EYERISS_ALEXNET_TOTAL
    for label in ("energy", "latency", "published"):
        d = data[label]
        print(f"== mapping: {label}")
        print("layer  DRAM MB (chip)   GLB MB (chip)   active PEs (chip)  E/MAC  mapping")
        for r, f in zip(d["layers"], EYERISS_ALEXNET, strict=True):
            print(
                f"{r['name']:5}  {r['dram_mb']:6.2f} ({f.dram_mb:4.1f})  {r['glb_mb']:6.1f} ({f.glb_mb:5.1f})  "
                f"{r['active_pes']:4d} ({f.active_pes})        {r['energy_per_mac']:.2f}  {r['mapping']}"
            )
        print(
            f"total  DRAM {d['dram_mb']:.2f} MB vs {ref['dram_mb']} ({d['dram_mb'] / ref['dram_mb']:.3f}x); "
            f"DRAM/MAC {d['dram_accesses_per_mac']:.5f} vs {ref['dram_accesses_per_mac']} "
            f"({d['dram_accesses_per_mac'] / ref['dram_accesses_per_mac']:.3f}x); "
            f"GLB {d['glb_mb']:.1f} MB vs {ref['glb_mb']} ({d['glb_mb'] / ref['glb_mb']:.3f}x); "
            f"active PEs {d['active_pe_share']:.1%} vs {ref['active_pe_share']:.0%} "
            f"({d['active_pe_share'] / ref['active_pe_share']:.3f}x); E/MAC {d['energy_per_mac']:.3f}"
        )
