"""The result store: atomic parts, a run killed with SIGKILL mid-way, then --resume: every point present once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from studies.expand import expand
from studies.runner import run_study
from studies.spec import StudyError, load_study
from studies.store import ResultStore, load_results
from tests.study_helpers import network_study

ROOT = Path(__file__).resolve().parents[1]


def _slow_study(tmp_path: Path) -> Path:
    """About 120 AlexNet points on distinct hardware: several seconds of simulation."""
    return network_study(
        tmp_path,
        name="slow",
        float_baseline=False,
        sweep={
            "accelerator__glb__size_kb": [60 + 8 * i for i in range(12)],
            "accelerator__pe_array__rows": [8, 10, 12, 14, 16, 20, 24, 28, 32, 40],
        },
    )


def _start(study: Path, out: Path, *extra: str) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "studies.cli",
        "study",
        "run",
        str(study),
        "--out",
        str(out),
        "--workers",
        "2",
        "--no-plots",
        "-q",
        *extra,
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, text=True
    )


def _wait_for_parts(out: Path, n: int, proc: subprocess.Popen, timeout: float = 120) -> int:
    store = ResultStore(out)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        parts = len(store.part_files())
        if parts >= n:
            return parts
        if proc.poll() is not None:
            pytest.fail(f"the run ended before it could be killed: {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.05)
    pytest.fail("no results appeared in time")


def _raw_rows(out: Path) -> list[tuple[str, str]]:
    keys = []
    for p in ResultStore(out).part_files():
        t = pq.read_table(p, columns=["point_id", "layer"])
        keys += list(zip(t.column("point_id").to_pylist(), t.column("layer").to_pylist(), strict=True))
    return keys


def test_kill_9_then_resume_has_every_point_once(tmp_path: Path) -> None:
    study = _slow_study(tmp_path)
    out = tmp_path / "out"
    st, base = load_study(study)
    expected = {p.id for p in expand(st, base).points}
    assert len(expected) == 120

    proc = _start(study, out)
    _wait_for_parts(out, 2, proc)
    os.killpg(proc.pid, signal.SIGKILL)  # the runner and its workers, mid-run, no chance to clean up
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    store = ResultStore(out)
    done_before = set(store.done())
    assert 0 < len(done_before) < len(expected), "the kill must land mid-run"
    assert not (out / "results.parquet").exists()

    with pytest.raises(StudyError, match="--resume"):
        run_study(study, out, workers=2, plots=False, progress=False)
    summary = run_study(study, out, workers=2, plots=False, progress=False, resume=True)
    assert summary.skipped == len(done_before)
    assert summary.done == len(expected) - len(done_before)

    rows = _raw_rows(out)
    assert len(rows) == len(set(rows)), "no row may be written twice"
    assert {pid for pid, _ in rows} == expected
    df = load_results(out)
    assert len(df) == len(expected) * 9  # 8 AlexNet layers + TOTAL per point
    assert (df.groupby("point_id").size() == 9).all()
    assert not list((out / "results").glob(".*.tmp"))


def test_kill_9_of_the_parent_only_stops_the_workers(tmp_path: Path) -> None:
    study = _slow_study(tmp_path)
    out = tmp_path / "out"
    proc = _start(study, out)
    _wait_for_parts(out, 1, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    time.sleep(2.0)  # the workers notice their parent is gone within 0.5 s
    before = set(ResultStore(out).part_files())
    time.sleep(1.0)
    assert set(ResultStore(out).part_files()) == before, "orphaned workers must not keep writing"
    rows = _raw_rows(out)
    assert len(rows) == len(set(rows)) and len(rows) % 9 == 0


def test_ctrl_c_saves_progress_and_says_how_to_resume(tmp_path: Path) -> None:
    study = _slow_study(tmp_path)
    out = tmp_path / "out"
    proc = _start(study, out)
    _wait_for_parts(out, 1, proc)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "--resume" in err and "Traceback" not in err
    assert ResultStore(out).done()


def test_append_is_atomic_and_load_dedups(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    with store.locked():
        store.append([{"point_id": "a", "layer": "TOTAL", "status": "ok", "energy": 1.0}])
        (store.parts / ".part-x.parquet.tmp").write_bytes(b"half a file")
    with store.locked():  # a new run sweeps temporaries of a killed one
        assert not list(store.parts.glob(".*.tmp"))
        store.append([{"point_id": "a", "layer": "TOTAL", "status": "ok", "energy": 2.0}])
    df = load_results(tmp_path)
    assert len(df) == 1 and df["energy"].iloc[0] == 2.0
    assert store.done() == {"a": "ok"}


def test_second_writer_is_refused(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    with store.locked(), pytest.raises(StudyError, match="another"), ResultStore(tmp_path).locked():
        pass
