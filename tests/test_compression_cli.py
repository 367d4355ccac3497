"""`clusterwatt compress`: clear errors for bad arguments, and one small end-to-end run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from simulator.trace import load_trace
from studies.commands.compress import compress


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(compress, list(args))
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--method", "magic"], "'magic' is not one of"),
        (["--method", "dkm", "--clusters", "1"], "1 is not in the range x>=2"),
        (["--method", "uniform", "--clusters", "6"], "must be a power of two"),
        (["--method", "dkm", "--dataset", "cifar10"], "needs --dataset-path"),
        (["--method", "dkm", "--dataset", "imagefolder", "--dataset-path", "/nonexistent/x"], "does not exist"),
        (["--method", "dkm", "--model", "vgg"], "neither a built-in model"),
        (["--method", "dkm", "--model", "/nonexistent/m.py:make"], "not found"),
        (["--method", "dkm", "--option", "nonsense"], "expected KEY=VALUE"),
        (["--method", "dkm", "--option", "bogus=1"], "bogus: Extra inputs are not permitted"),
        (["--method", "dkm", "--device", "tpu9"], "unknown device"),
        (["--method", "dkm"], "Missing option '--out'"),
    ],
)
def test_bad_arguments_give_a_usage_error(args: list[str], message: str, tmp_path: Path) -> None:
    if "--out" not in args and message != "Missing option '--out'":
        args = [*args, "--out", str(tmp_path / "out")]
    code, output = _run(*args)
    assert code == 2, output
    assert message in output
    assert "Traceback" not in output


def test_end_to_end_on_digits(tmp_path: Path) -> None:
    out = tmp_path / "run"
    code, output = _run(
        "--dataset", "digits", "--method", "kmeans", "--clusters", "4", "--float-epochs", "2", "--epochs", "1",
        "--no-cache", "--quiet", "--threads", "1", "--out", str(out),
    )  # fmt: skip
    assert code == 0, output
    assert "compression ratio" in output
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("float_accuracy", "compressed_accuracy", "compression_ratio", "wall_s", "layers"):
        assert key in metrics
    assert 0.0 <= metrics["compressed_accuracy"] <= 1.0 and metrics["compression_ratio"] > 1.0
    assert {row["name"] for row in metrics["layers"]} == {"conv1", "conv2", "fc1", "fc2", "fc3"}
    assert all(row["distinct"] <= 4 for row in metrics["layers"])
    trace = load_trace(out / "trace.json")
    assert trace.model.method == "kmeans" and trace.model.accuracy == metrics["compressed_accuracy"]
    assert (out / "model.pt").is_file() and (out / "model.json").is_file()


def test_user_model_file(tmp_path: Path) -> None:
    src = tmp_path / "tiny.py"
    src.write_text(
        "import torch.nn as nn\n"
        "def make(in_channels, num_classes):\n"
        "    return nn.Sequential(nn.Conv2d(in_channels, 4, 3), nn.ReLU(), nn.Flatten(),"
        " nn.Linear(4 * 6 * 6, num_classes))\n"
    )
    out = tmp_path / "run"
    code, output = _run(
        "--model", f"{src}:make", "--dataset", "digits", "--method", "uniform", "--clusters", "4",
        "--float-epochs", "1", "--epochs", "1", "--no-cache", "--quiet", "--out", str(out),
    )  # fmt: skip
    assert code == 0, output
    layers = load_trace(out / "trace.json").layers
    assert [t.weight_bits for t in layers] == [2, 2] and all(t.clustering is None for t in layers)
