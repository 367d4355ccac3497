"""Compression configs: one per-layer settings model per method, routed to layers by name, then type, then default.

Shaped like coremltools optimize.torch: `module_name_configs` (fnmatch patterns on qualified module names) win over
`module_type_configs` (class names such as "Conv2d", "Linear"), which win over `global_config`; a value of None
leaves the layer uncompressed.
"""

from __future__ import annotations

import math
from fnmatch import fnmatchcase
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator
from torch import nn

COMPRESSIBLE = (nn.Conv2d, nn.Linear)


class LayerConfig(BaseModel):
    """Settings shared by every clustering method for one layer."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    clusters: int = Field(16, ge=2, description="K, the codebook size")


ClusterDim = int | Literal["row"]


class KMeansLayerConfig(LayerConfig):
    """k-means weight sharing (Han et al. 2016); cluster_dim "row" clusters conv filter rows (length S)."""

    cluster_dim: ClusterDim = Field(1, description="weights per clustered vector, or 'row' for filter rows")
    max_iter: int = Field(100, ge=1, description="Lloyd iterations")
    train_centroids: bool = Field(True, description="fine-tune centroids with summed gradients")

    @field_validator("cluster_dim")
    @classmethod
    def _dim(cls, v: ClusterDim) -> ClusterDim:
        if isinstance(v, int) and v < 1:
            raise ValueError(f"cluster_dim must be >= 1 or 'row', got {v}")
        return v


class DeepKMeansLayerConfig(LayerConfig):
    """Deep k-Means (Wu et al. 2018): spectrally relaxed k-means regularizer on filter rows, then sharing."""

    lambda_: float = Field(
        100.0, ge=0.0, alias="lambda", description="weight of the summed-over-rows penalty (see docs/compression.md)"
    )
    form: Literal["hard", "svd"] = Field(
        "hard", description="F as a normalized cluster indicator (hard) or top-K singular vectors (svd)"
    )
    cluster_dim: ClusterDim = Field("row", description="'row' = filter rows of length S (1 for Linear)")


class DKMLayerConfig(LayerConfig):
    """Differentiable k-means (Cho et al. 2022)."""

    cluster_dim: int = Field(1, ge=1, description="weights per clustered vector d")
    temperature: float = Field(
        0.5, gt=0.0, description="tau relative to the layer's initial k-means inertia per vector"
    )
    temperature_decay: float = Field(
        1.0, gt=0.0, le=1.0, description="tau is multiplied by this after every epoch (soft-to-hard annealing)"
    )
    max_iter: int = Field(5, ge=1, description="attention iterations per forward pass")
    tol: float = Field(1e-4, ge=0.0, description="stop iterating when the soft inertia changes less (relative)")
    uniquify: bool = Field(
        True, description="for d = 1, compute attention on unique fp16-rounded weights (eDKM); O(N) memory"
    )
    unroll_below: int = Field(
        1 << 18,
        ge=0,
        description="layers with N*K under this keep every iteration's attention for the exact analytic backward "
        "(fastest for small layers; memory ~ iterations x N x K, capped at 32 MB); larger ones recompute it",
    )


class UniformLayerConfig(BaseModel):
    """Symmetric per-channel uniform quantization with a straight-through estimator."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bits: int = Field(4, ge=1, le=16, description="bits per weight")

    @classmethod
    def from_clusters(cls, clusters: int) -> UniformLayerConfig:
        """The bit width equivalent to K levels: log2 K (K must be a power of two)."""
        bits = round(math.log2(clusters)) if clusters >= 2 else 0
        if clusters < 2 or 2**bits != clusters:
            raise ValueError(f"uniform quantization needs K to be a power of two >= 2, got {clusters}")
        return cls(bits=bits)


L = TypeVar("L", bound=BaseModel)


class CompressionConfig(BaseModel, Generic[L]):
    """Per-model defaults with per-layer overrides by name pattern or module type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    global_config: L | None = None
    module_name_configs: dict[str, L | None] = Field(default_factory=dict)
    module_type_configs: dict[str, L | None] = Field(default_factory=dict)
    seed: int = Field(0, description="seed of k-means++ and every other random choice")

    def resolve(self, name: str, module: nn.Module) -> L | None:
        """The settings for one module: first matching name pattern, else its type, else the global default."""
        for pattern, cfg in self.module_name_configs.items():
            if fnmatchcase(name, pattern):
                return cfg
        for cls in type(module).__mro__:
            if cls.__name__ in self.module_type_configs:
                return self.module_type_configs[cls.__name__]
        return self.global_config

    def targets(self, model: nn.Module) -> list[tuple[str, nn.Module, L]]:
        """(name, module, settings) of every Conv2d/Linear the config compresses, in registration order."""
        out = []
        for name, module in model.named_modules():
            if isinstance(module, COMPRESSIBLE):
                cfg = self.resolve(name, module)
                if cfg is not None:
                    out.append((name, module, cfg))
        return out


class KMeansConfig(CompressionConfig[KMeansLayerConfig]):
    global_config: KMeansLayerConfig | None = KMeansLayerConfig()


class DeepKMeansConfig(CompressionConfig[DeepKMeansLayerConfig]):
    global_config: DeepKMeansLayerConfig | None = DeepKMeansLayerConfig()
    refresh_epochs: int = Field(1, ge=1, description="recompute F every this many epochs (paper: 5)")


class DKMConfig(CompressionConfig[DKMLayerConfig]):
    global_config: DKMLayerConfig | None = DKMLayerConfig()


class UniformConfig(CompressionConfig[UniformLayerConfig]):
    global_config: UniformLayerConfig | None = UniformLayerConfig()
