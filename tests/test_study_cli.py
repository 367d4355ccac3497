"""`clusterwatt study ...` and `clusterwatt demo` through click's test runner: output, exit codes, one-line errors."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from studies.cli import cli
from tests.study_helpers import network_study


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_run_then_resume_then_plot(tmp_path: Path) -> None:
    study = network_study(tmp_path, clusters=[4, 16])
    out = tmp_path / "o"
    r = _invoke("study", "run", str(study), "--out", str(out), "--workers", "1", "-q")
    assert r.exit_code == 0, r.output
    assert "3 points: 3 simulated now" in r.output
    assert "results.parquet" in r.output and "summary.md" in r.output
    assert (out / "plots" / "energy_vs_clusters.png").is_file()
    r = _invoke("study", "run", str(study), "--out", str(out), "-q")
    assert r.exit_code != 0 and "--resume" in r.output and "Traceback" not in r.output
    r = _invoke("study", "run", str(study), "--out", str(out), "--resume", "-q")
    assert r.exit_code == 0 and "0 simulated now, 3 already in the store" in r.output
    r = _invoke("study", "plot", str(out))
    assert r.exit_code == 0 and "energy_vs_clusters.png" in r.output


def test_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    cases = {
        "name: x\nnetwork: alexnet\nclustrs: [4]\n": "clustrs",
        "name: x\nnetwork: [alexnet\n": "not valid YAML",
        "name: x\nnetwork: alexnet\naccelerators: [nope]\n": "unknown accelerator preset 'nope'",
        "name: x\ntraces: [missing.json]\n": "trace file not found",
    }
    for text, expected in cases.items():
        bad.write_text(text)
        r = _invoke("study", "run", str(bad), "--out", str(tmp_path / "o"), "-q")
        assert r.exit_code == 1, r.output
        lines = [line for line in r.output.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("Error: ") and expected in lines[0], r.output
    r = _invoke("study", "run", str(tmp_path / "none.yaml"))
    assert r.exit_code == 1 and "study file not found" in r.output
    r = _invoke("study", "plot", str(tmp_path))
    assert r.exit_code == 1 and "no results" in r.output


def test_show_and_list(tmp_path: Path) -> None:
    r = _invoke("study", "list")
    assert r.exit_code == 0 and "demo" in r.output and "hw_sweep_alexnet" in r.output
    r = _invoke("study", "show", "demo")
    assert r.exit_code == 0 and "21 points" in r.output and "20 compression jobs" in r.output
    study = network_study(tmp_path, sweep={"accelerator__glb__size_kb": [54, 108]})
    r = _invoke("study", "show", str(study))
    assert r.exit_code == 0 and "4 points" in r.output and "glb__size_kb=108" in r.output


def test_demo_help_names_the_output() -> None:
    r = _invoke("demo", "--help")
    assert r.exit_code == 0 and "runs/demo" in r.output
