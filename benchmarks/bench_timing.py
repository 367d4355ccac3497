"""Speed of the discrete-event timing model: VGG-16 at batch 3 on eyeriss, whole network.

Run: python benchmarks/bench_timing.py [--network vgg16] [--batch 3] [--accelerator eyeriss] [--repeat 3]
Prints one JSON object: the mapping search time ("mapping_s", excluded from the rest), then for the default
(no overlap, as the chip) the simulated events, wall seconds of timing every layer ("wall_s", best of
--repeat runs) and events per second, with the latency and frames/s it found; "overlap" holds the same for
double-buffered DRAM transfers. Target (timing issue): wall_s under 5 s.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from accelerators import load_spec
from simulator.simulate import simulate
from simulator.timing import NetworkTiming, time_network


def _timed(spec: Any, result: Any, overlap: bool, repeat: int) -> tuple[NetworkTiming, float]:
    """The timing and the best wall time over `repeat` runs (other work on the machine only slows a run)."""
    best, timing = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        timing = time_network(spec, result, overlap=overlap)
        best = min(best, time.perf_counter() - start)
    assert timing is not None
    return timing, best


def _summary(timing: NetworkTiming, wall: float) -> dict[str, Any]:
    return {
        "events": timing.events,
        "events_per_s": round(timing.events / wall),
        "wall_s": round(wall, 3),
        "latency_s": round(timing.latency_s, 4),
        "processing_s": round(timing.processing_s, 4),
        "stall_s": round(timing.stall_s, 4),
        "fps": round(timing.fps, 3),
    }


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", default="vgg16")
    parser.add_argument("--batch", type=int, default=3)
    parser.add_argument("--accelerator", default="eyeriss")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    spec = load_spec(args.accelerator)
    start = time.perf_counter()
    result = simulate(spec, args.network, batch=args.batch)
    mapping_s = time.perf_counter() - start
    serial, serial_wall = _timed(spec, result, False, args.repeat)
    overlapped, overlap_wall = _timed(spec, result, True, args.repeat)
    return {
        "network": args.network,
        "batch": args.batch,
        "accelerator": spec.name,
        "mapping_s": round(mapping_s, 3),
        "overlap": False,
        **_summary(serial, serial_wall),
        "with_overlap": _summary(overlapped, overlap_wall),
    }


if __name__ == "__main__":
    print(json.dumps(main()))
