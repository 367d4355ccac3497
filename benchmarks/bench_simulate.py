"""Wall seconds of the whole-network mapping search on eyeriss, per built-in network (cold cache each time).

Run: python benchmarks/bench_simulate.py [--exhaustive] [--batch N]
Prints one JSON object {network: seconds}. Target (spine issue): resnet50 under 1 s on one core.
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from accelerators import load_spec
from simulator.mapper import clear_caches
from simulator.networks import get_network, list_networks
from simulator.simulate import simulate


def main() -> dict[str, float]:
    exhaustive = "--exhaustive" in sys.argv
    batch = int(sys.argv[sys.argv.index("--batch") + 1]) if "--batch" in sys.argv else 1
    spec = load_spec("eyeriss")
    simulate(spec, get_network("alexnet")[:1])  # import and first-call costs out of the timings
    out: dict[str, float] = {}
    for name in list_networks():
        clear_caches()
        layers = get_network(name, batch)
        start = time.perf_counter()
        simulate(spec, layers, exhaustive=exhaustive)
        out[name] = round(time.perf_counter() - start, 3)
    return out


if __name__ == "__main__":
    print(json.dumps(main()))
