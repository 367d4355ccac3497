"""DKM: differentiable k-means clustering layer (Cho, Alizadeh-Vahid, Adya, Rastegari, ICLR 2022).

Per layer, the weights form N vectors w_i of length d. From centroids C (k-means++ at prepare, then warm-started
from the previous step) each forward pass iterates
    A = softmax(-||w_i - c_j||^2 / tau),   C <- A^T W / colsum(A)
until the soft inertia changes by less than `tol` (relative) or `max_iter` updates, and the layer uses W~ = A C.
Gradients flow through every iteration.

Memory stays O(N K) regardless of the iteration count: the forward pass keeps only the centroids of each iteration
(K x d each) and the backward pass recomputes one iteration at a time (`DKMFunction`). For scalar clustering
(d = 1) the default goes further (`DKMTableFunction`): attention is computed over the unique fp16-rounded weight
values (at most 65,536, the uniquification of eDKM, Cho et al. 2023), so the N x K attention map never exists and
the per-weight work is a handful of gathers; gradients are exact at the rounded values (straight-through for the
rounding).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from compression.base import Compressor, as_vectors, snap
from compression.clustering import fp16_histogram, kmeans, nearest
from compression.config import DKMConfig, DKMLayerConfig

_TINY = 1e-30


def soft_assign(w: Tensor, c: Tensor, tau: float) -> Tensor:
    """Attention A^T (K, N): softmax over centroids of -||w_i - c_j||^2 / tau, computed as (2 w_i.c_j - ||c_j||^2) / tau
    (the ||w_i||^2 term is the same for every j and cancels). Kept (K, N): a softmax over the outer dimension and
    matrix-vector products along N are several times faster on CPU than their (N, K) counterparts."""
    logits = torch.addmm((c * c).sum(1, keepdim=True), c, w.T, beta=-1.0 / tau, alpha=2.0 / tau)
    return torch.softmax(logits, dim=0)


def moments(w: Tensor, counts: Tensor | None = None) -> Tensor:
    """Rows [n_i w_i1, ..., n_i w_id, n_i] (d + 1, N): products with the attention give every centroid's weighted
    sum (the update's numerator) and its mass (the denominator) at once."""
    n = torch.ones(w.shape[0], dtype=w.dtype, device=w.device) if counts is None else counts.to(w.dtype)
    return torch.cat([w.T * n, n[None]], dim=0)


def _weighted_sums(a: Tensor, wm: Tensor) -> Tensor:
    """A^T [W n, n] as (K, d + 1); one matrix-vector product per row (GEMM with so few columns is slow on CPU)."""
    if wm.shape[0] <= 8:
        return torch.stack([torch.mv(a, row) for row in wm], dim=1)
    return a @ wm.T


def _step(a: Tensor, wm: Tensor, c: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Weighted sums (K, d) and masses (K,) of the centroids under attention a (K, N), and the updated centroids
    C <- A^T W / colsum(A) (a centroid with no mass stays put)."""
    p = _weighted_sums(a, wm)
    num, mass = p[:, :-1], p[:, -1]
    new = torch.where(mass[:, None] > _TINY, num / mass.clamp_min(_TINY)[:, None], c)
    return num, mass, new


def _inertia(num: Tensor, mass: Tensor, c: Tensor, sum_sq: float, total: float) -> float:
    """Mean soft inertia sum_ij n_i A_ij ||w_i - c_j||^2 / sum n_i, from the step's sums (no pass over the points)."""
    with torch.no_grad():
        cross = float((num * c).sum())
        return (sum_sq - 2.0 * cross + float((mass * (c * c).sum(1)).sum())) / total


def centroid_update(w: Tensor, c: Tensor, tau: float, counts: Tensor | None = None) -> Tensor:
    """One DKM step C <- A^T W / colsum(A)."""
    return _step(soft_assign(w, c, tau), moments(w, counts), c)[2]


def mix(a: Tensor, c: Tensor) -> Tensor:
    """W~ = A C as (N, d), from the (K, N) attention."""
    return (c.T @ a).T


def soft_weights(w: Tensor, c: Tensor, tau: float) -> Tensor:
    """W~ = A C."""
    return mix(soft_assign(w, c, tau), c)


def iterate(
    w: Tensor, c0: Tensor, tau: float, max_iter: int, tol: float, counts: Tensor | None = None
) -> tuple[list[Tensor], Tensor]:
    """Centroids C_0 .. C_T of the DKM iteration and the (K, N) attention to C_T. At least one update; stops when
    the soft inertia of the current centroids changed by at most tol relative to the previous one, or after
    max_iter updates. Differentiable when grad mode is on."""
    wm = moments(w, counts)
    with torch.no_grad():
        sum_sq = float((wm[-1] * (w * w).sum(1)).sum())
        total = float(wm[-1].sum())
    cs = [c0]
    a = soft_assign(w, c0, tau)
    previous: float | None = None
    for _ in range(max_iter):
        num, mass, new = _step(a, wm, cs[-1])
        inertia = _inertia(num, mass, cs[-1], sum_sq, total)
        if previous is not None and abs(previous - inertia) <= tol * max(previous, _TINY):
            break
        previous = inertia
        cs.append(new)
        a = soft_assign(w, new, tau)
    return cs, a


def dkm_naive(w: Tensor, c0: Tensor, tau: float, max_iter: int, tol: float) -> tuple[Tensor, Tensor]:
    """Reference implementation: plain autograd through the unrolled iterations (memory grows as T x N x K)."""
    cs, a = iterate(w, c0, tau, max_iter, tol)
    return mix(a, cs[-1]), cs[-1].detach()


class DKMFunction(torch.autograd.Function):
    """DKM for any d with O(N K) memory: forward keeps only the centroids, backward recomputes iteration by
    iteration (same gradients as dkm_naive)."""

    @staticmethod
    def forward(ctx: Any, w: Tensor, c0: Tensor, tau: float, max_iter: int, tol: float) -> tuple[Tensor, Tensor]:
        with torch.no_grad():
            cs, a = iterate(w, c0.clone(), tau, max_iter, tol)
            out = mix(a, cs[-1])
        ctx.tau = tau
        ctx.save_for_backward(w, *cs)
        final = cs[-1].clone()
        ctx.mark_non_differentiable(final)
        return out, final

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor, _grad_c: Tensor | None) -> tuple[Tensor | None, ...]:
        w, *cs = ctx.saved_tensors
        tau = ctx.tau
        with torch.enable_grad():
            wl = w.detach().requires_grad_(True)
            ct = cs[-1].detach().requires_grad_(True)
            grad_w, grad_c = torch.autograd.grad(soft_weights(wl, ct, tau), (wl, ct), grad_out)
            for t in range(len(cs) - 2, -1, -1):
                wl = w.detach().requires_grad_(True)
                ct = cs[t].detach().requires_grad_(t > 0)
                nxt = centroid_update(wl, ct, tau)
                grads = torch.autograd.grad(nxt, (wl, ct) if t > 0 else (wl,), grad_c)
                grad_w = grad_w + grads[0]
                if t > 0:
                    grad_c = grads[1]
        return grad_w, None, None, None, None


class DKMTableFunction(torch.autograd.Function):
    """Scalar DKM (d = 1) over the unique fp16-rounded weight values: O(N) memory, O(E K) attention work.

    Every per-weight quantity is a function of the weight's table value s_e: W~_i = F(s_e, C_T) and the gradient is
    F'(s_e) g_i + Q(s_e), where F' is the derivative at fixed centroids and Q the centroid chain. The table's small
    autograd graph (E x K per iteration) is kept from the forward pass; Q per weight is the chain gradient of the
    entry divided by its count, because the weighted centroid update sums n_e identical points."""

    @staticmethod
    def forward(ctx: Any, w: Tensor, c0: Tensor, tau: float, max_iter: int, tol: float) -> tuple[Tensor, Tensor]:
        table, counts, index = fp16_histogram(w)
        with torch.set_grad_enabled(bool(ctx.needs_input_grad[0])):
            s = table[:, None].requires_grad_(bool(ctx.needs_input_grad[0]))
            cs, a = iterate(s, c0.detach().clone(), tau, max_iter, tol, counts)
            out_table = mix(a, cs[-1])
        ctx.graph = (s, cs[-1], a, out_table)
        ctx.tau = tau
        ctx.save_for_backward(counts, index)
        final = cs[-1].detach().clone()
        ctx.mark_non_differentiable(final)
        return out_table.detach()[index], final

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor, _grad_c: Tensor | None) -> tuple[Tensor | None, ...]:
        counts, index = ctx.saved_tensors
        s, c_final, a, out_table = ctx.graph
        del ctx.graph
        g = grad_out.reshape(-1)
        g_sum = torch.zeros(s.shape[0], dtype=g.dtype, device=g.device).index_add_(0, index, g)
        # F'(s) at fixed C_T, analytically: with z_j = -2 (s - c_j) / tau, it is the A-weighted covariance of c and z.
        with torch.no_grad():
            a_, c_ = a.detach(), c_final.detach()  # (K, E), (K, 1)
            z = (s.detach().T - c_) * (-2.0 / ctx.tau)
            local = (a_ * c_ * z).sum(0) - (a_ * c_).sum(0) * (a_ * z).sum(0)
        if c_final.requires_grad:
            (grad_c,) = torch.autograd.grad(out_table, c_final, g_sum[:, None], retain_graph=True)
            (chain,) = torch.autograd.grad(c_final, s, grad_c)
            per_entry = (chain[:, 0] / counts).to(g.dtype)
        else:  # the forward pass ran without autograd: no centroid chain to follow
            per_entry = torch.zeros_like(local)
        grad_w = local[index] * g + per_entry[index]
        return grad_w.reshape(grad_out.shape), None, None, None, None


