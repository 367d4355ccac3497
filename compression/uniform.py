"""Symmetric per-channel uniform quantization with a straight-through estimator: the baseline.

b >= 2 bits: levels -(2^(b-1) - 1) .. 2^(b-1) - 1 times a per-output-channel scale max|w| / (2^(b-1) - 1).
b = 1: sign(w) times the channel's mean |w| (BinaryConnect-style), the only symmetric 1-bit grid.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from compression.base import CompressedLayer, Compressor, release_weight
from compression.config import UniformConfig


def quantize_per_channel(weight: Tensor, bits: int) -> tuple[Tensor, Tensor]:
    """Integer codes (same shape as weight) and one scale per output channel (dim 0)."""
    flat = weight.detach().reshape(weight.shape[0], -1)
    if bits == 1:
        scale = flat.abs().mean(1)
        codes = torch.where(flat >= 0, 1.0, -1.0)
    else:
        qmax = 2 ** (bits - 1) - 1
        scale = flat.abs().amax(1) / qmax
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        codes = torch.round(flat / scale[:, None]).clamp(-qmax, qmax)
    return codes.reshape(weight.shape), scale


def fake_quantize(weight: Tensor, bits: int) -> Tensor:
    """Quantized weight in the forward pass, identity gradient in the backward pass (STE)."""
    codes, scale = quantize_per_channel(weight, bits)
    q = codes * scale.reshape(-1, *([1] * (weight.dim() - 1)))
    return weight + (q - weight).detach()


class UniformWeight(nn.Module):
    """Parametrization applying fake_quantize."""

    def __init__(self, bits: int) -> None:
        super().__init__()
        self.bits = bits

    def forward(self, original: Tensor) -> Tensor:
        return fake_quantize(original, self.bits)


class Uniform(Compressor[UniformConfig]):
    """Quantization-aware training: prepare() inserts fake quantization; finalize() writes the quantized weights."""

    method = "uniform"
    config_class = UniformConfig

    def __init__(self, model: nn.Module, config: UniformConfig | None = None) -> None:
        super().__init__(model, config)
        self._bits: dict[str, int] = {}

    def prepare(self) -> nn.Module:
        for name, module, cfg in self.config.targets(self.model):
            parametrize.register_parametrization(module, "weight", UniformWeight(cfg.bits))
            self._bits[name] = cfg.bits
        return self.model

    def finalize(self) -> nn.Module:
        modules = dict(self.model.named_modules())
        for name, bits in self._bits.items():
            module = modules[name]
            release_weight(module)
            codes, scale = quantize_per_channel(module.weight, bits)
            with torch.no_grad():
                module.weight.copy_(codes * scale.reshape(-1, *([1] * (codes.dim() - 1))))
            self.layers_[name] = CompressedLayer(
                name=name,
                method=self.method,
                shape=tuple(module.weight.shape),
                clusters=2**bits,
                vector_length=1,
                codebook_=scale.cpu(),
                assignments_=codes.reshape(-1).to(torch.int64).cpu(),
                index_bits=bits,
                codebook_entries=int(scale.numel()),
                distinct=int(torch.unique(codes).numel()),
                quant_bits=bits,
            )
        return self.model
