"""The layer-trace format: round trips, replay, and clear rejection of bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulator.clustering import cluster_layers
from simulator.networks import get_network
from simulator.simulate import simulate
from simulator.trace import ModelInfo, TraceError, load_trace, trace_from_layers


def save(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(data))
    return path


def lenet_like() -> dict:
    return {
        "format": "clusterwatt-trace",
        "version": 1,
        "model": {"name": "toy", "method": "kmeans", "accuracy": 0.98},
        "layers": [
            {
                "name": "conv1",
                "kind": "conv",
                "shape": {"C": 1, "H": 28, "W": 28, "M": 6, "R": 5, "S": 5, "pad": 2},
                "clustering": {"clusters": 16, "unique": 15},
                "ifmap_sparsity": 0.1,
            },
            {
                "name": "conv2",
                "kind": "conv",
                "shape": {"C": 6, "H": 14, "W": 14, "M": 16, "R": 5, "S": 5},
                "clustering": {"clusters": 4, "vector_length": 5, "distinct_rows": 2.5},
                "ifmap_sparsity": 0.5,
            },
            {"name": "fc", "kind": "fc", "shape": {"C": 400, "M": 10}, "weight_bits": 8, "act_bits": 8},
        ],
    }


def test_round_trip_of_a_clustered_network(tmp_path: Path) -> None:
    layers = cluster_layers(get_network("resnet18"), clusters=16)
    trace = trace_from_layers(layers, ModelInfo(name="resnet18-k16"))
    path = tmp_path / "t.json"
    trace.save(path)
    again = load_trace(path).to_layers()
    assert again == layers


def test_replay_gives_the_same_energy_as_the_layers(tmp_path: Path) -> None:
    layers = cluster_layers(get_network("alexnet", 2), clusters=8, weight_bits=8, act_bits=8)
    path = tmp_path / "t.json"
    trace_from_layers(layers).save(path)
    a = simulate("eyeriss", layers).total()["energy"]["total"]
    b = simulate("eyeriss", path).total()["energy"]["total"]
    assert a == b


def test_a_hand_written_trace_replays(tmp_path: Path) -> None:
    path = save(tmp_path, lenet_like())
    result = simulate("eyeriss", path)
    assert [r.name for r in result.layers] == ["conv1", "conv2", "fc"]
    assert result.layers[1].layer.numerics.clustering.distinct_rows == 2.5  # type: ignore[union-attr]
    assert result.layers[0].layer.numerics.ofmap_sparsity == 0.5  # the next layer's measured input sparsity


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(version=2), "version 2 is not supported"),
        (lambda d: d.update(format="other"), "not a clusterwatt trace"),
        (lambda d: d["layers"][1]["shape"].update(C=7), "takes 7 input channels"),
        (lambda d: d["layers"][0]["clustering"].update(clusters=1000), "1000 clusters but only 150"),
        (lambda d: d["layers"][0]["clustering"].update(unique=17), "unique"),
        (lambda d: d["layers"][0].update(colour="red"), "colour"),
        (lambda d: d["layers"][2].update(inputs=["nope"]), "not an earlier layer"),
        (lambda d: d["layers"][0].update(ifmap_sparsity=1.5), "ifmap_sparsity"),
    ],
)
def test_bad_traces_are_rejected_with_a_reason(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    data = lenet_like()
    mutate(data)
    path = save(tmp_path, data)
    with pytest.raises(TraceError, match=message) as info:
        load_trace(path)
    assert str(path) in str(info.value)


def test_malformed_json_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(TraceError, match="not valid JSON"):
        load_trace(bad)
    with pytest.raises(TraceError, match="not found"):
        load_trace(tmp_path / "missing.json")
