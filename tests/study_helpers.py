"""Helpers shared by the study tests: a fake compression function (same contract as run_compression) and small
study files. Module-level so worker processes can unpickle the function."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import yaml

from simulator.trace import ModelInfo, trace_from_layers
from simulator.workload import Clustering, Layer, Numerics, conv, fc

FLOAT_ACCURACY = 0.99


def lenet_layers(batch: int = 1) -> list[Layer]:
    layers = [
        conv("conv1", C=1, M=6, HW=28, RS=5, pad=2),
        conv("conv2", C=6, M=16, HW=14, RS=5, pad=0),
        fc("fc1", C=400, M=120),
        fc("fc2", C=120, M=84),
        fc("fc3", C=84, M=10),
    ]
    return [x.with_batch(batch) for x in layers]


def fake_accuracy(method: str, k: int) -> float:
    """Monotone in K, method-dependent: enough structure for a Pareto front."""
    penalty = {"kmeans": 0.08, "deep-kmeans": 0.05, "dkm": 0.04, "uniform": 0.12, "kmeans-wr": 0.1}[method]
    return round(FLOAT_ACCURACY - penalty / math.log2(k) ** 1.5, 4)


def fake_compress(job: dict[str, Any], out_dir: Path, cache_dir: Path | None) -> dict[str, Any]:
    """Writes trace.json and metrics.json like compression.pipeline.run_compression, without torch."""
    if job.get("options", {}).get("explode"):
        raise RuntimeError("boom")
    method, k = job["method"], int(job["clusters"])
    layers = []
    for x in lenet_layers(batch=4):
        if method == "uniform":
            nm = Numerics(weight_bits=int(math.log2(k)), act_bits=16)
        else:
            vlen = x.S if method == "deep-kmeans" and x.kind == "conv" else 1
            clusters = min(k, x.weights // vlen)
            nm = Numerics(weight_bits=16, act_bits=16, clustering=Clustering(clusters, vlen, codebook_bits=16))
        layers.append(x.with_numerics(nm))
    acc = fake_accuracy(method, k)
    info = ModelInfo(
        name=job["model"],
        method=method,
        dataset=job["dataset"],
        accuracy=acc,
        float_accuracy=FLOAT_ACCURACY,
        extra={"clusters": k, "seed": job["seed"]},
    )
    out = Path(out_dir)
    trace_from_layers(layers, info).save(out / "trace.json")
    metrics = {
        "method": method,
        "clusters": k,
        "float_accuracy": FLOAT_ACCURACY,
        "compressed_accuracy": acc,
        "compression_ratio": 32 / max(1, math.log2(k)),
        "wall_s": 0.01,
        "float_cached": True,
        "epochs": job.get("epochs", 0),
    }
    (out / "metrics.json").write_text(json.dumps(metrics))
    counter = out.parent / "calls.txt"
    with open(counter, "a") as fh:
        fh.write(f"{method}-{k}\n")
    return metrics


def write_study(path: Path, **data: Any) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def trained_study(tmp: Path, **extra: Any) -> Path:
    data: dict[str, Any] = {
        "name": "fake",
        "model": "lenet5",
        "dataset": "mnist5k",
        "methods": ["kmeans", "dkm", "uniform"],
        "clusters": [2, 4, 16],
        "training": {"float_epochs": 1, "epochs": 1},
        "accelerators": ["eyeriss"],
    }
    data.update(extra)
    return write_study(tmp / "fake.yaml", **data)


def network_study(tmp: Path, name: str = "net", **extra: Any) -> Path:
    data: dict[str, Any] = {
        "name": name,
        "network": "alexnet",
        "methods": ["kmeans"],
        "clusters": [16],
        "accelerators": ["eyeriss"],
        "batch": [1],
    }
    data.update(extra)
    return write_study(tmp / f"{name}.yaml", **data)
