"""Time DKM training steps on CPU and print one JSON object.

    python benchmarks/bench_dkm.py [--steps 50] [--warmup 10] [--lr 1e-4] [--threads N]
                                   [--coremltools /work/venv-ct/bin/python]

- A 1024x1024 Linear layer at 4 bits (K = 16): `first_step_s` (prepare with k-means++ init + the first forward,
  backward and Adam step), `step_s` (median of later steps) and `peak_rss_mb` (peak resident memory of a fresh
  process running only this part; `baseline_rss_mb` is its peak before DKM was prepared).
- LeNet-5 on mnist5k batches of 64: median step of the float model (`float_step_s`) and of DKM at K = 16 and K = 4,
  measured interleaved so that load from other processes hits all three alike, after `--warmup` steps of each (DKM's
  first steps iterate from the k-means init; later ones start from the previous step's centroids). All three train
  with Adam at `--lr` (default 1e-4, the coremltools protocol; the compression recipe uses 1e-3, where weights
  move more per step and DKM iterates more).
- `--coremltools PYTHON`: the same two measurements with coremltools' DKMPalettizer, run by an interpreter that has
  coremltools installed (keep it in a separate virtualenv), reported under "coremltools".
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _make_step(model, batches, lr: float = 1e-4) -> Callable[[], None]:
    import torch
    import torch.nn.functional as F

    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    state = {"i": 0}

    def step() -> None:
        x, y = batches[state["i"] % len(batches)]
        state["i"] += 1
        out = model(x)
        loss = F.cross_entropy(out, y) if y is not None else out.square().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def _import_backend(backend: str) -> None:
    """Import the compressor's modules up front, so that import memory is not counted as training memory."""
    if backend == "coremltools":
        import coremltools.optimize.torch.palettization  # noqa: F401
    else:
        import compression.dkm  # noqa: F401


def _prepare(model, clusters: int, backend: str):
    if backend == "coremltools":
        from coremltools.optimize.torch.palettization import DKMPalettizer, DKMPalettizerConfig

        cfg = DKMPalettizerConfig.from_dict({"global_config": {"n_bits": clusters.bit_length() - 1}})
        palettizer = DKMPalettizer(model, cfg)
        prepared = palettizer.prepare()
        palettizer.step()
        return prepared
    from compression.config import DKMConfig, DKMLayerConfig
    from compression.dkm import DKM

    DKM(model, DKMConfig(global_config=DKMLayerConfig(clusters=clusters))).prepare()
    return model


def part_layer(steps: int, backend: str, warmup: int = 0, lr: float = 1e-4) -> dict[str, float]:
    """The 1024x1024 layer at 4 bits."""
    import torch

    _import_backend(backend)
    torch.manual_seed(0)
    batches = [(torch.randn(64, 1024), None) for _ in range(4)]
    # Warm torch up (kernel and allocator initialisation) on a float layer, so first_step_s measures DKM's own start.
    _make_step(torch.nn.Sequential(torch.nn.Linear(1024, 1024)), batches)()
    layer = torch.nn.Sequential(torch.nn.Linear(1024, 1024))
    baseline = _rss_mb()
    t0 = time.perf_counter()
    model = _prepare(layer, 16, backend)
    model.train()
    step = _make_step(model, batches, lr)
    step()
    first = time.perf_counter() - t0
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return {
        "first_step_s": first,
        "step_s": statistics.median(times),
        "peak_rss_mb": _rss_mb(),
        "baseline_rss_mb": baseline,
    }


def part_lenet(steps: int, backend: str, warmup: int = 10, lr: float = 1e-4) -> dict[str, float]:
    """LeNet-5 float vs DKM at K = 16 and K = 4, batch 64 of mnist5k, interleaved."""
    import copy

    import torch

    sys.path.insert(0, str(ROOT))
    from compression.datasets import mnist5k
    from compression.models import LeNet5

    data = mnist5k()
    batches = [(data.train.x[i : i + 64], data.train.y[i : i + 64]) for i in range(0, 64 * 16, 64)]
    torch.manual_seed(0)
    base = LeNet5()
    models = {"float": base, "dkm16": copy.deepcopy(base), "dkm4": copy.deepcopy(base)}
    models["dkm16"] = _prepare(models["dkm16"], 16, backend)
    models["dkm4"] = _prepare(models["dkm4"], 4, backend)
    step_fns = {}
    for name, m in models.items():
        m.train()
        step_fns[name] = _make_step(m, batches, lr)
    for _ in range(warmup):  # warm-up (and DKM's first-step initialisation where it is lazy), interleaved too
        for fn in step_fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in models}
    cpu: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(steps):
        for name, fn in step_fns.items():
            t, c = time.perf_counter(), time.process_time()
            fn()
            times[name].append(time.perf_counter() - t)
            cpu[name].append(time.process_time() - c)
    med = {name: statistics.median(ts) for name, ts in times.items()}
    med_cpu = {name: statistics.median(ts) for name, ts in cpu.items()}
    return {
        "float_step_s": med["float"],
        "dkm16_step_s": med["dkm16"],
        "dkm4_step_s": med["dkm4"],
        "dkm16_over_float": med["dkm16"] / med["float"],
        "dkm4_over_float": med["dkm4"] / med["float"],
        # CPU time is less sensitive than wall time to other processes on a shared machine
        "dkm16_over_float_cpu": med_cpu["dkm16"] / med_cpu["float"],
        "dkm4_over_float_cpu": med_cpu["dkm4"] / med_cpu["float"],
    }


def _run_part(
    python: str, part: str, steps: int, threads: int | None, backend: str, warmup: int, lr: float
) -> dict[str, float]:
    cmd = [python, str(Path(__file__).resolve()), "--part", part, "--steps", str(steps), "--backend", backend]
    cmd += ["--warmup", str(warmup), "--lr", str(lr)]
    if threads:
        cmd += ["--threads", str(threads)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{part} ({backend}) failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=50, help="timed steps per measurement")
    ap.add_argument("--warmup", type=int, default=10, help="untimed LeNet-5 steps of each model first")
    ap.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate of the timed steps")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--coremltools", metavar="PYTHON", help="interpreter with coremltools for a side-by-side run")
    ap.add_argument(
        "--coremltools-parts", default="layer,lenet", help="which parts to run with coremltools (layer, lenet)"
    )
    ap.add_argument("--part", choices=["layer", "lenet"], help=argparse.SUPPRESS)
    ap.add_argument("--backend", default="clusterwatt", choices=["clusterwatt", "coremltools"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.part:
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
        fn = part_layer if args.part == "layer" else part_lenet
        print(json.dumps(fn(args.steps, args.backend, args.warmup, args.lr)))
        return
    import torch

    result: dict = {"torch": torch.__version__, "threads": args.threads or torch.get_num_threads(), "lr": args.lr}
    common = (args.threads, "clusterwatt", args.warmup, args.lr)
    result.update(_run_part(sys.executable, "layer", args.steps, *common))
    result["lenet5"] = _run_part(sys.executable, "lenet", args.steps, *common)
    if args.coremltools:
        parts = args.coremltools_parts.split(",")
        ct: dict = {"coremltools": True}
        common = (args.threads, "coremltools", args.warmup, args.lr)
        if "layer" in parts:  # its first step takes minutes
            ct.update(_run_part(args.coremltools, "layer", max(3, args.steps // 4), *common))
        if "lenet" in parts:
            ct["lenet5"] = _run_part(args.coremltools, "lenet", args.steps, *common)
        result["coremltools"] = ct
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
