"""DKM: the memory-efficient autograd paths give the naive unrolled gradients; memory stays flat; snapping."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import torch
from torch import nn

from compression.config import DKMConfig, DKMLayerConfig
from compression.dkm import DKM, DKMFunction, DKMTableFunction, dkm_naive, init_centroids, iterate


def _grads(fn, w: torch.Tensor, c0: torch.Tensor, tau: float, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = w.clone().requires_grad_(True)
    out, _ = fn(x, c0, tau, 5, 1e-6)
    (out * g).sum().backward()
    return out.detach(), x.grad


def _case(n: int, d: int, seed: int, dtype: torch.dtype = torch.float32) -> tuple:
    gen = torch.Generator().manual_seed(seed)
    w = (torch.randn(n, d, generator=gen) * 0.05).half().to(dtype)  # fp16-representable: the table path is exact
    c0, spread = init_centroids(w.float(), 6, d, seed)
    c0 = (c0 + 0.004 * torch.randn(c0.shape, generator=gen)).to(dtype)  # off the fixed point: several iterations
    return w, c0, 0.5 * spread, torch.randn(n, d, generator=gen, dtype=dtype)


def test_recomputing_function_matches_naive_unrolled_gradients() -> None:
    for d in (1, 3):
        w, c0, tau, g = _case(900, d, seed=d)
        assert len(iterate(w, c0, tau, 5, 1e-6)[0]) > 2  # the comparison covers several iterations
        out_n, grad_n = _grads(dkm_naive, w, c0, tau, g)
        out_e, grad_e = _grads(DKMFunction.apply, w, c0, tau, g)
        assert torch.allclose(out_n, out_e, atol=1e-6)
        assert torch.allclose(grad_n, grad_e, rtol=1e-4, atol=1e-4 * float(grad_n.abs().max()))


def test_table_function_matches_naive_on_fp16_weights() -> None:
    w, c0, tau, g = _case(4000, 1, seed=7)
    out_n, grad_n = _grads(dkm_naive, w, c0, tau, g)
    out_t, grad_t = _grads(DKMTableFunction.apply, w, c0, tau, g)
    assert torch.allclose(out_n, out_t, atol=1e-5)
    assert torch.allclose(grad_n, grad_t, rtol=1e-3, atol=1e-3 * float(grad_n.abs().max()))


def test_gradcheck_in_double() -> None:
    w, c0, tau, _ = _case(40, 2, seed=3, dtype=torch.float64)
    x = w.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: DKMFunction.apply(t, c0, tau, 3, 0.0)[0], (x,), eps=1e-7, atol=1e-4)


def test_finalize_snaps_to_at_most_k_values_and_warm_starts() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 30), nn.ReLU(), nn.Linear(30, 4))
    cfg = DKMConfig(
        global_config=DKMLayerConfig(clusters=4),
        module_name_configs={"2": DKMLayerConfig(clusters=3, cluster_dim=2, uniquify=False)},
    )
    dkm = DKM(model, cfg)
    dkm.prepare()
    c_before = model[0].parametrizations.weight[0].centroids_.clone()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(5):
        opt.zero_grad()
        model(torch.randn(8, 20)).square().mean().backward()
        opt.step()
    assert not torch.equal(model[0].parametrizations.weight[0].centroids_, c_before)
    dkm.finalize()
    assert int(model[0].weight.unique().numel()) <= 4
    assert torch.unique(model[2].weight.detach().reshape(-1, 2), dim=0).shape[0] <= 3
    rec = dkm.layers_["2"]
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
    """The unrolled path (small layers) and the recomputing path give the same weights and gradients."""

    def run(**kw: object) -> tuple[torch.Tensor, torch.Tensor]:
        torch.manual_seed(4)
        layer = nn.Linear(30, 20)
        DKM(layer, DKMConfig(global_config=DKMLayerConfig(clusters=5, **kw))).prepare()
        layer.weight.square().sum().backward()
        return layer.weight.detach(), layer.parametrizations.weight.original.grad

    w_unrolled, g_unrolled = run()
    w_recomputed, g_recomputed = run(unroll_below=0, uniquify=False)
    w_table, g_table = run(unroll_below=0)
    assert torch.allclose(w_unrolled, w_recomputed, atol=1e-6)
    assert torch.allclose(g_unrolled, g_recomputed, atol=1e-5)
    assert torch.allclose(w_unrolled, w_table, atol=1e-3)  # the table path sees fp16-rounded weights
    assert torch.allclose(g_unrolled, g_table, atol=0.05 * float(g_unrolled.abs().max()))
