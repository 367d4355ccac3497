"""DKM: the analytic backward passes give the naive unrolled gradients; memory stays flat; warm start; snapping."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

import compression.dkm as dkm
from compression.config import DKMConfig, DKMLayerConfig
from compression.dkm import (
    DKM,
    DKMFunction,
    DKMTableFunction,
    dkm_naive,
    init_centroids,
    iterate,
    moments,
    run_iterations,
    soft_assign,
)


def _grads(fn, w: torch.Tensor, c0: torch.Tensor, tau: float, g: torch.Tensor, max_iter: int = 5):
    x = w.clone().requires_grad_(True)
    out, _ = fn(x, c0, tau, max_iter, 1e-6)
    (out * g).sum().backward()
    return out.detach(), x.grad


def _case(n: int, d: int, seed: int, dtype: torch.dtype = torch.float32) -> tuple:
    gen = torch.Generator().manual_seed(seed)
    w = (torch.randn(n, d, generator=gen) * 0.05).half().to(dtype)  # fp16-representable: the table path is exact
    c0, spread = init_centroids(w.float(), 6, d, seed)
    c0 = (c0 + 0.004 * torch.randn(c0.shape, generator=gen)).to(dtype)  # off the fixed point: several iterations
    return w, c0, 0.5 * spread, torch.randn(n, d, generator=gen, dtype=dtype)


@pytest.mark.parametrize("store", [True, False], ids=["attention-kept", "attention-recomputed"])
def test_analytic_function_matches_naive_unrolled_gradients(store: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not store:
        monkeypatch.setattr(dkm, "STORE_FLOATS", 0)
    for d in (1, 3):
        w, c0, tau, g = _case(900, d, seed=d)
        assert len(iterate(w, c0, tau, 5, 1e-6)[0]) > 3  # the comparison covers several iterations
        for max_iter in (1, 5):
            out_n, grad_n = _grads(dkm_naive, w, c0, tau, g, max_iter)
            out_e, grad_e = _grads(DKMFunction.apply, w, c0, tau, g, max_iter)
            assert torch.allclose(out_n, out_e, atol=1e-6)
            assert torch.allclose(grad_n, grad_e, rtol=1e-4, atol=1e-4 * float(grad_n.abs().max()))


@pytest.mark.parametrize("store", [True, False], ids=["attention-kept", "attention-recomputed"])
def test_table_function_matches_naive_on_fp16_weights(store: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not store:
        monkeypatch.setattr(dkm, "STORE_FLOATS", 0)
    w, c0, tau, g = _case(4000, 1, seed=7)
    for max_iter in (1, 5):
        out_n, grad_n = _grads(dkm_naive, w, c0, tau, g, max_iter)
        out_t, grad_t = _grads(DKMTableFunction.apply, w, c0, tau, g, max_iter)
        assert torch.allclose(out_n, out_t, atol=1e-5)
        assert torch.allclose(grad_n, grad_t, rtol=1e-3, atol=1e-3 * float(grad_n.abs().max()))


@pytest.mark.parametrize("d", [1, 2])
def test_gradcheck_in_double(d: int) -> None:
    w, c0, tau, _ = _case(40, d, seed=3, dtype=torch.float64)
    x = w.clone().requires_grad_(True)
    for max_iter in (1, 3):  # the output step alone, and the chain through earlier updates
        fn = lambda t, m=max_iter: DKMFunction.apply(t, c0, tau, m, 0.0)[0]  # noqa: E731
        assert torch.autograd.gradcheck(fn, (x,), eps=1e-7, atol=1e-4)


def test_output_and_stopping_rule() -> None:
    """W~ = A(C_T) C_T, and the iteration stops after the first update that lowers the soft inertia
    J(A, C) = sum_ij A_ij (w_i - c_j)^2 by at most tol relative (read off the update's sums)."""
    w, c0, tau, _ = _case(500, 1, seed=5)
    it = run_iterations(w, c0, tau, 50, 1e-4)
    cs, a = it.centroids, it.final
    assert 2 < len(cs) < 51
    assert torch.allclose(a, soft_assign(w, cs[-1], tau))
    assert torch.allclose(DKMFunction.apply(w, c0, tau, 50, 1e-4)[0], (cs[-1].T @ a).T, atol=1e-7)

    def inertia(att: torch.Tensor, c: torch.Tensor) -> float:
        return float((att * (w.T - c) ** 2).sum())

    for t, p in enumerate(it.sums):
        att = soft_assign(w, cs[t], tau)
        assert torch.allclose(p, att @ moments(w).T, rtol=1e-4, atol=1e-6)
        drop, after = inertia(att, cs[t]) - inertia(att, cs[t + 1]), inertia(att, cs[t + 1])
        assert (drop <= 1e-4 * (after + drop)) == (t == len(it.sums) - 1)


def test_warm_start_predicts_the_centroids_after_a_weight_update() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(60, 40)
    with torch.no_grad():  # weights in clusters, as DKM training makes them
        centers = torch.tensor([-0.15, -0.05, 0.05, 0.15])
        layer.weight.copy_(centers[torch.randint(0, 4, layer.weight.shape)] + 0.02 * torch.randn(layer.weight.shape))
    DKM(layer, DKMConfig(global_config=DKMLayerConfig(clusters=4, max_iter=100, tol=0.0))).prepare()
    p = layer.parametrizations.weight[0]
    layer(torch.randn(16, 60)).square().mean().backward()  # one training forward: iterated to the fixed point
    with torch.no_grad():
        original = layer.parametrizations.weight.original
        original.sub_(1e-3 * original.grad.sign())  # an Adam-like step
    w = original.detach().reshape(-1, 1)
    fixed = iterate(w, p.centroids_, p.tau, 1000, 0.0)[0][-1]
    assert float((p.start(w) - fixed).abs().max()) < 0.3 * float((p.centroids_ - fixed).abs().max())
    updates = [len(iterate(w, c0, p.tau, 5, 1e-4)[0]) - 1 for c0 in (p.start(w), p.centroids_)]
    assert updates[0] == 1 < updates[1]


def _flushing() -> bool:
    return float(torch.tensor(1e-39)) == 0.0


@pytest.mark.parametrize("flush", [False, True])
def test_subnormal_mode_is_restored(flush: bool) -> None:
    torch.manual_seed(1)
    layer = nn.Linear(30, 20)
    DKM(layer, DKMConfig(global_config=DKMLayerConfig(clusters=5))).prepare()
    torch.set_flush_denormal(flush)
    try:
        layer(torch.randn(4, 30)).sum().backward()
        assert _flushing() == flush
    finally:
        torch.set_flush_denormal(False)


def test_finalize_snaps_to_at_most_k_values_and_warm_starts() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 30), nn.ReLU(), nn.Linear(30, 4))
    cfg = DKMConfig(
        global_config=DKMLayerConfig(clusters=4),
        module_name_configs={"2": DKMLayerConfig(clusters=3, cluster_dim=2, uniquify=False)},
    )
    dkm_ = DKM(model, cfg)
    dkm_.prepare()
    c_before = model[0].parametrizations.weight[0].centroids_.clone()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(5):
        opt.zero_grad()
        model(torch.randn(8, 20)).square().mean().backward()
        opt.step()
    assert not torch.equal(model[0].parametrizations.weight[0].centroids_, c_before)
    dkm_.finalize()
    assert int(model[0].weight.unique().numel()) <= 4
    assert torch.unique(model[2].weight.detach().reshape(-1, 2), dim=0).shape[0] <= 3
    rec = dkm_.layers_["2"]
    assert rec.vector_length == 2 and rec.codebook_.shape == (3, 2)
    assert torch.equal(rec.codebook_[rec.assignments_].reshape(model[2].weight.shape), model[2].weight.detach())


