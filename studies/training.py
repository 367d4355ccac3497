"""The one place studies talk to compression: build a CompressJob, run it once per configuration hash, and keep
its trace.json and metrics.json in a shared cache so every later study (and every hardware point) reuses it.

`compression` (and torch with it) is imported only when a job really runs or is checked; tests inject a fake
compress function with the same contract as `compression.pipeline.run_compression(job, out_dir, cache_dir)`.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studies.expand import Workload
from studies.spec import StudyError

CompressFn = Callable[[dict[str, Any], Path, Path | None], dict[str, Any]]
"""(job fields, out_dir, float-model cache dir) -> metrics; must write out_dir/trace.json and metrics.json."""

FLOAT_KEYS = ("model", "dataset", "dataset_path", "seed", "split_seed", "float_epochs", "float_lr", "batch_size")
METRIC_KEYS = ("compressed_accuracy", "float_accuracy", "compression_ratio", "wall_s", "float_cached", "epochs")


def default_cache_dir() -> Path:
    """$CLUSTERWATT_CACHE, else ~/.cache/clusterwatt (the same place `clusterwatt compress` caches float models)."""
    env = os.environ.get("CLUSTERWATT_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "clusterwatt"


def job_dir(cache_dir: Path, w: Workload) -> Path:
    return Path(cache_dir) / "jobs" / f"{w.method}-K{w.clusters}-s{w.seed}-{w.id}"


def float_key(w: Workload) -> str:
    """Jobs with equal keys start from the same cached float model."""
    job = w.job_fields()
    return json.dumps({k: job.get(k) for k in FLOAT_KEYS}, sort_keys=True)


def check_jobs(workloads: list[Workload]) -> None:
    """Validate every training job against CompressJob (imports torch); StudyError names the offending key."""
    jobs = [w for w in workloads if w.kind == "trained"]
    if not jobs:
        return
    from pydantic import ValidationError

    from compression.pipeline import CompressJob

    for w in jobs:
        try:
            CompressJob.model_validate(w.job_fields())
        except ValidationError as exc:
            problems = []
            for err in exc.errors():
                loc = ".".join(str(p) for p in err["loc"])
                msg = err["msg"].removeprefix("Value error, ")
                if err["type"] == "extra_forbidden":
                    msg = "unknown key (not a CompressJob field; see `clusterwatt compress --help`)"
                problems.append(f"training.{loc}: {msg}" if loc else msg)
            raise StudyError(f"{w.label}: " + "; ".join(problems)) from None


def real_compress(job: dict[str, Any], out_dir: Path, cache_dir: Path | None) -> dict[str, Any]:
    """Run compression.pipeline.run_compression on the job fields."""
    from compression.pipeline import CompressJob, run_compression

    return run_compression(CompressJob.model_validate(job), out_dir, cache_dir)


def cached_result(w: Workload, cache_dir: Path) -> dict[str, Any] | None:
    """{'trace': path, 'info': {...}} when the job already ran (its folder is complete), else None."""
    d = job_dir(cache_dir, w)
    if (d / "trace.json").is_file() and (d / "metrics.json").is_file():
        return {"trace": str(d / "trace.json"), "info": _info(json.loads((d / "metrics.json").read_text()))}
    return None


def _info(metrics: dict[str, Any]) -> dict[str, Any]:
    out = {k: metrics.get(k) for k in METRIC_KEYS}
    out["accuracy"] = out.pop("compressed_accuracy")
    out["train_s"] = out.pop("wall_s")
    return out


def train_workload(
    w: Workload, cache_dir: Path, compress_fn: CompressFn | None = None, threads: int | None = None
) -> dict[str, Any]:
    """Run (or reuse) one compression job; returns {'trace', 'info'} or {'error'}.

    The job writes into a private temporary folder that is renamed into place when complete, so a killed run
    leaves no half-written result and two runs never mix their files.
    """
    done = cached_result(w, cache_dir)
    if done is not None:
        return {**done, "cached": True}
    final = job_dir(cache_dir, w)
    tmp = final.with_name(f".tmp-{final.name}-{os.getpid()}-{uuid.uuid4().hex[:6]}")
    tmp.mkdir(parents=True, exist_ok=True)
    job = w.job_fields()
    if threads is not None and "threads" not in job:
        job["threads"] = threads
    job.setdefault("quiet", True)
    t0 = time.perf_counter()
    try:
        metrics = (compress_fn or real_compress)(job, tmp, cache_dir)
        if not (tmp / "trace.json").is_file():
            raise RuntimeError("the compression job wrote no trace.json")
        if not (tmp / "metrics.json").is_file():
            (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str) + "\n")
    except Exception as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        message = " ".join(str(exc).split()) or type(exc).__name__
        return {"error": f"training {w.label} (seed {w.seed}) failed: {type(exc).__name__}: {message}"}
    try:
        os.replace(tmp, final)
    except OSError:  # another run finished the same job first: keep theirs
        shutil.rmtree(tmp, ignore_errors=True)
    result = cached_result(w, cache_dir)
    if result is None:
        return {"error": f"training {w.label} (seed {w.seed}): results vanished from {final}"}
    result["info"].setdefault("train_s", time.perf_counter() - t0)
    return {**result, "cached": False}
