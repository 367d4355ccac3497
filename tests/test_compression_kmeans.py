"""k-means weight sharing and kmeans-wr: at most K values, codebook/assignment consistency, summed gradients."""

from __future__ import annotations

import torch
from torch import nn

from compression.base import as_vectors
from compression.config import KMeansConfig, KMeansLayerConfig
from compression.kmeans import KMeans, KMeansWR
from compression.models import LeNet5


def _lenet() -> nn.Module:
    torch.manual_seed(0)
    return LeNet5()


def test_finalize_leaves_at_most_k_values_consistent_with_codebook() -> None:
    model = _lenet()
    km = KMeans(model, KMeansConfig(global_config=KMeansLayerConfig(clusters=8)))
    km.prepare()
    model(torch.randn(2, 1, 28, 28)).sum().backward()
    km.finalize()
    assert set(km.layers_) == {"conv1", "conv2", "fc1", "fc2", "fc3"}
    for name, rec in km.layers_.items():
        w = dict(model.named_modules())[name].weight
        assert isinstance(w, nn.Parameter)  # the parametrization is gone
        assert int(w.unique().numel()) <= 8
        assert rec.distinct == int(w.unique().numel())
        assert torch.equal(rec.codebook_[rec.assignments_].reshape(w.shape), w.detach())
        assert rec.index_bits == 3


def test_centroid_gradient_is_the_sum_of_shared_weight_gradients() -> None:
    torch.manual_seed(1)
    layer = nn.Linear(6, 5)
    km = KMeans(layer, KMeansConfig(global_config=KMeansLayerConfig(clusters=3)))
    km.prepare()
    shared = layer.parametrizations.weight[0]
    x = torch.randn(4, 6)
    w = layer.weight  # codebook_[assignments_], differentiable w.r.t. the codebook
    w.retain_grad()
    torch.nn.functional.linear(x, w, layer.bias).square().sum().backward()
    expected = torch.zeros(3).index_add_(0, shared.assignments_, w.grad.reshape(-1))
    assert torch.allclose(shared.codebook_.grad.reshape(-1), expected, atol=1e-6)
    assert layer.parametrizations.weight.original.grad is None


def test_training_moves_centroids_not_assignments() -> None:
    torch.manual_seed(2)
    layer = nn.Linear(8, 4)
    km = KMeans(layer, KMeansConfig(global_config=KMeansLayerConfig(clusters=4)))
    km.prepare()
    before = layer.parametrizations.weight[0].assignments_.clone()
    cb_before = layer.parametrizations.weight[0].codebook_.detach().clone()
    opt = torch.optim.SGD([p for p in layer.parameters() if p.requires_grad], lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        layer(torch.randn(16, 8)).sum().backward()
        opt.step()
    km.finalize()
    rec = km.layers_[""]
    assert torch.equal(rec.assignments_, before)
    assert not torch.allclose(rec.codebook_, cb_before)


def test_kmeans_wr_shares_filter_rows() -> None:
    model = _lenet()
    wr = KMeansWR(model, KMeansWR.default_config(4))
    wr.compress()
    conv2 = model.conv2.weight.detach()
    rows = as_vectors(conv2, 5)
    assert torch.unique(rows, dim=0).shape[0] <= 4
    rec = wr.layers_["conv2"]
    assert rec.vector_length == 5 and rec.codebook_.shape == (4, 5)
    assert rec.distinct_rows() is not None and 1.0 <= rec.distinct_rows() <= 4.0
    # Linear layers fall back to scalars under "row"
    assert wr.layers_["fc1"].vector_length == 1
    assert int(model.fc1.weight.unique().numel()) <= 4


def test_report_has_one_row_per_layer() -> None:
    model = _lenet()
    km = KMeansWR(model, KMeansWR.default_config(16))
    km.compress()
    df = km.report()
    assert list(df["name"]) == ["conv1", "conv2", "fc1", "fc2", "fc3"]
    assert {"K", "vector_length", "distinct", "index_bits", "codebook_bits", "compression_ratio"} <= set(df.columns)
    assert (df["distinct"] <= 16).all()
    assert (df["compression_ratio"] > 1).all()