_MEMORY_PROBE = textwrap.dedent(
    """
    import json, resource, torch
    from compression.config import DKMConfig, DKMLayerConfig
    from compression.dkm import DKM
    torch.set_num_threads(1)
    torch.manual_seed(0)
    layer = torch.nn.Linear(1024, 1024)
    x = torch.randn(64, 1024)
    layer(x).square().mean().backward()  # float step: the baseline
    layer.zero_grad()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    DKM(layer, DKMConfig(global_config=DKMLayerConfig(clusters=16, uniquify=UNIQUIFY))).prepare()
    for _ in range(2):
        layer(x).square().mean().backward()
    print(json.dumps((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024))
    """
)


def _extra_mb(uniquify: bool) -> float:
    code = _MEMORY_PROBE.replace("UNIQUIFY", str(uniquify))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    return float(json.loads(done.stdout.strip().splitlines()[-1]))


def test_1024x1024_at_4_bits_trains_in_well_under_a_gigabyte() -> None:
    # N x K fp32 is 64 MB; unrolling 5 iterations with their softmax graphs would take well over 1 GB.
    assert _extra_mb(uniquify=True) < 150
    assert _extra_mb(uniquify=False) < 600


def test_small_layer_paths_agree() -> None:
    """The exact path (small layers) gives plain autograd's weights and gradients; the table path (large layers,
    forced here with unroll_below=0) sees fp16-rounded weights."""

    def run(naive: bool = False, **kw: object) -> tuple[torch.Tensor, torch.Tensor]:
        torch.manual_seed(4)
        layer = nn.Linear(30, 20)
        DKM(layer, DKMConfig(global_config=DKMLayerConfig(clusters=5, **kw))).prepare()
        if naive:
            p = layer.parametrizations.weight[0]
            original = layer.parametrizations.weight.original
            out, _ = dkm_naive(original.reshape(-1, 1), p.centroids_.clone(), p.tau, p.max_iter, p.tol)
            weight = out.reshape(original.shape)
        else:
            weight = layer.weight
        weight.square().sum().backward()
        return weight.detach(), layer.parametrizations.weight.original.grad

    w_naive, g_naive = run(naive=True)
    w_exact, g_exact = run()
    w_table, g_table = run(unroll_below=0)
    assert torch.allclose(w_naive, w_exact, atol=1e-6)
    assert torch.allclose(g_naive, g_exact, atol=1e-5)
    assert torch.allclose(w_naive, w_table, atol=1e-3)  # the table path sees fp16-rounded weights
    assert torch.allclose(g_naive, g_table, atol=0.05 * float(g_naive.abs().max()))
