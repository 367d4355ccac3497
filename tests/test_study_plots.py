"""Plots and summary files are written, non-empty, and name what they show."""

from __future__ import annotations

from pathlib import Path

import pytest

from studies.report import write_outputs
from studies.runner import run_study
from tests.study_helpers import fake_compress, network_study, trained_study

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _check(paths: list[Path], names: set[str]) -> None:
    stems = {p.stem for p in paths}
    assert names <= stems, f"missing plots: {names - stems}"
    for p in paths:
        assert p.stat().st_size > 2000
        if p.suffix == ".png":
            assert p.read_bytes()[:8] == PNG_MAGIC
    assert {p.suffix for p in paths} == {".png", ".svg"}


def test_trained_study_plots_and_summary(tmp_path: Path) -> None:
    study = trained_study(tmp_path, sweep={"accelerator__glb__size_kb": [54, 108]})
    s = run_study(study, tmp_path / "o", workers=1, cache_dir=tmp_path / "c", compress_fn=fake_compress, progress=False)
    plots = s.files["plots"]
    _check(
        plots,
        {
            "energy_vs_accuracy",
            "energy_vs_clusters",
            "energy_vs_bits",
            "breakdown_by_level",
            "breakdown_by_data",
            "heatmap_glb__size_kb_x_clusters",
        },
    )
    svg = (tmp_path / "o" / "plots" / "energy_vs_accuracy.svg").read_text()
    assert "Top-1 test accuracy (%)" in svg and "Energy per image" in svg and "Pareto" in svg
    md = (tmp_path / "o" / "summary.md").read_text()
    assert "Pareto-optimal points" in md and "Recommendation" in md and "dkm" in md
    html = (tmp_path / "o" / "summary.html").read_text()
    assert "<table>" in html and "energy_vs_accuracy.png" in html


def test_hardware_sweep_heatmaps_and_bit_panels(tmp_path: Path) -> None:
    study = network_study(
        tmp_path,
        methods=["kmeans", "uniform"],
        clusters=[4, 16],
        bits={"activations": [8, 16]},
        sweep={
            "accelerator__glb__size_kb": [54, 108],
            "accelerator__pe_array": [{"rows": 12, "cols": 14}, {"rows": 16, "cols": 16}],
        },
    )
    s = run_study(study, tmp_path / "o", workers=2, progress=False)
    _check(
        s.files["plots"],
        {
            "energy_vs_clusters",
            "energy_vs_bits",
            "breakdown_by_level",
            "heatmap_glb__size_kb_x_clusters",
            "heatmap_glb__size_kb_x_pe_array",
        },
    )
    assert "energy_vs_accuracy" not in {p.stem for p in s.files["plots"]}  # no accuracy without training
    svg = (tmp_path / "o" / "plots" / "energy_vs_bits.svg").read_text()
    assert "Activation bits" in svg
    heat = (tmp_path / "o" / "plots" / "heatmap_glb__size_kb_x_pe_array.svg").read_text()
    assert "Global buffer size (kB)" in heat and "16x16" in heat


def test_replot_from_folder(tmp_path: Path) -> None:
    study = network_study(tmp_path, clusters=[4, 16])
    run_study(study, tmp_path / "o", workers=1, plots=False, progress=False)
    assert not (tmp_path / "o" / "plots").exists()
    files = write_outputs(tmp_path / "o")
    assert (tmp_path / "o" / "plots" / "energy_vs_clusters.png").is_file()
    assert files["summary_md"].is_file()


def test_plot_of_empty_folder_fails_cleanly(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no results"):
        write_outputs(tmp_path)
