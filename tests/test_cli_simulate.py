"""`clusterwatt simulate`, `sweep` and `paper-check` as a user runs them: outputs, contracts and errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from studies.cli import cli

LEVEL_KEYS = {"mac", "rf", "noc", "glb", "dram"}
DATA_KEYS = {"ifmap", "weight", "psum", "index", "codebook"}


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_json_output_keeps_the_documented_keys() -> None:
    data = json.loads(run("simulate", "--network", "alexnet", "--batch", "4", "--format", "json"))
    assert len(data["layers"]) == 8
    for layer in data["layers"]:
        for key in ("name", "macs", "active_pes", "utilization", "dram_bytes", "glb_bytes", "energy"):
            assert key in layer
        e = layer["energy"]
        assert {"total", "unit", "by_level", "by_data"} <= set(e)
        assert set(e["by_level"]) == LEVEL_KEYS and set(e["by_data"]) == DATA_KEYS
        assert e["total"] == pytest.approx(sum(e["by_level"].values()))
        assert set(layer["paper_metrics"]) >= {"compute_fa", "weight_repr_bits", "act_repr_bits", "total_per_mac"}
    total = data["total"]
    assert {"macs", "dram_bytes", "glb_bytes", "energy"} <= set(total)
    assert total["macs"] == sum(x["macs"] for x in data["layers"])
    assert total["energy"]["total"] == pytest.approx(sum(x["energy"]["total"] for x in data["layers"]))


def test_table_is_readable_and_clustered_runs_show_index_and_codebook() -> None:
    text = run("simulate", "--network", "alexnet", "--clusters", "16", "--weight-bits", "8", "--act-bits", "8")
    assert "TOTAL" in text and "%dram" in text and "E/bound" in text
    assert "%index" in text and "%codebook" in text and "paper E/MAC" in text
    assert "CONV3" in text and "FC8" in text


def test_csv_is_a_dataframe_and_out_writes_a_file(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    run("simulate", "--network", "resnet18", "--format", "csv", "--out", str(out))
    df = pd.read_csv(out)
    assert len(df) == 21 and "energy__by_level__dram" in df.columns
    df2 = pd.read_csv(io.StringIO(run("simulate", "--network", "vgg16", "--format", "csv")))
    assert df2["macs"].sum() == pytest.approx(15.47e9, rel=0.01)


def test_saved_mappings_re_evaluate_to_the_same_energy(tmp_path: Path) -> None:
    first = tmp_path / "first.json"
    run("simulate", "--network", "alexnet", "--format", "json", "--out", str(first))
    again = json.loads(run("simulate", "--network", "alexnet", "--format", "json", "--mappings", str(first)))
    before = json.loads(first.read_text())
    assert again["total"]["energy"]["total"] == pytest.approx(before["total"]["energy"]["total"])
    assert [x["mapping"] for x in again["layers"]] == [x["mapping"] for x in before["layers"]]


def test_show_mapping_prints_plain_data() -> None:
    text = run("simulate", "--network", "alexnet", "--show-mapping")
    assert "mappings:" in text and "CONV1: RS n=" in text


def test_user_spec_file_is_used(tmp_path: Path) -> None:
    spec = tmp_path / "mine.yaml"
    spec.write_text("extends: eyeriss\nname: eyeriss-2x-glb\nglb: {size_kb: 216}\n")
    text = run("simulate", "--accelerator", str(spec), "--network", "alexnet")
    assert "on eyeriss-2x-glb" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ifmap-sparsity", "0.1,0.2"], "2 values but the network has 8 layers"),
        (["--ifmap-sparsity", "x"], "comma-separated numbers"),
        (["--network", "lenet9"], "unknown network"),
        (["--accelerator", "nope.yaml"], "not found"),
        (["--clusters", "4", "--cluster-rate", "0.1"], "not both"),
        (["--vector-length", "0"], "must be >= 1"),
        (["--set", "glb__size_kb=-3"], "glb.size_kb"),
        (["--trace", "missing.json"], "not found"),
    ],
)
def test_bad_input_is_one_clear_line(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["simulate", *args])
    assert result.exit_code != 0
    assert message.lower() in result.output.lower()
    assert "Traceback" not in result.output


def test_sweep_shows_k_and_bits_in_one_command() -> None:
    text = run("sweep", "--network", "alexnet", "--clusters", "2,16,256", "--bits", "4,16")
    assert "raw" in text and "16-bit vs raw" in text
    data = json.loads(run("sweep", "--network", "alexnet", "--clusters", "2,256", "--bits", "16", "--format", "json"))
    by_k = {row["clusters"]: row["energy_per_mac"] for row in data}
    assert by_k[2] < by_k[256] < by_k[0]


def test_paper_check_reports_r2_and_writes_a_plot(tmp_path: Path) -> None:
    text = run("paper-check", "--network", "alexnet", "--rates", "0.5,0.2,0.05", "--out", str(tmp_path))
    assert "R^2" in text
    assert (tmp_path / "alexnet_paper_check.png").stat().st_size > 1000
    df = pd.read_csv(tmp_path / "alexnet_paper_check.csv")
    assert list(df["cluster_rate"]) == [0.5, 0.2, 0.05]
    assert df["hierarchy_energy"].is_monotonic_decreasing
