"""Whole-network simulation: map every layer, price it, and collect the results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from accelerators import AcceleratorSpec, load_spec, with_overrides
from simulator.bits import layer_widths
from simulator.mapper import Objective, evaluate_mapping, search
from simulator.networks import get_network
from simulator.paper_metrics import network_paper_total, paper_metrics
from simulator.results import LayerResult, NetworkResult
from simulator.trace import Trace, load_trace
from simulator.workload import Layer


def resolve_layers(network: str | Sequence[Layer] | Trace | Path, batch: int | None = None) -> tuple[str, list[Layer]]:
    """(name, layers) from a built-in network name, a trace (object or .json path) or a list of layers."""
    if isinstance(network, Trace):
        return network.model.name, network.to_layers(batch)
    if isinstance(network, Path) or (isinstance(network, str) and network.endswith(".json")):
        trace = load_trace(network)
        return trace.model.name, trace.to_layers(batch)
    if isinstance(network, str):
        return network, get_network(network, batch or 1)
    layers = list(network)
    if batch is not None:
        layers = [x.with_batch(batch) for x in layers]
    return "custom", layers


def with_sparsity(layers: Sequence[Layer], ifmap_sparsity: Sequence[float] | float | None) -> list[Layer]:
    """Set input sparsity (one value for all, or one per layer) and derive each layer's output sparsity
    from the layers that consume its output."""
    out = list(layers)
    if ifmap_sparsity is not None:
        values = [float(ifmap_sparsity)] * len(out) if isinstance(ifmap_sparsity, int | float) else list(ifmap_sparsity)
        if len(values) == 1:
            values = values * len(out)
        if len(values) != len(out):
            raise ValueError(
                f"--ifmap-sparsity has {len(values)} values but the network has {len(out)} layers "
                "(give one value, or one per layer)"
            )
        out = [x.with_numerics(replace(x.numerics, ifmap_sparsity=s)) for x, s in zip(out, values, strict=True)]
    consumers: dict[str, float] = {}
    for i, layer in enumerate(out):
        producers = [p for p in layer.inputs if p != "input"] or ([out[i - 1].name] if i > 0 else [])
        for name in producers:
            consumers.setdefault(name, layer.numerics.ifmap_sparsity)
    return [
        x.with_numerics(replace(x.numerics, ofmap_sparsity=consumers.get(x.name, 0.0)))
        if consumers.get(x.name, 0.0) != x.numerics.ofmap_sparsity
        else x
        for x in out
    ]


def with_numerics(layers: Sequence[Layer], **changes: Any) -> list[Layer]:
    """Every layer with the same numerics fields changed (e.g. act_bits=8)."""
    return [x.with_numerics(replace(x.numerics, **changes)) for x in layers]


def simulate(
    accelerator: str | Path | AcceleratorSpec,
    network: str | Sequence[Layer] | Trace | Path,
    batch: int | None = None,
    dataflow: str = "rs",
    ifmap_sparsity: Sequence[float] | float | None = None,
    objective: Objective = "energy",
    exhaustive: bool = False,
    mappings: dict[str, Any] | None = None,
    progress: bool = False,
    name: str | None = None,
    timing: bool = False,
    overlap: bool = False,
) -> NetworkResult:
    """Map and price every layer of a network on an accelerator; `mappings` pins chosen layers' mappings.

    With `timing`, each layer's mapping is also replayed on the event model (DRAM transfers overlapped with
    compute when `overlap`), adding latency_s, processing_s, stall_s per layer and latency_s, fps in total.
    """
    spec = load_spec(accelerator)
    resolved_name, layers = resolve_layers(network, batch)
    name = name or resolved_name
    layers = with_sparsity(layers, ifmap_sparsity)
    # With row reuse on, each layer is also priced without it (same mapping) to report what reuse saved.
    plain_spec = with_overrides(spec, {"features__row_reuse": False}) if spec.features.row_reuse else None
    results = []
    for layer in tqdm(layers, desc="mapping", unit="layer", disable=not progress, leave=False):
        pinned = (mappings or {}).get(layer.name)
        if pinned is not None:
            result = evaluate_mapping(spec, layer, pinned)
        else:
            result = search(spec, layer, dataflow, objective, exhaustive)
        results.append(_annotate(spec, result, plain_spec))
    paper_total = network_paper_total([r.extra["paper_metrics"] for r in results], [r.macs for r in results])
    total_extra: dict[str, Any] = {"paper_metrics": paper_total}
    if spec.features.row_reuse:
        total_extra["row_reuse"] = {
            key: sum(r.extra["row_reuse"][key] for r in results) for key in ("macs_saved", "energy_saved")
        }
    result = NetworkResult(
        accelerator=spec.name,
        network=name,
        dataflow=dataflow,
        batch=layers[0].N if layers else 0,
        unit=spec.energy.unit,
        layers=tuple(results),
        extra={"total": total_extra, "objective": objective},
    )
    if timing:
        from simulator.timing import attach_timing, time_network

        result = attach_timing(result, time_network(spec, result, overlap))
    return result


def _annotate(spec: AcceleratorSpec, result: LayerResult, plain_spec: AcceleratorSpec | None) -> LayerResult:
    """Add the paper's metrics and, given the spec without row reuse, what reuse saved on the same mapping."""
    wid = layer_widths(spec, result.layer)
    extra: dict[str, Any] = {**result.extra, "paper_metrics": paper_metrics(result, wid)}
    if plain_spec is not None:
        plain = evaluate_mapping(plain_spec, result.layer, result.mapping)
        extra["row_reuse"] = {
            "macs_saved": result.loads.get("macs_reused", 0.0),
            "energy_saved": plain.total_energy - result.total_energy,
        }
    return replace(result, extra=extra)
