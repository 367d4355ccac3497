"""Deep k-Means regularizer: the SVD and hard forms against hand-computed cases, and the compressor."""

from __future__ import annotations

import torch
from torch import nn

from compression.config import DeepKMeansConfig, DeepKMeansLayerConfig
from compression.deep_kmeans import (
    DeepKMeans,
    hard_penalty,
    indicator_basis,
    spectral_penalty,
    svd_basis,
)


def test_hard_penalty_is_the_trace_form_with_an_indicator_f() -> None:
    x = torch.randn(12, 3, generator=torch.Generator().manual_seed(0))
    a = torch.tensor([0, 1, 2, 0, 1, 2, 0, 0, 1, 1, 2, 0])
    f = indicator_basis(a, 3)
    assert torch.allclose(f.T @ f, torch.eye(3), atol=1e-6)
    assert torch.allclose(hard_penalty(x, a, 3), spectral_penalty(x, f), rtol=1e-5)


def test_hard_penalty_gradient_pulls_rows_to_their_centroid() -> None:
    # rows [0, 0], [2, 0] in cluster 0 (mean [1, 0]); row [5, 1] alone in cluster 1
    x = torch.tensor([[0.0, 0.0], [2.0, 0.0], [5.0, 1.0]], requires_grad=True)
    a = torch.tensor([0, 0, 1])
    p = hard_penalty(x, a, 2)
    assert float(p.detach()) == 2.0  # 1 + 1 + 0
    p.backward()
    assert torch.allclose(x.grad, torch.tensor([[-2.0, 0.0], [2.0, 0.0], [0.0, 0.0]]))


def test_svd_form_is_degenerate_when_k_reaches_the_row_length() -> None:
    x = torch.randn(30, 3, generator=torch.Generator().manual_seed(1), requires_grad=True)
    f = svd_basis(x, 4)  # K = 4 >= S = 3: F spans x's whole column space
    p = spectral_penalty(x, f)
    p.backward()
    assert abs(float(p.detach())) < 1e-4
    assert float(x.grad.abs().max()) < 1e-5


def test_svd_form_with_k_below_s_leaves_the_trailing_singular_values() -> None:
    # x = diag(3, 2, 1) padded with zero rows: singular values 3, 2, 1
    x = torch.zeros(5, 3)
    x[0, 0], x[1, 1], x[2, 2] = 3.0, 2.0, 1.0
    x.requires_grad_(True)
    f = svd_basis(x, 1)
    p = spectral_penalty(x, f)
    assert abs(float(p.detach()) - (4.0 + 1.0)) < 1e-5
    p.backward()
    # gradient 2 (I - F F^T) x: zero on the kept direction, 2 x on the others
    expected = torch.zeros(5, 3)
    expected[1, 1], expected[2, 2] = 4.0, 2.0
    assert torch.allclose(x.grad, expected, atol=1e-5)


def _conv_model() -> nn.Module:
    torch.manual_seed(3)
    return nn.Sequential(nn.Conv2d(2, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 4 * 4, 5))


def test_penalty_training_shrinks_inertia_and_finalize_shares_rows() -> None:
    model = _conv_model()
    cfg = DeepKMeansConfig(global_config=DeepKMeansLayerConfig(clusters=4, lambda_=1.0), refresh_epochs=1)
    dk = DeepKMeans(model, cfg)
    dk.prepare()
    start = float(dk.layer_penalty("0").detach())
    opt = torch.optim.SGD(model.parameters(), lr=0.2)
    for epoch in range(3):
        for _ in range(10):
            opt.zero_grad()
            dk.penalty().backward()
            opt.step()
        dk.end_epoch(epoch)
    assert float(dk.layer_penalty("0").detach()) < 0.2 * start
    dk.finalize()
    rows = model[0].weight.detach().reshape(-1, 3)
    assert torch.unique(rows, dim=0).shape[0] <= 4
    assert dk.layers_["0"].vector_length == 3
    assert int(model[3].weight.unique().numel()) <= 4


def test_svd_form_penalty_vanishes_after_refresh() -> None:
    model = _conv_model()
    dk = DeepKMeans(model, DeepKMeansConfig(global_config=DeepKMeansLayerConfig(clusters=4, form="svd")))
    dk.prepare()
    assert abs(float(dk.layer_penalty("0").detach())) < 1e-4  # K = 4 >= S = 3


def test_distinct_rows_hand_case() -> None:
    from compression.base import CompressedLayer

    # M = 3 output channels, C = 1, R = 2 rows of S = 2: row ids per (m, r)
    assignments = torch.tensor([0, 1, 0, 2, 0, 1])  # m0: (0, 1), m1: (0, 2), m2: (0, 1)
    rec = CompressedLayer(
        name="c",
        method="deep-kmeans",
        shape=(3, 1, 2, 2),
        clusters=3,
        vector_length=2,
        codebook_=torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]),
        assignments_=assignments,
        index_bits=2,
        codebook_entries=6,
        distinct=3,
    )
    # (c=0, r=0): {0} -> 1 distinct; (c=0, r=1): {1, 2} -> 2 distinct; mean 1.5
    assert rec.distinct_rows() == 1.5
