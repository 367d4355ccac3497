"""Run a study: expand -> train what is missing -> simulate every pending point in worker processes -> commit
rows to the store as batches finish -> consolidate, plot and summarise.

Each stage is a generator (candidates -> evaluate -> reduce), so a sweep streams through memory and a killed run
loses only the batches in flight. Points that share a spec are batched together, so a worker's spec and mapper
caches stay warm.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from studies.evaluate import evaluate_batch, failure_row
from studies.expand import Expansion, Point, Workload, expand, load_expansion
from studies.spec import Study, StudyError
from studies.store import ResultStore, atomic_write_text
from studies.training import CompressFn, cached_result, check_jobs, default_cache_dir, float_key, train_workload

Echo = Callable[[str], None]


class StudyInterrupted(Exception):
    """Ctrl-C during a run; finished points are saved."""


@dataclass
class RunSummary:
    """What a run did."""

    out_dir: Path
    total: int
    skipped: int = 0
    done: int = 0
    failed: int = 0
    trained: int = 0
    train_failed: int = 0
    wall_s: float = 0.0
    errors: list[str] = field(default_factory=list)
    files: dict[str, Any] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [
            f"{self.total} points: {self.done} simulated now, {self.skipped} already in the store, "
            f"{self.failed} failed; {self.trained} model(s) trained"
            + (f", {self.train_failed} training job(s) failed" if self.train_failed else "")
            + f"; {self.wall_s:.1f} s",
        ]
        for e in self.errors[:5]:
            out.append(f"  failed: {e}")
        if len(self.errors) > 5:
            out.append(f"  ... and {len(self.errors) - 5} more failures (see run.log)")
        return out


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


# ---------------------------------------------------------------------------------------------------------
# Worker processes
# ---------------------------------------------------------------------------------------------------------


def _keep_freed_memory() -> None:
    """Ask glibc to serve the mapper's large temporary arrays from the heap and keep freed memory, instead of
    mmap/munmap per array: that page-fault traffic cost ~25% of a worker's CPU time (Linux/glibc only)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_mmap_threshold, 256 * 1024 * 1024)
        libc.mallopt(m_trim_threshold, 512 * 1024 * 1024)
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        pass


def _init_worker(parent: int) -> None:
    """Workers leave Ctrl-C to the parent and exit when the parent dies (even by kill -9)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _keep_freed_memory()

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


class _Inline(Executor):
    """A one-process executor (workers=1): same code path, no pool, easy to debug."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        f: Future = Future()
        try:
            f.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            f.set_exception(exc)
        return f


def _pool(workers: int) -> Executor:
    if workers <= 1:
        return _Inline()
    return ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(os.getpid(),))


