"""DKM: differentiable k-means clustering layer (Cho, Alizadeh-Vahid, Adya, Rastegari, ICLR 2022).

Per layer, the weights form N vectors w_i of length d. From centroids C_0 each forward pass iterates
    A_t = softmax(-||w_i - c_j||^2 / tau),   C_{t+1} = A_t^T W / colsum(A_t)
until an update lowers the soft inertia by at most `tol` (relative) or after `max_iter` updates, and the layer uses
W~ = A_T C_T with A_T the attention to the final centroids. Gradients flow through every iteration. C_0 is k-means++
at prepare; later training steps start from the previous step's centroids moved by the update its last attention
predicts for the weights' change (`DKMWeight.start`), so that one update usually meets `tol`.

Both autograd Functions run the iterations without an autograd graph and differentiate them analytically in the
backward pass (on LeNet-sized layers the per-operation overhead of autograd through the unrolled iterations, not
arithmetic, was the cost; for d = 1 an update's backward pass is two matrix products with A). The forward pass keeps
each iteration's K x N attention map while they fit in `STORE_FLOATS` floats; beyond that it keeps only the K x d
centroids and the backward pass recomputes one attention map at a time, so memory stays O(N K) whatever the
iteration count (`DKMFunction`, any d). For scalar clustering (d = 1) of larger layers the default goes further
(`DKMTableFunction`): the iterations run over the unique fp16-rounded weight values (at most 65,536, the
uniquification of eDKM, Cho et al. 2023), so no N x K map exists at all and the per-weight work is a few gathers;
gradients are exact at the rounded values (straight-through for the rounding). `dkm_naive`, plain autograd through
the unrolled iterations, is the reference both are tested against.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from compression.base import Compressor, as_vectors, snap
from compression.clustering import fp16_histogram, kmeans, nearest
from compression.config import DKMConfig, DKMLayerConfig

_TINY = 1e-30  # the update is (sum + _TINY c) / (mass + _TINY): a centroid with no mass stays put
STORE_FLOATS = 1 << 23  # attention floats (32 MB) the forward pass may keep for the backward pass
# A float32 subnormal: multiplied on the CPU it reads as 0 while subnormals are flushed (a numpy scalar: 0.2 us).
_SUBNORMAL = np.float32(np.finfo(np.float32).tiny / 4)


class _FlushSubnormals:
    """Context for the DKM math: subnormal floats are flushed to zero on this thread (the previous mode is restored
    on exit). A softmax whose far centroids' weights land in the subnormal range (below 1.2e-38, a normal case here)
    takes about twice as long on x86 otherwise; values that small are zero for every purpose of the attention."""

    __slots__ = ("flush",)

    def __enter__(self) -> None:
        self.flush = _SUBNORMAL * np.float32(1.0) != 0.0 and torch.set_flush_denormal(True)

    def __exit__(self, *exc: object) -> None:
        if self.flush:
            torch.set_flush_denormal(False)


def soft_assign(w: Tensor, c: Tensor, tau: float) -> Tensor:
    """Attention A^T (K, N): softmax over centroids of -||w_i - c_j||^2 / tau, computed as (2 w_i.c_j - ||c_j||^2) / tau
    (the ||w_i||^2 term is the same for every j and cancels). Kept (K, N): a softmax over the outer dimension and
    products along N are several times faster on CPU than their (N, K) counterparts."""
    return _attention(w.T, c, tau)


def _attention(wt: Tensor, c: Tensor, tau: float) -> Tensor:
    """`soft_assign` from the transposed points wt (d, N)."""
    sq = c * c if c.shape[1] == 1 else (c * c).sum(1, keepdim=True)
    return torch.softmax(torch.addmm(sq, c, wt, beta=-1.0 / tau, alpha=2.0 / tau), dim=0)


def moments(w: Tensor, counts: Tensor | None = None) -> Tensor:
    """Rows [n_i w_i1, ..., n_i w_id, n_i, n_i ||w_i||^2] (d + 2, N). One product A @ moments.T gives every
    centroid's weighted sum (the update's numerator), its mass (the denominator) and its weighted sum of squares;
    the last column sums to sum_i n_i ||w_i||^2, as every point's attention sums to 1."""
    wt = w.T
    sq = wt * wt if w.shape[1] == 1 else (w * w).sum(1)[None]
    if counts is None:
        return torch.cat([wt, torch.ones_like(sq), sq])
    n = counts.to(w.dtype)[None]
    return torch.cat([wt, torch.ones_like(n), sq]).mul_(n)


