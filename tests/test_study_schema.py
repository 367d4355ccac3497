"""Study files: validation, ranges, and one-line error messages that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from studies.expand import expand, load_expansion
from studies.spec import StudyError, expand_values, load_study, parse_study, shipped_studies
from tests.study_helpers import network_study, write_study


def _error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(StudyError) as info:
        load_expansion(path)
    message = str(info.value)
    assert "\n" not in message, "errors must be one line"
    assert message.startswith(str(path)), "errors name the file"
    return message


def test_shipped_studies_load_and_expand() -> None:
    names = shipped_studies()
    assert {"demo", "hw_sweep_alexnet"} <= set(names)
    demo, _ = load_study("demo")
    assert demo.methods == ["kmeans", "deep-kmeans", "dkm", "uniform"]
    assert demo.clusters == [2, 4, 8, 16, 32]
    assert demo.accelerators == ["eyeriss"]
    assert demo.mode == "trained"
    hw, base = load_study("hw_sweep_alexnet")
    assert hw.mode == "network"
    assert len(expand(hw, base).hardware) >= 6


def test_unknown_key_is_named(tmp_path: Path) -> None:
    msg = _error(tmp_path, "name: x\nnetwork: alexnet\nclustrs: [4]\n")
    assert "clustrs" in msg and "unknown key" in msg and "bad.yaml" in msg


def test_bad_value_names_field_and_index(tmp_path: Path) -> None:
    msg = _error(tmp_path, "name: x\nnetwork: alexnet\nclusters: [4, lots]\n")
    assert "clusters.1" in msg


def test_unknown_method(tmp_path: Path) -> None:
    msg = _error(tmp_path, "name: x\nnetwork: alexnet\nmethods: [kmeans, kmedoids]\n")
    assert "methods" in msg and "kmedoids" in msg


def test_bad_yaml_gives_line(tmp_path: Path) -> None:
    msg = _error(tmp_path, "name: x\nnetwork: [alexnet\n")
    assert "not valid YAML" in msg and "line" in msg


def test_exactly_one_workload(tmp_path: Path) -> None:
    msg = _error(tmp_path, "name: x\nnetwork: alexnet\nmodel: lenet5\ndataset: mnist5k\n")
    assert "exactly one workload" in msg
    msg = _error(tmp_path, "name: x\n")
    assert "exactly one workload" in msg


def test_uniform_needs_powers_of_two(tmp_path: Path) -> None:
    msg = _error(tmp_path, "name: x\nnetwork: alexnet\nmethods: [uniform]\nclusters: [3, 4]\n")
    assert "power of two" in msg and "[3]" in msg


def test_unknown_preset(tmp_path: Path) -> None:
    msg = _error(tmp_path, "name: x\nnetwork: alexnet\naccelerators: [eyeriss, eyerisss]\n")
    assert "accelerators[1]" in msg and "eyerisss" in msg


def test_unknown_override_path(tmp_path: Path) -> None:
    msg = _error(tmp_path, "name: x\nnetwork: alexnet\nsweep:\n  accelerator__glb__sise_kb: [54]\n")
    assert "sise_kb" in msg


def test_override_needs_prefix(tmp_path: Path) -> None:
    msg = _error(tmp_path, "name: x\nnetwork: alexnet\nsweep:\n  glb__size_kb: [54]\n")
    assert "accelerator__" in msg and "sweep" in msg


def test_invalid_override_value(tmp_path: Path) -> None:
    msg = _error(tmp_path, "name: x\nnetwork: alexnet\nsweep:\n  accelerator__glb__size_kb: [54, -1]\n")
    assert "accelerator__glb__size_kb" in msg and "-1" in msg


def test_missing_trace_file(tmp_path: Path) -> None:
    msg = _error(tmp_path, "name: x\ntraces: [nowhere.json]\n")
    assert "traces[0]" in msg and "not found" in msg


def test_unknown_network(tmp_path: Path) -> None:
    msg = _error(tmp_path, "name: x\nnetwork: alexnett\n")
    assert "alexnett" in msg


def test_missing_file_and_shipped_names() -> None:
    with pytest.raises(StudyError, match="not found"):
        load_study("no_such_study.yaml")
    with pytest.raises(StudyError, match="demo"):
        load_study("no_such_study")


def test_ranges() -> None:
    assert expand_values({"start": 2, "stop": 32, "mul": 2}, "k") == [2, 4, 8, 16, 32]
    assert expand_values({"start": 54, "stop": 216, "step": 54}, "g") == [54, 108, 162, 216]
    assert expand_values(8, "x") == [8]
    with pytest.raises(ValueError, match="range"):
        expand_values({"rows": 12, "cols": 14}, "pe")
    st = parse_study({"name": "r", "network": "alexnet", "clusters": {"start": 4, "stop": 16, "mul": 2}})
    assert st.clusters == [4, 8, 16]


def test_training_per_method_checked() -> None:
    with pytest.raises(StudyError, match="per_method"):
        parse_study({"name": "t", "model": "lenet5", "dataset": "mnist5k", "training": {"per_method": {"nope": {}}}})
    st = parse_study(
        {
            "name": "t",
            "model": "lenet5",
            "dataset": "mnist5k",
            "training": {"epochs": 2, "lambda": 1e-4, "per_method": {"dkm": {"epochs": 1}}},
        }
    )
    assert st.training.job_fields("dkm")["epochs"] == 1
    assert st.training.job_fields("kmeans") == {"epochs": 2, "float_epochs": 30, "lambda": 1e-4}


def test_trace_study_rejects_compression_axes(tmp_path: Path) -> None:
    path = network_study(tmp_path)
    text = path.read_text().replace("network: alexnet", "traces: [t.json]")
    msg = _error(tmp_path, text)
    assert "trace" in msg and ("methods" in msg or "clusters" in msg or "not found" in msg)


def test_good_file_roundtrip(tmp_path: Path) -> None:
    path = write_study(
        tmp_path / "ok.yaml",
        name="ok",
        network="alexnet",
        methods=["kmeans", "uniform"],
        clusters=[4, 16],
        bits={"activations": [8, 16]},
        sweep={"accelerator__glb__size_kb": [54, 108]},
        points=[{"accelerator__glb__size_kb": 216, "accelerator__pe_array": {"rows": 16, "cols": 16}}],
    )
    st, _ = load_study(path)
    assert st.override_paths == ["accelerator__glb__size_kb", "accelerator__pe_array"]
    assert st.bits.activations == [8, 16] and st.bits.codebook == [None]


def test_unknown_model_and_dataset(tmp_path: Path) -> None:
    msg = _error(tmp_path, "name: x\nmodel: lenet6\ndataset: mnist5k\n")
    assert "model" in msg and "lenet6" in msg
    msg = _error(tmp_path, "name: x\nmodel: lenet5\ndataset: mnist6k\n")
    assert "dataset" in msg and "mnist6k" in msg
    msg = _error(tmp_path, "name: x\nmodel: nets.py:build\ndataset: mnist5k\n")
    assert "model: file not found" in msg