def _kill_pool(pool: Executor) -> None:
    """Stop worker processes now (Ctrl-C): queued work is dropped, finished work is already committed."""
    if isinstance(pool, ProcessPoolExecutor):
        processes = list(getattr(pool, "_processes", {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for p in processes:
            if p.is_alive():
                p.terminate()
        for p in processes:
            p.join(timeout=2)


def run_bounded(
    pool: Executor, fn: Callable[..., Any], tasks: Iterable[tuple[Any, ...]], window: int
) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Submit tasks lazily, at most `window` in flight; yield (task, result) as they complete."""
    it = iter(tasks)
    pending: dict[Future, tuple[Any, ...]] = {}
    exhausted = False
    while True:
        while not exhausted and len(pending) < window:
            try:
                task = next(it)
            except StopIteration:
                exhausted = True
                break
            pending[pool.submit(fn, *task)] = task
        if not pending:
            return
        finished, _ = wait(pending, return_when=FIRST_COMPLETED)
        for f in finished:
            yield pending.pop(f), f.result()


# ---------------------------------------------------------------------------------------------------------
# Stages
# ---------------------------------------------------------------------------------------------------------


def candidates(exp: Expansion, done: set[str]) -> list[Point]:
    """Points still to simulate, ordered so that points sharing a spec sit next to each other."""
    order = {h.id: i for i, h in enumerate(exp.hardware)}
    pending = [p for p in exp.points if p.id not in done]
    return sorted(pending, key=lambda p: (order[p.hardware.id], p.dataflow, str(p.batch)))


def batches(points: list[Point], workers: int, max_size: int = 25) -> Iterator[list[Point]]:
    """Contiguous chunks of about total / (8 x workers) points (1 to max_size): small enough to spread the work
    and bound what a kill loses, large enough that spec and mapper caches pay off."""
    if not points:
        return
    size = max(1, min(max_size, math.ceil(len(points) / (8 * max(1, workers)))))
    for i in range(0, len(points), size):
        yield points[i : i + size]


def _train_task(w: Workload, cache_dir: str, compress_fn: CompressFn | None, threads: int) -> dict[str, Any]:
    return train_workload(w, Path(cache_dir), compress_fn, threads)


def train_stage(
    exp: Expansion,
    pending: list[Point],
    cache_dir: Path,
    workers: int,
    compress_fn: CompressFn | None,
    progress: bool,
    log: Echo,
) -> tuple[dict[str, Workload], dict[str, str], int]:
    """Train (or load from the cache) every compression job that pending points need.

    Returns resolved workloads by id (trace and metrics filled in), training errors by workload id, and how many
    jobs were trained now. One job per float model runs first, so the float model is trained once and cached.
    """
    by_id = {w.id: w for w in exp.workloads}
    needed_ids = {p.workload.id for p in pending}
    needed_ids |= {by_id[i].base for i in list(needed_ids) if by_id[i].kind == "float" and by_id[i].base}
    jobs = [w for w in exp.trained if w.id in needed_ids]
    resolved: dict[str, Workload] = {w.id: w for w in exp.workloads if w.kind != "trained"}
    errors: dict[str, str] = {}
    todo: list[Workload] = []
    for w in jobs:
        hit = cached_result(w, cache_dir)
        if hit is not None:
            resolved[w.id] = replace(w, trace=hit["trace"], info=hit["info"])
        else:
            todo.append(w)
    trained = 0
    if todo:
        if compress_fn is None:  # an injected function has its own contract (tests)
            check_jobs(todo)
        n = min(workers, len(todo))
        threads = max(1, default_workers() // n)
        first: dict[str, Workload] = {}
        for w in todo:
            first.setdefault(float_key(w), w)
        waves = [list(first.values()), [w for w in todo if w not in first.values()]]
        log(f"training {len(todo)} compression job(s) on {n} process(es) ({len(jobs) - len(todo)} cached)")
        tqdm.monitor_interval = 0
        bar = tqdm(total=len(todo), desc="training", unit="job", disable=not progress, file=sys.stderr)
        pool = _pool(n)
        try:
            for wave in waves:
                tasks = [(w, str(cache_dir), compress_fn, threads) for w in wave]
                for (w, *_), res in run_bounded(pool, _train_task, tasks, window=n):
                    bar.update(1)
                    if "error" in res:
                        errors[w.id] = res["error"]
                        log(res["error"])
                    else:
                        trained += 0 if res.get("cached") else 1
                        resolved[w.id] = replace(w, trace=res["trace"], info=res["info"])
                        acc = res["info"].get("accuracy")
                        log(f"trained {w.label} seed {w.seed}: accuracy {acc}")
        except KeyboardInterrupt:
            _kill_pool(pool)
            raise
        finally:
            bar.close()
            pool.shutdown(wait=True) if not isinstance(pool, _Inline) else None
    for w in exp.workloads:
        if w.kind == "float" and w.base:
            if w.base in errors:
                errors[w.id] = errors[w.base]
            elif w.base in resolved and w.base in needed_ids:
                base = resolved[w.base]
                fa = base.info.get("float_accuracy") if base.kind == "trained" else w.info.get("float_accuracy")
                resolved[w.id] = replace(w, trace=base.trace, info={"accuracy": fa, "float_accuracy": fa})
    return resolved, errors, trained


def evaluate_stage(
    points: list[Point], study: str, paths: list[str], workers: int
) -> Iterator[tuple[list[Point], list[dict[str, Any]]]]:
    """(batch, rows) as batches finish, simulated on `workers` processes."""
    pool = _pool(workers)
    tasks = ((b, study, paths) for b in batches(points, workers))
    try:
        for (batch, *_), rows in run_bounded(pool, evaluate_batch, tasks, window=2 * workers):
            yield batch, rows
    except BaseException:
        _kill_pool(pool)
        raise
    finally:
        if not isinstance(pool, _Inline):
            pool.shutdown(wait=True)


# ---------------------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------------------


def write_study_files(exp: Expansion, store: ResultStore, source: Path | None) -> None:
    root = store.root
    if source is not None and source.is_file():
        if source.resolve() != (root / "study.yaml").resolve():
            shutil.copyfile(source, root / "study.yaml")
    else:
        import yaml

        atomic_write_text(root / "study.yaml", yaml.safe_dump(exp.study.model_dump(mode="json"), sort_keys=False))
    points = [
        {
            "id": p.id,
            "workload": p.workload.id,
            "label": p.workload.label,
            "hardware": p.hardware.label,
            "hardware_id": p.hardware.id,
            "dataflow": p.dataflow,
            "batch": p.batch,
            "bits": [p.weight_bits, p.act_bits, p.codebook_bits],
        }
        for p in exp.points
    ]
    meta = {
        "study": exp.study.model_dump(mode="json", by_alias=True),
        "summary": exp.summary(),
        "hardware": [{"id": h.id, "label": h.label, "overrides": h.overrides} for h in exp.hardware],
        "override_paths": exp.study.override_paths,
        "points": points,
    }
    atomic_write_text(root / "points.json", json.dumps(meta, indent=1, default=str) + "\n")


def run_study(
    study: str | Path | Study,
    out_dir: str | Path | None = None,
    workers: int | None = None,
    resume: bool = False,
    overwrite: bool = False,
    retry_failed: bool = False,
    cache_dir: str | Path | None = None,
    compress_fn: CompressFn | None = None,
    plots: bool = True,
    progress: bool = True,
    echo: Echo | None = None,
    base_dir: str | Path | None = None,
) -> RunSummary:
    """Run every point of a study into out_dir (default runs/<name>) and return a summary.

    resume: skip points already in the store (otherwise a folder with results is an error, unless overwrite);
    retry_failed (with resume): delete the rows of failed points and run them again.
    compress_fn: replaces compression.pipeline.run_compression (tests).
    """
    t0 = time.perf_counter()
    say: Echo = echo or (lambda s: None)
    source: Path | None = None
    if isinstance(study, Study):
        exp = expand(study, Path(base_dir or "."))
    else:
        exp, source = load_expansion(study)
    st = exp.study
    out = Path(out_dir) if out_dir is not None else Path("runs") / st.name
    workers = workers or default_workers()
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    store = ResultStore(out)
    with store.locked():
        if store.has_results() and not resume:
            if not overwrite:
                raise StudyError(
                    f"{out} already holds results; rerun with --resume to skip finished points, "
                    "or --overwrite to start afresh"
                )
            store.clear()
        write_study_files(exp, store, source)
        log_fh = open(out / "run.log", "a")  # noqa: SIM115
        total = len(exp.points)

        def log(msg: str) -> None:
            log_fh.write(f"{time.strftime('%H:%M:%S')} {msg}\n")
            log_fh.flush()

        log(f"study {st.name}: {exp.summary()}")
        summary = RunSummary(out_dir=out, total=total)
        try:
            done = store.done()
            if retry_failed:
                failed_ids = {pid for pid, status in done.items() if status == "failed"}
                if failed_ids:
                    n = store.drop_points(failed_ids)
                    say(f"retrying {n} failed point(s)")
                    done = {pid: st for pid, st in done.items() if pid not in failed_ids}
            pending = candidates(exp, set(done))
            summary.skipped = total - len(pending)
            if summary.skipped:
                say(f"resuming: {summary.skipped} of {total} points already in {out}")
            resolved, train_errors, summary.trained = train_stage(
                exp, pending, cache, workers, compress_fn, progress, log
            )
            summary.train_failed = len({e for k, e in train_errors.items() if k in {w.id for w in exp.trained}})
            ready: list[Point] = []
            failed_rows: list[dict[str, Any]] = []
            for p in pending:
                if p.workload.id in train_errors:
                    failed_rows.append(failure_row(p, st.name, train_errors[p.workload.id]))
                else:
                    ready.append(replace(p, workload=resolved[p.workload.id]))
            if failed_rows:
                store.append(failed_rows)
                summary.failed += len(failed_rows)
                summary.errors += sorted(set(train_errors.values()))
            tqdm.monitor_interval = 0  # no monitor thread: worker processes are forked while bars are open
            bar = tqdm(
                total=total,
                initial=total - len(ready),
                desc="simulating",
                unit="pt",
                disable=not progress,
                file=sys.stderr,
                smoothing=0.1,
            )
            try:
                paths = st.override_paths
                for batch, rows in evaluate_stage(ready, st.name, paths, workers):
                    store.append(rows)
                    for row in rows:
                        if row.get("status") == "failed":
                            summary.failed += 1
                            what = "float" if row["method"] == "float" else f"{row['method']} K={row['clusters']}"
                            msg = f"{what} on {row['hardware']} ({row['dataflow']}): {row['error']}"
                            summary.errors.append(msg)
                            log(msg)
                    summary.done += len(batch)
                    bar.update(len(batch))
            finally:
                bar.close()
        except KeyboardInterrupt:
            n_done = len(store.done())
            store.write_manifest(study=st.name, total=total, done=n_done, interrupted=True)
            log(f"interrupted with {n_done} of {total} points saved")
            log_fh.close()
            raise StudyInterrupted(
                f"interrupted: {n_done} of {total} points are saved in {out}; rerun with --resume to finish the rest"
            ) from None
        status = store.done()
        ids = [p.id for p in exp.points]
        n_failed = sum(1 for i in ids if status.get(i) == "failed")
        summary.files["results"] = store.consolidate(ids)
        store.write_manifest(
            study=st.name, total=total, done=sum(1 for i in ids if i in status), failed=n_failed, interrupted=False
        )
        log(f"finished: {summary.done} simulated, {summary.skipped} skipped, {summary.failed} failed")
        log_fh.close()
    if plots:
        from studies.report import write_outputs

        summary.files.update(write_outputs(out))
    summary.wall_s = time.perf_counter() - t0
    return summary
