"""The runner: training once per configuration (fake compression injected), rows per layer and TOTAL, failures
recorded instead of crashing, bit widths applied at simulation time."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from studies.runner import batches, run_study
from studies.spec import StudyError
from studies.store import ResultStore, load_results
from tests.study_helpers import FLOAT_ACCURACY, fake_accuracy, fake_compress, network_study, trained_study


def _calls(cache: Path) -> list[str]:
    p = cache / "jobs" / "calls.txt"
    return p.read_text().split() if p.is_file() else []


def test_trained_study_trains_once_and_reuses(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    study = trained_study(tmp_path)
    s = run_study(
        study, tmp_path / "a", workers=1, cache_dir=cache, compress_fn=fake_compress, plots=False, progress=False
    )
    assert s.total == 1 + 3 * 3 and s.done == s.total and s.failed == 0 and s.trained == 9
    assert sorted(_calls(cache)) == sorted(f"{m}-{k}" for m in ("kmeans", "dkm", "uniform") for k in (2, 4, 16))
    df = pd.read_parquet(tmp_path / "a" / "results.parquet")
    totals = df[df["layer"] == "TOTAL"]
    assert len(totals) == s.total and len(df) == s.total * 6  # 5 LeNet layers + TOTAL
    row = totals[(totals["method"] == "dkm") & (totals["clusters"] == 4)].iloc[0]
    assert row["accuracy"] == pytest.approx(fake_accuracy("dkm", 4))
    assert totals[totals["method"] == "float"]["accuracy"].iloc[0] == pytest.approx(FLOAT_ACCURACY)
    # the float model costs more than any clustered one on eyeriss
    assert totals[totals["method"] == "float"]["energy"].iloc[0] > totals[totals["method"] != "float"]["energy"].max()
    # a hardware sweep over the same jobs trains nothing new
    study2 = trained_study(tmp_path, sweep={"accelerator__glb__size_kb": [54, 216]})
    s2 = run_study(
        study2, tmp_path / "b", workers=2, cache_dir=cache, compress_fn=fake_compress, plots=False, progress=False
    )
    assert s2.trained == 0 and s2.done == 2 * s.total
    assert len(_calls(cache)) == 9


def test_bit_widths_apply_without_retraining(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    study = trained_study(tmp_path, methods=["kmeans"], clusters=[4], bits={"activations": [8, 16], "codebook": [8]})
    s = run_study(
        study, tmp_path / "o", workers=1, cache_dir=cache, compress_fn=fake_compress, plots=False, progress=False
    )
    assert s.trained == 1
    df = load_results(tmp_path / "o")
    t = df[(df["layer"] == "TOTAL") & (df["method"] == "kmeans")].set_index("act_bits")
    assert set(t.index) == {8, 16}
    assert (t["codebook_bits"] == 8).all()
    assert t.loc[8, "energy"] < t.loc[16, "energy"]


def test_training_failure_is_recorded(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    study = trained_study(
        tmp_path,
        methods=["kmeans", "dkm"],
        clusters=[4],
        training={"float_epochs": 1, "per_method": {"dkm": {"options": {"explode": True}}}},
    )
    s = run_study(
        study, tmp_path / "o", workers=1, cache_dir=cache, compress_fn=fake_compress, plots=False, progress=False
    )
    assert s.train_failed == 1 and s.failed == 1
    df = load_results(tmp_path / "o")
    bad = df[df["status"] == "failed"]
    assert list(bad["method"]) == ["dkm"] and "boom" in bad["error"].iloc[0]
    assert not list((cache / "jobs").glob(".tmp-*")), "a failed job leaves no temporary folder"


def test_unfit_hardware_becomes_failure_rows(tmp_path: Path) -> None:
    study = network_study(
        tmp_path,
        float_baseline=False,
        points=[
            {"accelerator__rf__weight__words": 1},
            {"accelerator__glb__size_kb": 9, "accelerator__glb__weight_kb": 8.5},
        ],
    )
    s = run_study(study, tmp_path / "o", workers=1, plots=True, progress=False)
    assert s.total == 2 and s.failed == 2
    df = load_results(tmp_path / "o")
    assert (df["status"] == "failed").all() and len(df) == 2
    assert df["error"].str.contains("cannot be mapped|weight_kb").all()
    assert (tmp_path / "o" / "summary.md").read_text().count("Failures") == 1


def test_retry_failed_replaces_failure_rows(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    boom = {"float_epochs": 1, "per_method": {"dkm": {"options": {"explode": True}}}}
    study = trained_study(tmp_path, methods=["kmeans", "dkm"], clusters=[4], training=boom)
    run_study(study, tmp_path / "o", workers=1, cache_dir=cache, compress_fn=fake_compress, plots=False, progress=False)
    s = run_study(
        study,
        tmp_path / "o",
        workers=1,
        cache_dir=cache,
        compress_fn=fake_compress,
        plots=False,
        progress=False,
        resume=True,
    )
    assert (s.skipped, s.done) == (3, 0)  # a failure is a result: resume does not retry it
    s = run_study(
        study,
        tmp_path / "o",
        workers=1,
        cache_dir=cache,
        compress_fn=fake_compress,
        plots=False,
        progress=False,
        resume=True,
        retry_failed=True,
    )
    assert (s.skipped, s.failed) == (2, 1)
    raw = ResultStore(tmp_path / "o").read_parts()
    assert len(raw) == len(raw.drop_duplicates(["point_id", "layer"]))
    assert (raw["status"] == "failed").sum() == 1


def test_existing_results_need_resume_or_overwrite(tmp_path: Path) -> None:
    study = network_study(tmp_path, float_baseline=False)
    run_study(study, tmp_path / "o", workers=1, plots=False, progress=False)
    with pytest.raises(StudyError, match="--resume"):
        run_study(study, tmp_path / "o", workers=1, plots=False, progress=False)
    s = run_study(study, tmp_path / "o", workers=1, plots=False, progress=False, resume=True)
    assert s.skipped == 1 and s.done == 0
    s = run_study(study, tmp_path / "o", workers=1, plots=False, progress=False, overwrite=True)
    assert s.done == 1 and len(ResultStore(tmp_path / "o").part_files()) == 1


def test_edited_study_resumes_only_new_points(tmp_path: Path) -> None:
    study = network_study(tmp_path, float_baseline=False, clusters=[4])
    run_study(study, tmp_path / "o", workers=1, plots=False, progress=False)
    study = network_study(tmp_path, float_baseline=False, clusters=[4, 16])
    s = run_study(study, tmp_path / "o", workers=1, plots=False, progress=False, resume=True)
    assert (s.skipped, s.done) == (1, 1)
    study = network_study(tmp_path, float_baseline=False, clusters=[16])
    run_study(study, tmp_path / "o", workers=1, plots=False, progress=False, resume=True)
    assert set(load_results(tmp_path / "o")["clusters"]) == {16}  # the current study's points only
    assert set(load_results(tmp_path / "o", all_points=True)["clusters"]) == {4, 16}


def test_batches_cover_points_once() -> None:
    pts = list(range(103))
    got = [p for b in batches(pts, 2) for p in b]  # type: ignore[arg-type]
    assert got == pts
    assert max(len(b) for b in batches(pts, 2)) <= 25  # type: ignore[arg-type]


def test_float_baseline_of_a_uniform_trace_is_unquantized(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    study = trained_study(tmp_path, methods=["uniform"], clusters=[4])
    run_study(study, tmp_path / "o", workers=1, cache_dir=cache, compress_fn=fake_compress, plots=False, progress=False)
    df = load_results(tmp_path / "o")
    fl = df[(df["method"] == "float") & (df["layer"] != "TOTAL")]
    uni = df[(df["method"] == "uniform") & (df["layer"] != "TOTAL")]
    assert (fl["weight_bits"] == 16).all() and (uni["weight_bits"] == 2).all()