def _update(p: Tensor, c: Tensor) -> Tensor:
    """C <- A^T W / colsum(A) from the weighted sums p = A @ moments.T (K, d + 2); a centroid with no mass stays
    put."""
    d = c.shape[1]
    return torch.add(p[:, :d], c, alpha=_TINY).div_(p[:, d : d + 1] + _TINY)


def centroid_update(w: Tensor, c: Tensor, tau: float, counts: Tensor | None = None) -> Tensor:
    """One DKM step C <- A^T W / colsum(A)."""
    return _update(soft_assign(w, c, tau) @ moments(w, counts).T, c)


def mix(a: Tensor, c: Tensor) -> Tensor:
    """W~ = A C as (N, d), from the (K, N) attention. Computed as (C^T A)^T: on CPU a GEMM with an (N, d) output
    (or an (N, d) row-major operand) is several times slower than its (d, N) counterpart."""
    return (c.T @ a).T


def soft_weights(w: Tensor, c: Tensor, tau: float) -> Tensor:
    """W~ = A C."""
    return mix(soft_assign(w, c, tau), c)


class Iterations(NamedTuple):
    """One forward pass: centroids C_0 .. C_T, the weighted sums A_t @ moments.T (K, d + 2) of the T updates, the
    attention maps A_0 .. A_T when they were kept (else None), A_T, and the points' moments."""

    centroids: list[Tensor]
    sums: list[Tensor]
    attention: list[Tensor] | None
    final: Tensor
    moments: Tensor
    last_update: Tensor  # A_{T-1}, the attention of the last update


def _converged(mass: Tensor, squares: Tensor, old: Tensor, new: Tensor, tol: float) -> bool:
    """Did the update old -> new lower the soft inertia J(A, C) = sum_ij n_i A_ij ||w_i - c_j||^2 by at most tol
    relative? For the weighted-mean update the drop is sum_j mass_j ||new_j - old_j||^2 and J(A, new) =
    sum_i n_i ||w_i||^2 - sum_j mass_j ||new_j||^2, where sum_i n_i ||w_i||^2 is the sum of the update's weighted
    sums of squares (every point's attention sums to 1): no pass over the points."""
    d = new.shape[1]
    diffs = torch.cat([new - old, new], dim=1).square_()
    if d > 1:
        diffs = torch.stack([diffs[:, :d].sum(1), diffs[:, d:].sum(1)], dim=1)
    gain, explained, total = torch.cat([diffs.mul_(mass), squares], dim=1).sum(0).tolist()
    return gain <= tol * (max(total - explained, 0.0) + gain)


def run_iterations(
    w: Tensor, c0: Tensor, tau: float, max_iter: int, tol: float, counts: Tensor | None = None, keep: bool = False
) -> Iterations:
    """The DKM iterations from C_0: at least one update, at most max_iter, stopping after the first update that
    lowers the soft inertia by at most tol relative (see `_converged`), then the attention A_T to the final
    centroids. With keep, the attention maps are kept while all of them fit in STORE_FLOATS. Differentiable (plain
    autograd) when grad mode is on."""
    d, wt = w.shape[1], w.T
    wm = moments(w, counts)
    cs, sums = [c0], []
    a = _attention(wt, c0, tau)
    kept: list[Tensor] | None = [] if keep and 2 * a.numel() <= STORE_FLOATS else None
    for t in range(max_iter):
        p = a @ wm.T
        mass = p[:, d : d + 1]
        cs.append(torch.add(p[:, :d], cs[-1], alpha=_TINY).div_(mass + _TINY))  # see `_update`
        sums.append(p)
        if kept is not None:
            kept.append(a)
            if (len(kept) + 1) * a.numel() > STORE_FLOATS:
                kept = None
        stop = t + 1 == max_iter or _converged(mass, p[:, d + 1 :], cs[-2], cs[-1], tol)
        last_update, a = a, _attention(wt, cs[-1], tau)
        if stop:
            break
    if kept is not None:
        kept.append(a)
    return Iterations(cs, sums, kept, a, wm, last_update)


def iterate(
    w: Tensor, c0: Tensor, tau: float, max_iter: int, tol: float, counts: Tensor | None = None
) -> tuple[list[Tensor], Tensor]:
    """Centroids C_0 .. C_T of the DKM iteration and the (K, N) attention A_T to C_T (see `run_iterations`)."""
    it = run_iterations(w, c0, tau, max_iter, tol, counts)
    return it.centroids, it.final


