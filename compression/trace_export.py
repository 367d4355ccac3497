"""Layer-trace export: one forward pass with hooks records every Conv2d/Linear layer's shape, numerics, clustering
and measured input sparsity, and torch.fx finds which layers feed which (see simulator/trace.py for the schema)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import torch
import torch.fx
from torch import Tensor, nn

from compression.base import CompressedLayer
from compression.config import COMPRESSIBLE
from simulator.trace import LayerShape, ModelInfo, Trace, TraceClustering, TraceLayer

INPUT = "input"


def _producers_of(node: torch.fx.Node, modules: Mapping[str, nn.Module]) -> list[str]:
    """Nearest Conv2d/Linear outputs (or "input") behind a node, through any non-Conv/Linear operations."""
    found: list[str] = []
    seen: set[torch.fx.Node] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        if n.op == "placeholder":
            name = INPUT
        elif n.op == "call_module" and isinstance(modules.get(str(n.target)), COMPRESSIBLE):
            name = str(n.target)
        else:
            # Depth-first, left operand first: push the inputs reversed.
            stack.extend(reversed([m for m in n.all_input_nodes if m.op != "get_attr"]))
            continue
        if name not in found:
            found.append(name)
    return found


def layer_producers(model: nn.Module) -> dict[str, list[str]] | None:
    """For every Conv2d/Linear module: the layers (or "input") its input comes from; None if fx cannot trace."""
    try:
        graph_module = torch.fx.symbolic_trace(model)
    except Exception as exc:
        warnings.warn(f"torch.fx could not trace the model ({exc}); layers are chained in call order", stacklevel=2)
        return None
    modules = dict(graph_module.named_modules())
    producers: dict[str, list[str]] = {}
    for node in graph_module.graph.nodes:
        if node.op == "call_module" and isinstance(modules.get(str(node.target)), COMPRESSIBLE):
            producers.setdefault(str(node.target), _producers_of(node.args[0], modules))
    return producers


def _conv_geometry(module: nn.Conv2d) -> tuple[int, int]:
    """(stride, pad) of a conv as the trace's single integers (square convolutions)."""
    stride = int(module.stride[0])
    if isinstance(module.padding, str):
        pad = 0 if module.padding == "valid" else (int(module.kernel_size[0]) - 1) // 2
    else:
        pad = int(module.padding[0])
    return stride, pad


def _shape(module: nn.Module, x: Tensor) -> tuple[str, LayerShape]:
    n = int(x.shape[0])
    if isinstance(module, nn.Linear):
        return "fc", LayerShape(N=n, C=module.in_features, M=module.out_features)
    assert isinstance(module, nn.Conv2d)
    stride, pad = _conv_geometry(module)
    return "conv", LayerShape(
        N=n,
        C=module.in_channels,
        H=int(x.shape[-2]),
        W=int(x.shape[-1]),
        M=module.out_channels,
        R=int(module.kernel_size[0]),
        S=int(module.kernel_size[1]),
        stride=stride,
        pad=pad,
        groups=module.groups,
    )


def _clustering(rec: CompressedLayer, s: int, codebook_bits: int) -> TraceClustering:
    return TraceClustering(
        clusters=rec.clusters,
        vector_length=rec.vector_length,
        unique=rec.distinct,
        index_bits=rec.index_bits,
        codebook_bits=codebook_bits,
        distinct_rows=rec.distinct_rows() if rec.vector_length == s else None,
    )


@torch.no_grad()
def capture_trace(
    model: nn.Module,
    sample: Tensor,
    layers: Mapping[str, CompressedLayer] | None = None,
    info: ModelInfo | None = None,
    act_bits: int = 16,
    codebook_bits: int = 16,
) -> Trace:
    """Run `sample` through the model and build its Trace; `layers` holds the compressor's per-layer results."""
    layers = layers or {}
    inputs: dict[str, Tensor] = {}
    order: list[str] = []
    handles = []

    def hook(name: str):
        def record(_module: nn.Module, args: tuple[Tensor, ...]) -> None:
            if name not in inputs:
                inputs[name] = args[0].detach()
                order.append(name)

        return record

    modules = dict(model.named_modules())
    for name, module in modules.items():
        if isinstance(module, COMPRESSIBLE):
            handles.append(module.register_forward_pre_hook(hook(name)))
    was_training = model.training
    model.eval()
    try:
        model(sample)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    if not order:
        raise ValueError("the model ran no Conv2d or Linear layer on the sample batch")
    producers = layer_producers(model)

    out: list[TraceLayer] = []
    previous: str | None = None
    for name in order:
        module, x = modules[name], inputs[name]
        kind, shape = _shape(module, x)
        rec = layers.get(name)
        src = producers.get(name) if producers is not None else None
        chained = src is None or src == ([INPUT] if previous is None else [previous])
        sparsity = min(float((x == 0).float().mean()), 0.999999)
        out.append(
            TraceLayer(
                name=name,
                kind=kind,
                shape=shape,
                weight_bits=rec.quant_bits if rec is not None and rec.quant_bits is not None else 16,
                act_bits=act_bits,
                clustering=_clustering(rec, shape.S, codebook_bits)
                if rec is not None and rec.quant_bits is None
                else None,
                ifmap_sparsity=sparsity,
                inputs=[] if chained else list(src or []),
            )
        )
        previous = name
    return Trace(model=info or ModelInfo(), layers=out)
