"""Deep k-Means (Wu, Wang, Wu, Wang, Veeraraghavan, Lin, ICML 2018): re-training with a spectrally relaxed k-means
regularizer on filter rows, then row-wise k-means and weight sharing.

Each conv weight (M, C, R, S) is read as n = M*C*R rows x_i of length S (a Linear layer as scalars). With the paper's
W = X^T (S x n) and F (n x K, F^T F = I) held fixed between refreshes, the penalty is
    lambda/2 * [Tr(W^T W) - Tr(F^T W^T W F)] = lambda/2 * (||X||^2 - ||F^T X||^2),  gradient lambda * (I - F F^T) X.
- form "svd": F = top-K left singular vectors of X (the paper's relaxation). X has rank <= S, so for K >= S the
  penalty and its gradient vanish right after every refresh: the degenerate case.
- form "hard": F = normalized cluster indicator of a k-means of the rows; then the penalty is the k-means inertia
  sum_i ||x_i - c_k(i)||^2 and its gradient pulls every row toward its centroid.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from compression.base import Compressor, as_vectors, snap, vector_length
from compression.clustering import kmeans
from compression.config import DeepKMeansConfig, DeepKMeansLayerConfig


def spectral_penalty(x: Tensor, f: Tensor) -> Tensor:
    """Tr(W^T W) - Tr(F^T W^T W F) for W = x^T (x: n rows of length S) and a fixed F (n, k)."""
    return (x * x).sum() - ((f.T @ x) ** 2).sum()


def hard_penalty(x: Tensor, assignments: Tensor, k: int) -> Tensor:
    """spectral_penalty with F the normalized indicator of `assignments`: the inertia around the current means."""
    counts = torch.bincount(assignments, minlength=k).clamp_min(1).to(x.dtype)
    means = torch.zeros(k, x.shape[1], dtype=x.dtype, device=x.device).index_add(0, assignments, x) / counts[:, None]
    return ((x - means[assignments]) ** 2).sum()


def indicator_basis(assignments: Tensor, k: int) -> Tensor:
    """The normalized cluster indicator F (n, k): F[i, j] = 1/sqrt(n_j) if row i is in cluster j (F^T F = I on
    non-empty clusters)."""
    counts = torch.bincount(assignments, minlength=k).clamp_min(1).float()
    f = torch.zeros(assignments.numel(), k)
    f[torch.arange(assignments.numel()), assignments] = counts[assignments].rsqrt()
    return f


def svd_basis(x: Tensor, k: int) -> Tensor:
    """Top-k left singular vectors of x (n, S): the relaxed F of the paper (at most rank(x) columns)."""
    u, _, _ = torch.linalg.svd(x.detach(), full_matrices=False)
    return u[:, :k]


class DeepKMeans(Compressor[DeepKMeansConfig]):
    """prepare() computes F per layer; add penalty() to the loss; end_epoch() refreshes F every refresh_epochs;
    finalize() runs row-wise k-means and shares the rows."""

    method = "deep-kmeans"
    config_class = DeepKMeansConfig

    def __init__(self, model: nn.Module, config: DeepKMeansConfig | None = None) -> None:
        super().__init__(model, config)
        self._state: dict[str, dict[str, Any]] = {}
        self._targets: list[tuple[str, nn.Module, DeepKMeansLayerConfig]] = []

    def prepare(self) -> nn.Module:
        self._targets = self.config.targets(self.model)
        for name, module, cfg in self._targets:
            self._state[name] = {"d": vector_length(module, cfg.cluster_dim), "centroids": None}
        self.refresh()
        return self.model

    def refresh(self) -> None:
        """Recompute F of every layer from its current weights."""
        for name, module, cfg in self._targets:
            st = self._state[name]
            x = as_vectors(module.weight.detach(), st["d"])
            k = min(cfg.clusters, x.shape[0])
            if cfg.form == "svd":
                st["basis"] = svd_basis(x, k)
            else:
                res = kmeans(x, k, self.config.seed, init=st["centroids"])
                st["centroids"], st["assignments"] = res.centroids, res.assignments

    def layer_penalty(self, name: str) -> Tensor:
        """The unweighted regularizer of one layer at its current weights."""
        module = dict(self.model.named_modules())[name]
        st = self._state[name]
        x = as_vectors(module.weight, st["d"])
        if "basis" in st:
            return spectral_penalty(x, st["basis"].to(x))
        return hard_penalty(x, st["assignments"].to(x.device), int(st["centroids"].shape[0]))

    def penalty(self) -> Tensor:
        total = torch.zeros(())
        for name, module, cfg in self._targets:
            if cfg.lambda_ > 0:
                total = total.to(module.weight.device) + 0.5 * cfg.lambda_ * self.layer_penalty(name)
        return total

    def end_epoch(self, epoch: int) -> None:
        if (epoch + 1) % self.config.refresh_epochs == 0:
            self.refresh()

    def finalize(self) -> nn.Module:
        for name, module, cfg in self._targets:
            st = self._state[name]
            x = as_vectors(module.weight.detach(), st["d"])
            res = kmeans(x, min(cfg.clusters, x.shape[0]), self.config.seed, init=st.get("centroids"))
            self.layers_[name] = snap(name, module, res.centroids, res.assignments, st["d"], self.method)
        return self.model