def dkm_naive(w: Tensor, c0: Tensor, tau: float, max_iter: int, tol: float) -> tuple[Tensor, Tensor]:
    """Reference implementation: W~ = A_T C_T with plain autograd through the unrolled iterations (memory grows as
    T x N x K)."""
    cs, a = iterate(w, c0, tau, max_iter, tol)
    return mix(a, cs[-1]), cs[-1].detach()


# Analytic backward pass. With logits L_ji = (2 w_i.c_j - ||c_j||^2) / tau and A = softmax_j(L), a gradient G_ji
# with respect to L_ji reaches w_i as (2 / tau) sum_j G_ji c_j and c_j as (2 / tau) sum_i G_ji (w_i - c_j). The
# functions below carry the factor 2 / tau inside G. Gradients of points are per unit of their count n_i.


def _mix_backward(w1: Tensor, a: Tensor, c: Tensor, out: Tensor, g: Tensor, tau: float) -> tuple[Tensor, Tensor]:
    """Through out = A C, given its gradient g (N, d) (w1: the points' moments with unit counts): (2 / tau) times
    the logit gradient A * (g_i.c_j - g_i.out_i) (K, N), and the gradient at C (through A and directly)."""
    d = c.shape[1]
    g_out = (g * out).T if d == 1 else (g * out).sum(1)[None]
    logit_grad = torch.addmm(g_out, c, g.T, beta=-2.0 / tau, alpha=2.0 / tau).mul_(a)
    s = logit_grad @ w1.T
    a_g = a @ g if d == 1 else a @ g.T.contiguous().T  # (K, N) @ (N, d): rows of g contiguous is faster
    return logit_grad, torch.addcmul(s[:, :d], s[:, d : d + 1], c, value=-1.0).add_(a_g)


def _update_backward(
    wm: Tensor, w: Tensor, a: Tensor, c: Tensor, p: Tensor, new: Tensor, grad_new: Tensor, tau: float, chain: bool
) -> tuple[Tensor, Tensor | None]:
    """Through new = (A [W n] + _TINY c) / (colsum(n A) + _TINY) with A = softmax(L(W, c)) and its sums p, given
    the gradient at new (K, d): the gradient of every point (N, d), and the gradient at c if chain."""
    d = c.shape[1]
    if d == 1:
        return _update_backward_scalar(wm, w, a, c, p, new, grad_new, tau, chain)
    g_sum = grad_new / (p[:, d : d + 1] + _TINY)  # at the weighted sums; minus (g_sum . new) at the masses
    g_mass = (g_sum * new).sum(1, keepdim=True)
    q = torch.addmm(g_mass, g_sum, w.T, beta=-2.0 / tau, alpha=2.0 / tau).mul_(a)  # A * gradient at A, x 2 / tau
    logit_grad = torch.addcmul(q, a, q.sum(0, keepdim=True), value=-1.0)  # softmax backward
    grad_w = (g_sum.T @ a).addmm_(c.T, logit_grad).T
    if not chain:
        return grad_w, None
    s = logit_grad @ wm.T
    return grad_w, torch.addcmul(s[:, :d], s[:, d : d + 1], c, value=-1.0).add_(g_sum, alpha=_TINY)


def _update_backward_scalar(
    wm: Tensor, w: Tensor, a: Tensor, c: Tensor, p: Tensor, new: Tensor, grad_new: Tensor, tau: float, chain: bool
) -> tuple[Tensor, Tensor | None]:
    """`_update_backward` for d = 1 in one or two passes over A instead of seven: the gradient at A is
    g_j (w_i - new_j) with g = grad_new / mass, so every sum of the softmax backward is a product of A with a few
    vectors. With s_i = sum_j A_ij g_j (w_i - new_j), a point gets sum_j A_ij g_j +
    (2 / tau) sum_j A_ij c_j (g_j (w_i - new_j) - s_i) and c_j gets (2 / tau) sum_i n_i A_ij (g_j (w_i - new_j) -
    s_i)(w_i - c_j), in which sum_i n_i A_ij w_i (w_i - new_j) = p_j2 - new_j p_j0."""
    g = grad_new / (p[:, 1:2] + _TINY)
    g_new = g * new
    q = torch.cat([g, g_new, c * g, c * g_new, c], dim=1).T @ a  # (5, N); this orientation is the fast GEMM
    x = w[:, 0]
    minus_s = torch.addcmul(q[1], x, q[0], value=-1.0)
    minus_inner = torch.addcmul(q[3], x, q[2], value=-1.0).addcmul_(minus_s, q[4], value=-1.0)
    grad_w = torch.add(q[0], minus_inner, alpha=-2.0 / tau)[:, None]
    if not chain:
        return grad_w, None
    r = a @ torch.stack([wm[0] * minus_s, wm[1] * minus_s]).T  # sums of -n w s and -n s
    spread = torch.addcmul(p[:, 2:], new, p[:, :1], value=-1.0)
    grad_c = torch.addcmul(r[:, :1], c, r[:, 1:], value=-1.0).addcmul_(g, spread).mul_(2.0 / tau)
    return grad_w, grad_c.add_(g, alpha=_TINY)