class DKMWeight(nn.Module):
    """Parametrization: the layer's weight becomes W~ = A C; centroids_ carry over between steps (warm start)."""

    def __init__(self, centroids: Tensor, tau: float, cfg: DKMLayerConfig) -> None:
        super().__init__()
        self.register_buffer("centroids_", centroids.clone())
        self.tau = tau
        self.tau_decay = cfg.temperature_decay
        self.d = cfg.cluster_dim
        self.max_iter = cfg.max_iter
        self.tol = cfg.tol
        self.uniquify = cfg.uniquify and cfg.cluster_dim == 1
        self.unroll_below = cfg.unroll_below

    def forward(self, original: Tensor) -> Tensor:
        w = as_vectors(original, self.d)
        if w.shape[0] * self.centroids_.shape[0] < self.unroll_below:
            out, c = dkm_naive(w, self.centroids_.clone(), self.tau, self.max_iter, self.tol)
        else:
            fn = DKMTableFunction if self.uniquify else DKMFunction
            out, c = fn.apply(w, self.centroids_, self.tau, self.max_iter, self.tol)
        if self.training:
            self.centroids_.copy_(c)
        return out.reshape(original.shape)


def init_centroids(weight: Tensor, k: int, d: int, seed: int) -> tuple[Tensor, float]:
    """k-means++ and Lloyd on the layer's vectors (on the fp16 histogram for d = 1): centroids and the mean
    squared distance of a vector to its nearest centroid."""
    if d == 1:
        table, counts, _ = fp16_histogram(weight)
        res = kmeans(table[:, None], k, seed, weights=counts)
        return res.centroids.to(weight.dtype), res.inertia / float(counts.sum())
    x = as_vectors(weight.detach(), d)
    res = kmeans(x, k, seed)
    return res.centroids, res.inertia / x.shape[0]


