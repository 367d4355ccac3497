"""What every compressor shares: the prepare/step/finalize protocol, weight vectors, snapping, layer records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from compression.config import ClusterDim, CompressionConfig
from compression.sizes import CODEBOOK_ENTRY_BITS, LayerSize, layer_size, total_ratio
from simulator.workload import index_bits as index_bits_for

if TYPE_CHECKING:
    import pandas as pd


def vector_length(module: nn.Module, cluster_dim: ClusterDim) -> int:
    """Weights per clustered vector: cluster_dim, or the filter width S for "row" (1 for a Linear layer)."""
    weight = module.weight
    if cluster_dim == "row":
        return int(weight.shape[-1]) if weight.dim() == 4 else 1
    if weight.numel() % cluster_dim:
        raise ValueError(f"cluster_dim {cluster_dim} does not divide the {weight.numel()} weights of {module}")
    return int(cluster_dim)


def as_vectors(weight: Tensor, d: int) -> Tensor:
    """The weight as (n, d) vectors in memory order; for a conv weight and d = S these are its filter rows."""
    return weight.reshape(-1, d)


@dataclass
class CompressedLayer:
    """The learned result for one layer: codebook_ and assignments_, and what they cost to store.

    For clustering, codebook_ is (K, d) and assignments_ holds one index per vector. For uniform quantization,
    codebook_ holds one scale per output channel and assignments_ the signed integer code of every weight.
    """

    name: str
    method: str
    shape: tuple[int, ...]
    clusters: int
    vector_length: int
    codebook_: Tensor
    assignments_: Tensor
    index_bits: int
    codebook_entries: int
    distinct: int
    quant_bits: int | None = None

    @property
    def weights(self) -> int:
        return int(torch.Size(self.shape).numel())

    def size(self) -> LayerSize:
        return layer_size(self.weights, self.vector_length, self.index_bits, self.codebook_entries)

    def distinct_rows(self) -> float | None:
        """Mean over (input channel, filter row) of the distinct centroid rows used across output channels;
        defined when the clustered vectors are whole filter rows."""
        if self.quant_bits is not None or self.vector_length != self.shape[-1]:
            return None
        rows = self.codebook_[self.assignments_]
        _, canon = torch.unique(rows, dim=0, return_inverse=True)
        per_m = canon.reshape(self.shape[0], -1)  # (M, C*R)
        s = per_m.sort(0).values
        distinct = 1 + (s[1:] != s[:-1]).sum(0)
        return float(distinct.float().mean())


def count_distinct(vectors: Tensor) -> int:
    """Distinct rows of an (n, d) tensor."""
    return int(torch.unique(vectors.detach(), dim=0).shape[0])


def release_weight(module: nn.Module) -> None:
    """Remove a weight parametrization, keeping the original Parameter (trainable again)."""
    if parametrize.is_parametrized(module, "weight"):
        parametrize.remove_parametrizations(module, "weight", leave_parametrized=False)
    module.weight.requires_grad_(True)


def snap(name: str, module: nn.Module, codebook: Tensor, assignments: Tensor, d: int, method: str) -> CompressedLayer:
    """Write codebook[assignments] into the layer's weight and record the result."""
    release_weight(module)
    codebook = codebook.detach().to(module.weight)
    assignments = assignments.detach().long()
    vectors = codebook[assignments]
    with torch.no_grad():
        module.weight.copy_(vectors.reshape(module.weight.shape))
    k = int(codebook.shape[0])
    return CompressedLayer(
        name=name,
        method=method,
        shape=tuple(module.weight.shape),
        clusters=k,
        vector_length=d,
        codebook_=codebook.cpu(),
        assignments_=assignments.cpu(),
        index_bits=index_bits_for(k),
        codebook_entries=k * d,
        distinct=count_distinct(vectors),
    )


C = TypeVar("C", bound=CompressionConfig)


class Compressor(Generic[C]):
    """config -> prepare() -> training steps (loss + penalty(); step(); end_epoch()) -> finalize().

    Post-training methods call compress() instead. Learned results land in `layers_` (name -> CompressedLayer).
    """

    method: ClassVar[str] = "none"
    config_class: ClassVar[type[CompressionConfig]]

    def __init__(self, model: nn.Module, config: C | None = None) -> None:
        self.model = model
        self.config: C = config if config is not None else self.config_class()  # type: ignore[assignment]
        self.layers_: dict[str, CompressedLayer] = {}

    def prepare(self) -> nn.Module:
        """Insert the method's training-time machinery into the model (in place) and return it."""
        raise NotImplementedError

    def penalty(self) -> Tensor:
        """Extra loss term the method adds to the task loss (zero unless the method regularizes)."""
        return torch.zeros(())

    def step(self) -> None:
        """Call after every optimizer step."""

    def end_epoch(self, epoch: int) -> None:
        """Call after every epoch (0-based epoch index)."""

    def finalize(self) -> nn.Module:
        """Snap weights to hard assignments, record codebooks and indices, remove training machinery."""
        raise NotImplementedError

    def compress(self) -> nn.Module:
        """Post-training compression: prepare and finalize without training."""
        self.prepare()
        return self.finalize()

    def report(self) -> pd.DataFrame:
        """One row per compressed layer: K, vector length, distinct values, bits and compression ratio."""
        import pandas as pd

        rows = []
        for rec in self.layers_.values():
            size = rec.size()
            rows.append(
                {
                    "name": rec.name,
                    "method": rec.method,
                    "K": rec.clusters,
                    "vector_length": rec.vector_length,
                    "distinct": rec.distinct,
                    "index_bits": rec.index_bits,
                    "codebook_bits": CODEBOOK_ENTRY_BITS,
                    "weights": size.weights,
                    "original_bits": size.original_bits,
                    "compressed_bits": size.compressed_bits,
                    "compression_ratio": size.ratio,
                }
            )
        return pd.DataFrame(rows)

    def compression_ratio(self) -> float:
        """Ratio over the compressed layers only (see compression.sizes for the whole-model figure)."""
        return total_ratio([rec.size() for rec in self.layers_.values()])
