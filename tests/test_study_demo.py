"""End to end with real training (slow): a reduced demo through compression.pipeline, then the shipped demo."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from studies.runner import run_study
from tests.study_helpers import write_study

pytestmark = pytest.mark.slow


def test_small_trained_study_end_to_end(tmp_path: Path) -> None:
    study = write_study(
        tmp_path / "small.yaml",
        name="small",
        model="lenet5",
        dataset="mnist5k",
        methods=["kmeans", "dkm"],
        clusters=[4, 16],
        training={"float_epochs": 2, "epochs": 1},
        accelerators=["eyeriss"],
        batch=[1],
    )
    cache = tmp_path / "cache"
    s = run_study(study, tmp_path / "o", workers=2, cache_dir=cache, progress=False)
    assert s.failed == 0 and s.trained == 4 and s.done == 5
    df = pd.read_parquet(tmp_path / "o" / "results.parquet")
    totals = df[df["layer"] == "TOTAL"]
    assert totals["accuracy"].between(0.1, 1.0).all()
    assert totals["float_accuracy"].nunique() == 1
    assert (tmp_path / "o" / "plots" / "energy_vs_accuracy.png").is_file()
    # the second run reuses every trained model
    s2 = run_study(study, tmp_path / "o2", workers=2, cache_dir=cache, plots=False, progress=False)
    assert s2.trained == 0 and s2.done == 5


def test_shipped_demo_runs(tmp_path: Path) -> None:
    s = run_study("demo", tmp_path / "demo", workers=2, cache_dir=tmp_path / "cache", progress=False)
    assert s.total == 21 and s.failed == 0
    assert (tmp_path / "demo" / "plots" / "energy_vs_accuracy.png").is_file()
    assert "Recommendation" in (tmp_path / "demo" / "summary.md").read_text()