class DKM(Compressor[DKMConfig]):
    """prepare() inserts the DKM layer (k-means++ init), training learns weights and centroids through it,
    finalize() snaps every vector to its nearest centroid."""

    method = "dkm"
    config_class = DKMConfig

    def __init__(self, model: nn.Module, config: DKMConfig | None = None) -> None:
        super().__init__(model, config)
        self._dims: dict[str, int] = {}

    def prepare(self) -> nn.Module:
        for name, module, cfg in self.config.targets(self.model):
            weight = module.weight.detach()
            if weight.numel() % cfg.cluster_dim:
                raise ValueError(f"{name}: cluster_dim {cfg.cluster_dim} does not divide {weight.numel()} weights")
            k = min(cfg.clusters, weight.numel() // cfg.cluster_dim)
            centroids, spread = init_centroids(weight, k, cfg.cluster_dim, self.config.seed)
            tau = cfg.temperature * max(spread, 1e-12)
            parametrize.register_parametrization(module, "weight", DKMWeight(centroids, tau, cfg))
            self._dims[name] = cfg.cluster_dim
        return self.model

    def end_epoch(self, epoch: int) -> None:
        """Anneal every layer's temperature by its temperature_decay."""
        modules = dict(self.model.named_modules())
        for name in self._dims:
            p: DKMWeight = modules[name].parametrizations.weight[0]
            p.tau *= p.tau_decay

    def finalize(self) -> nn.Module:
        modules = dict(self.model.named_modules())
        for name, d in self._dims.items():
            module = modules[name]
            p: DKMWeight = module.parametrizations.weight[0]
            w = as_vectors(module.parametrizations.weight.original.detach(), d)
            with torch.no_grad():
                if p.uniquify and w.shape[0] * p.centroids_.shape[0] >= p.unroll_below:
                    table, counts, _ = fp16_histogram(w)
                    c = iterate(table[:, None], p.centroids_, p.tau, p.max_iter, p.tol, counts)[0][-1]
                else:
                    c = iterate(w, p.centroids_, p.tau, p.max_iter, p.tol)[0][-1]
                idx, _ = nearest(w, c)
            self.layers_[name] = snap(name, module, c, idx, d, self.method)
        return self.model
