"""The one k-means: k-means++ seeding and Lloyd iterations in vectorised torch, on points weighted by counts.

Shared by k-means weight sharing, kmeans-wr, Deep k-Means and DKM initialisation. Points are rows of an (n, d)
tensor; an optional per-point weight (a count) lets callers cluster unique values instead of every weight.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class KMeansResult:
    """Centroids (k, d), the nearest-centroid index of every point (n,) and the weighted inertia."""

    centroids: Tensor
    assignments: Tensor
    inertia: float
    iterations: int


def squared_distances(x: Tensor, c: Tensor) -> Tensor:
    """(n, k) squared Euclidean distances between rows of x (n, d) and rows of c (k, d)."""
    if x.shape[1] == 1:
        return (x - c.T) ** 2
    d = (x * x).sum(1, keepdim=True) - 2.0 * (x @ c.T) + (c * c).sum(1)
    return d.clamp_min_(0.0)


def nearest(x: Tensor, c: Tensor, chunk: int = 1 << 16) -> tuple[Tensor, Tensor]:
    """Index of the nearest centroid and the squared distance to it, for every row of x (chunked)."""
    idx = torch.empty(x.shape[0], dtype=torch.long, device=x.device)
    dist = torch.empty(x.shape[0], dtype=x.dtype, device=x.device)
    for start in range(0, x.shape[0], chunk):
        d = squared_distances(x[start : start + chunk], c)
        dist[start : start + chunk], idx[start : start + chunk] = d.min(1)
    return idx, dist


def kmeans_plus_plus(x: Tensor, k: int, generator: torch.Generator, weights: Tensor | None = None) -> Tensor:
    """k-means++ seeding (Arthur & Vassilvitskii 2007): each new centroid drawn with probability ~ w * D^2."""
    n = x.shape[0]
    w = torch.ones(n, dtype=x.dtype, device=x.device) if weights is None else weights.to(x.dtype)
    first = torch.multinomial(w.cpu(), 1, generator=generator).item()
    centroids = [x[first]]
    closest = squared_distances(x, x[first : first + 1]).squeeze(1)
    for _ in range(1, k):
        p = (w * closest).cpu()
        # All points already coincide with a centroid: fall back to the weights (a duplicate centroid).
        choice = torch.multinomial(p if p.sum() > 0 else w.cpu(), 1, generator=generator).item()
        centroids.append(x[choice])
        closest = torch.minimum(closest, squared_distances(x, x[choice : choice + 1]).squeeze(1))
    return torch.stack(centroids)


def lloyd(
    x: Tensor, centroids: Tensor, weights: Tensor | None = None, max_iter: int = 100, tol: float = 1e-7
) -> KMeansResult:
    """Lloyd iterations from the given centroids; an empty cluster keeps its centroid. Stops when no centroid
    moves more than tol times the data's spread."""
    k, d = centroids.shape
    w = torch.ones(x.shape[0], dtype=x.dtype, device=x.device) if weights is None else weights.to(x.dtype)
    c = centroids.clone()
    scale = float(x.var(0).sum()) if x.shape[0] > 1 else 1.0
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - it is reported
        idx, _ = nearest(x, c)
        mass = torch.zeros(k, dtype=x.dtype, device=x.device).index_add_(0, idx, w)
        sums = torch.zeros(k, d, dtype=x.dtype, device=x.device).index_add_(0, idx, x * w[:, None])
        new = torch.where(mass[:, None] > 0, sums / mass.clamp_min(1e-30)[:, None], c)
        shift = float(((new - c) ** 2).sum(1).max())
        c = new
        if shift <= tol * max(scale, 1e-30):
            break
    idx, dist = nearest(x, c)
    return KMeansResult(c, idx, float((dist * w).sum()), it)


def kmeans(
    x: Tensor, k: int, seed: int = 0, weights: Tensor | None = None, max_iter: int = 100, init: Tensor | None = None
) -> KMeansResult:
    """k-means of the rows of x (n, d) into k clusters: k-means++ seeding (or `init`), then Lloyd."""
    if x.dim() != 2:
        raise ValueError(f"kmeans expects an (n, d) tensor, got shape {tuple(x.shape)}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    x = x.detach()
    if init is None:
        g = torch.Generator().manual_seed(seed)
        init = kmeans_plus_plus(x, k, g, weights)
    return lloyd(x, init.to(x), weights, max_iter=max_iter)


def fp16_histogram(values: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Unique fp16-rounded values of a float tensor: (table (E,), counts (E,), int64 index of each value (n,)).

    The uniquification of eDKM (Cho et al. 2023): at most 65,536 distinct half-precision values, found with a
    bincount over the bit patterns (no sort), so per-value work runs over the table instead of every weight.
    """
    codes = values.detach().reshape(-1).to(torch.float16).view(torch.int16).to(torch.int64).bitwise_and_(0xFFFF)
    if codes.numel() < 8192:  # a sort beats a 65,536-bin pass on small layers; both list codes in ascending order
        present, index, counts = torch.unique(codes, return_inverse=True, return_counts=True)
        table = present.to(torch.int16).view(torch.float16).to(values.dtype)
        return table, counts.to(values.dtype), index.reshape(-1)
    counts = torch.bincount(codes, minlength=1 << 16)
    present = counts.nonzero().squeeze(1)
    ranks = torch.arange(present.numel(), device=values.device)
    lut = torch.zeros(1 << 16, dtype=torch.int64, device=values.device).scatter_(0, present, ranks)
    table = present.to(torch.int32).to(torch.int16).view(torch.float16).to(values.dtype)
    # index_select: several times faster than advanced indexing for these gathers
    return table, counts.index_select(0, present).to(values.dtype), lut.index_select(0, codes)
