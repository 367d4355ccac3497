"""Uniform per-channel symmetric quantization: levels, scales, STE, finalize."""

from __future__ import annotations

import torch
from torch import nn

from compression.config import UniformConfig, UniformLayerConfig
from compression.uniform import Uniform, fake_quantize, quantize_per_channel


def test_levels_are_symmetric_integers_times_a_channel_scale() -> None:
    w = torch.randn(6, 3, 3, 3, generator=torch.Generator().manual_seed(0))
    for bits in (2, 3, 4, 8):
        codes, scale = quantize_per_channel(w, bits)
        qmax = 2 ** (bits - 1) - 1
        assert torch.equal(codes, codes.round())
        assert int(codes.abs().max()) == qmax  # the largest |w| of each channel maps to qmax
        assert torch.allclose(scale, w.reshape(6, -1).abs().amax(1) / qmax)
        for m in range(6):
            assert codes[m].unique().numel() <= 2**bits - 1
        err = (codes * scale[:, None, None, None] - w).abs()
        assert bool((err <= scale[:, None, None, None] / 2 + 1e-6).all())


def test_one_bit_is_sign_times_mean_magnitude() -> None:
    w = torch.tensor([[0.5, -1.5, 1.0], [-0.2, -0.2, 0.4]])
    codes, scale = quantize_per_channel(w, 1)
    assert torch.equal(codes, torch.tensor([[1.0, -1.0, 1.0], [-1.0, -1.0, 1.0]]))
    assert torch.allclose(scale, torch.tensor([1.0, 0.8 / 3]))


def test_straight_through_gradient() -> None:
    w = torch.randn(4, 5, requires_grad=True)
    g = torch.randn(4, 5)
    (fake_quantize(w, 3) * g).sum().backward()
    assert torch.equal(w.grad, g)


def test_finalize_writes_quantized_weights_and_records_codes() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 8), nn.ReLU(), nn.Linear(8, 3))
    uq = Uniform(model, UniformConfig(global_config=UniformLayerConfig(bits=2)))
    uq.prepare()
    model(torch.randn(4, 10)).sum().backward()
    uq.finalize()
    rec = uq.layers_["0"]
    assert rec.quant_bits == 2 and rec.index_bits == 2 and rec.codebook_entries == 8
    assert set(rec.assignments_.unique().tolist()) <= {-1, 0, 1}
    w = model[0].weight.detach()
    assert torch.allclose(w, rec.assignments_.reshape(8, 10).float() * rec.codebook_[:, None])
    for m in range(8):
        assert w[m].unique().numel() <= 3
