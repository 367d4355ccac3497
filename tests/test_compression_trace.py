"""Trace export: LeNet-5 and ResNet-20 traces load (with the chaining check), shapes, clustering, sparsity."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from compression.kmeans import KMeansWR
from compression.models import LeNet5, ResNet20
from compression.trace_export import capture_trace, layer_producers
from simulator.trace import ModelInfo, load_trace


def test_lenet5_trace_round_trips_with_clustering(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = LeNet5()
    wr = KMeansWR(model, KMeansWR.default_config(4))
    wr.compress()
    trace = capture_trace(model, torch.randn(8, 1, 28, 28), wr.layers_, ModelInfo(name="lenet5", method="kmeans-wr"))
    path = tmp_path / "trace.json"
    trace.save(path)
    loaded = load_trace(path)
    layers = {t.name: t for t in loaded.layers}
    assert list(layers) == ["conv1", "conv2", "fc1", "fc2", "fc3"]
    c2 = layers["conv2"]
    assert (c2.kind, c2.shape.C, c2.shape.H, c2.shape.W, c2.shape.M, c2.shape.R, c2.shape.S) == (
        "conv",
        6,
        14,
        14,
        16,
        5,
        5,
    )
    assert c2.shape.N == 8 and c2.shape.pad == 0 and layers["conv1"].shape.pad == 2
    assert c2.clustering is not None and c2.clustering.vector_length == 5 and c2.clustering.clusters == 4
    assert c2.clustering.unique <= 4 and 1.0 <= c2.clustering.distinct_rows <= 4.0
    assert c2.clustering.codebook_bits == 16 and c2.weight_bits == 16 and c2.act_bits == 16
    fc1 = layers["fc1"]
    assert (fc1.kind, fc1.shape.C, fc1.shape.H, fc1.shape.W, fc1.shape.R, fc1.shape.S) == ("fc", 400, 1, 1, 1, 1)
    assert fc1.clustering.vector_length == 1 and fc1.clustering.distinct_rows is None
    # inputs after ReLU + max-pool: measured zeros
    assert c2.ifmap_sparsity > 0.1 and layers["conv1"].ifmap_sparsity == 0.0
    assert all(not t.inputs for t in loaded.layers)  # a plain chain
    assert len(loaded.to_layers()) == 5


def test_resnet20_trace_names_its_producers(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = ResNet20(in_channels=1, image_size=28)
    trace = capture_trace(model, torch.randn(2, 1, 28, 28), act_bits=8)
    trace.save(tmp_path / "r20.json")
    loaded = load_trace(tmp_path / "r20.json")
    layers = {t.name: t for t in loaded.layers}
    assert len(layers) == 22  # stem + 18 block convs + 2 shortcut convs + fc
    assert layers["layers.3.shortcut.0"].inputs == layers["layers.3.conv1"].inputs
    assert "layers.2.conv2" in layers["layers.3.shortcut.0"].inputs
    assert set(layers["layers.4.conv1"].inputs) == {"layers.3.conv2", "layers.3.shortcut.0"}
    assert layers["layers.3.conv2"].shape.H == 14 and layers["layers.3.conv1"].shape.stride == 2
    assert layers["fc"].kind == "fc" and layers["fc"].shape.C == 64
    assert all(t.act_bits == 8 and t.clustering is None for t in loaded.layers)


def test_plain_order_fallback_for_untraceable_models() -> None:
    class Branchy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(4, 4)
            self.b = nn.Linear(4, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.a(x)
            if h.sum() > 1e9:  # data-dependent control flow: fx cannot trace this
                h = -h
            return self.b(h)

    with pytest.warns(UserWarning, match="fx could not trace"):
        assert layer_producers(Branchy()) is None
    with pytest.warns(UserWarning):
        trace = capture_trace(Branchy(), torch.randn(3, 4))
    assert [t.name for t in trace.layers] == ["a", "b"] and all(not t.inputs for t in trace.layers)
    trace.to_layers()


def test_layers_fed_by_the_input_and_by_concatenation() -> None:
    class TwoHeads(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.left = nn.Conv2d(3, 4, 3, padding=1)
            self.right = nn.Conv2d(3, 6, 1)
            self.merge = nn.Conv2d(10, 5, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.merge(torch.cat([torch.relu(self.left(x)), self.right(x)], dim=1))

    trace = capture_trace(TwoHeads(), torch.randn(1, 3, 8, 8))
    layers = {t.name: t for t in trace.layers}
    assert layers["left"].inputs == []
    assert layers["right"].inputs == ["input"]
    assert layers["merge"].inputs == ["left", "right"]
    trace.to_layers()  # 4 + 6 channels feed merge's 10