def _chain(
    wm: Tensor, w: Tensor, tau: float, grad_c: Tensor, cs: list[Tensor], sums: list[Tensor], attention: Any
) -> Tensor:
    """Gradient of every point (per unit count) through C_T and the updates back to the (constant) C_0, given the
    gradient at C_T."""
    total: Tensor | None = None
    for t in range(len(sums) - 1, -1, -1):
        a = attention[t] if attention is not None else soft_assign(w, cs[t], tau)
        grad_w, grad_c_t = _update_backward(wm, w, a, cs[t], sums[t], cs[t + 1], grad_c, tau, chain=t > 0)
        total = grad_w if total is None else total.add_(grad_w)
        if grad_c_t is not None:
            grad_c = grad_c_t
    assert total is not None
    return total


def _save(ctx: Any, tau: float, it: Iterations, *tensors: Tensor) -> None:
    """Save the run for the backward pass (save_for_backward: freed after it unless the graph is retained)."""
    ctx.tau = tau
    ctx.sizes = (len(tensors), len(it.sums), it.attention is not None)
    ctx.save_for_backward(*tensors, it.moments, it.final, *it.centroids, *it.sums, *(it.attention or ()))


def _saved(ctx: Any) -> tuple[list[Tensor], Tensor, Tensor, list[Tensor], list[Tensor], list[Tensor] | None]:
    """The tensors of `_save`: the extra tensors, the moments, A_T, centroids, sums, attention maps (or None)."""
    n, t, kept = ctx.sizes
    saved = ctx.saved_tensors
    rest = saved[n + 2 :]
    attention = list(rest[2 * t + 1 :]) if kept else None
    return list(saved[:n]), saved[n], saved[n + 1], list(rest[: t + 1]), list(rest[t + 1 : 2 * t + 1]), attention


def _remember(memo: dict[str, Any] | None, it: Iterations) -> None:
    """For the next step's start (`DKMWeight.start`): the attention of the last update and its masses."""
    if memo is not None:
        d = it.centroids[0].shape[1]
        memo.update(attention=it.last_update, mass=it.sums[-1][:, d : d + 1] + _TINY)


class DKMFunction(torch.autograd.Function):
    """DKM for any d with an analytic backward pass (the gradients of dkm_naive): keeps the attention maps within
    STORE_FLOATS, else only the centroids (O(N K) memory), recomputing one map at a time in the backward pass."""

    @staticmethod
    def forward(
        ctx: Any, w: Tensor, c0: Tensor, tau: float, max_iter: int, tol: float, memo: dict | None = None
    ) -> tuple[Tensor, Tensor]:
        it = run_iterations(w, c0.clone(), tau, max_iter, tol, keep=True)
        out = mix(it.final, it.centroids[-1])
        _remember(memo, it)
        _save(ctx, tau, it, w, out)
        ctx.mark_non_differentiable(it.centroids[-1])
        return out, it.centroids[-1]

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor, _grad_c: Tensor | None) -> tuple[Tensor | None, ...]:
        with _FlushSubnormals():
            (w, out), wm, a, cs, sums, attention = _saved(ctx)
            logit_grad, grad_c = _mix_backward(wm, a, cs[-1], out, grad_out, ctx.tau)
            chain = _chain(wm, w, ctx.tau, grad_c, cs, sums, attention)
            return chain.add_((cs[-1].T @ logit_grad).T), None, None, None, None, None


