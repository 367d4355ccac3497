"""Benchmark: 1,000 hardware points x AlexNet with the trace fixed (no training), through the full study runner.

    python benchmarks/bench_sweep.py [--workers N] [--points-per-axis 10]

The sweep is GLB size x PE array shape x DRAM access energy (10 x 10 x 10 = 1,000 distinct specs), every point
mapping all 8 AlexNet layers (k-means, K = 16) on Eyeriss, with results committed to a parquet store as in a real
run (plots skipped). Prints one JSON object: {"points": ..., "seconds": ...}. Target: under 30 s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import yaml

from simulator.clustering import cluster_layers
from simulator.networks import get_network
from simulator.trace import ModelInfo, trace_from_layers
from studies.runner import default_workers, run_study

GLB_KB = [32, 48, 64, 96, 108, 128, 192, 256, 384, 512]
PE_ARRAYS = [(8, 8), (12, 14), (16, 16), (12, 28), (24, 14), (16, 32), (32, 16), (24, 28), (32, 32), (48, 48)]
DRAM_COST = [100, 130, 160, 200, 250, 300, 400, 500, 650, 800]
# --structural: a third axis that changes capacities, so no point can re-price another's search.
FILTER_SPAD_WORDS = [64, 96, 128, 160, 192, 224, 256, 320, 384, 448]


def write_study(folder: Path, n: int, structural: bool = False) -> Path:
    layers = cluster_layers(get_network("alexnet", batch=1), clusters=16)
    info = ModelInfo(name="alexnet", method="kmeans", extra={"clusters": 16})
    trace_from_layers(layers, info).save(folder / "alexnet-k16.json")
    study = {
        "name": "bench_sweep",
        "description": "1,000 hardware points x AlexNet (trace fixed)",
        "traces": ["alexnet-k16.json"],
        "float_baseline": False,
        "accelerators": ["eyeriss"],
        "sweep": {
            "accelerator__glb__size_kb": GLB_KB[:n],
            "accelerator__pe_array": [{"rows": r, "cols": c} for r, c in PE_ARRAYS[:n]],
            **(
                {"accelerator__rf__weight__words": FILTER_SPAD_WORDS[:n]}
                if structural
                else {"accelerator__energy__dram__cost": DRAM_COST[:n]}
            ),
        },
    }
    path = folder / "bench_sweep.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


def _cpu() -> float:
    """CPU seconds used by this process and its finished children (the worker processes)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--points-per-axis", type=int, default=10, help="n: the sweep has n**3 points")
    parser.add_argument(
        "--structural", action="store_true", help="sweep filter-scratchpad size instead of DRAM cost (no re-pricing)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cw-bench-") as tmp:
        folder = Path(tmp)
        study = write_study(folder, args.points_per_axis, args.structural)
        cpu0 = _cpu()
        t0 = time.perf_counter()
        summary = run_study(study, folder / "out", workers=args.workers, plots=False, progress=False)
        seconds = time.perf_counter() - t0
        cpu = _cpu() - cpu0
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"{summary.total} points ({summary.failed} failed) on {args.workers} workers: {seconds:.1f} s wall, "
        f"{cpu:.1f} s CPU (all processes; {cpu / max(1, summary.total) * 1000:.0f} ms per point), "
        f"so {cpu / args.workers:.1f} s on {args.workers} otherwise idle cores; load average now {load:.1f}",
        file=sys.stderr,
    )
    print(json.dumps({"points": summary.total, "seconds": round(seconds, 2), "structural": args.structural}))


if __name__ == "__main__":
    main()