class DKMTableFunction(torch.autograd.Function):
    """Scalar DKM (d = 1) over the unique fp16-rounded weight values: O(N) memory, O(E K) attention work.

    Every per-weight quantity is a function of the weight's table value s_e: W~_i = F(s_e, C_T) and the gradient is
    F'(s_e) g_i + Q(s_e), where F'(s) = (2 / tau) Var_A(c) is the derivative at fixed centroids and Q the gradient
    through the centroids per unit count: the weighted centroid update sums n_e identical points."""

    @staticmethod
    def forward(
        ctx: Any, w: Tensor, c0: Tensor, tau: float, max_iter: int, tol: float, memo: dict | None = None
    ) -> tuple[Tensor, Tensor]:
        table, counts, index = fp16_histogram(w)
        s = table[:, None]
        it = run_iterations(s, c0.clone(), tau, max_iter, tol, counts, keep=True)
        out_table = mix(it.final, it.centroids[-1])
        _remember(memo, it)
        if memo is not None:
            memo["index"] = index
        _save(ctx, tau, it, s, index, out_table)
        ctx.mark_non_differentiable(it.centroids[-1])
        return out_table.view(-1).index_select(0, index).view(w.shape), it.centroids[-1]

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor, _grad_c: Tensor | None) -> tuple[Tensor | None, ...]:
        with _FlushSubnormals():
            (s, index, out_table), wm, a, cs, sums, attention = _saved(ctx)
            c, tau = cs[-1], ctx.tau
            g = grad_out.reshape(-1)
            g_sum = torch.zeros(s.shape[0], dtype=g.dtype, device=g.device).scatter_add_(0, index, g)[:, None]
            _, grad_c = _mix_backward(moments(s), a, c, out_table, g_sum, tau)
            local = (a.T @ (c * c)).sub_(out_table.square()).mul_(2.0 / tau)  # F'(s_e) at fixed C_T
            chain = _chain(wm, s, tau, grad_c, cs, sums, attention)
            per_weight = torch.cat([local, chain], dim=1).index_select(0, index)
            grad_w = torch.addcmul(per_weight[:, 1], per_weight[:, 0], g).view(grad_out.shape)
            return grad_w, None, None, None, None, None


class DKMWeight(nn.Module):
    """Parametrization: the layer's weight becomes W~ = A C.

    A training step's iterations start where the previous step's ended, moved by the update that step's last
    attention predicts for the changed weights, C_0 = C + A (W - W_prev) / colsum(A): one update with the attention
    held fixed (C_0 is a constant for the gradients, like the plain warm start). The optimizer's change of the
    weights is then mostly accounted for before the first update, which usually lands within `tol`."""

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
        self._last: dict[str, Tensor] | None = None  # the last training step: weights, last attention, masses

    def use_table(self, n: int) -> bool:
        """Scalar layers with N K >= unroll_below iterate over their fp16 histogram; smaller ones (where the
        histogram costs more than it saves) and vector clustering over every weight."""
        return self.uniquify and n * self.centroids_.shape[0] >= self.unroll_below

    def start(self, w: Tensor) -> Tensor:
        """C_0 for the weights w (N, d): centroids_ moved by the last training step's last attention applied to the
        weights' change since that step (centroids_ itself after no such step)."""
        last = self._last
        if last is None:
            return self.centroids_
        prev = last["weights"]
        if prev.shape != w.shape or prev.device != w.device or prev.dtype != w.dtype:
            return self.centroids_
        delta = w.detach() - prev
        a = last["attention"]
        if "index" in last:  # the attention is over the histogram's entries: sum the changes per entry
            delta = torch.zeros(a.shape[1], dtype=w.dtype, device=w.device).scatter_add_(
                0, last["index"], delta.view(-1)
            )
            moved = torch.mv(a, delta)[:, None]
        else:
            moved = a @ delta if delta.shape[1] == 1 else a @ delta.T.contiguous().T
        return torch.addcdiv(self.centroids_, moved, last["mass"])

    def forward(self, original: Tensor) -> Tensor:
        w = as_vectors(original, self.d)
        fn = DKMTableFunction if self.use_table(w.shape[0]) else DKMFunction
        memo: dict[str, Tensor] | None = {} if self.training else None
        with _FlushSubnormals():
            out, c = fn.apply(w, self.start(w), self.tau, self.max_iter, self.tol, memo)
        if memo is not None:
            self.centroids_.copy_(c)
            memo["weights"] = w.detach().clone()
            self._last = memo if memo["attention"].numel() <= STORE_FLOATS else None
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
                c0 = p.start(w)
                if p.use_table(w.shape[0]):
                    table, counts, _ = fp16_histogram(w)
                    c = iterate(table[:, None], c0, p.tau, p.max_iter, p.tol, counts)[0][-1]
                else:
                    c = iterate(w, c0, p.tau, p.max_iter, p.tol)[0][-1]
                idx, _ = nearest(w, c)
            self.layers_[name] = snap(name, module, c, idx, d, self.method)
        return self.model
