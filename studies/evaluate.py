"""Evaluate points: build the layers of a workload at the point's bit widths, simulate them on the point's
hardware, and flatten the result into rows (one per layer plus TOTAL). Runs inside worker processes; specs,
traces and layers are cached per process so points that share them pay once (and the mapper's own cache hits)."""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import replace
from typing import Any

from accelerators import AcceleratorSpec, load_spec, with_overrides
from simulator.networks import get_network
from simulator.simulate import simulate
from simulator.trace import Trace, load_trace
from simulator.workload import Clustering, Layer, index_bits
from studies.expand import Point, Workload, hardware_label

_CACHE_SIZE = 512


class _LRU(OrderedDict):
    def get_or(self, key: Any, make: Any) -> Any:
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = make()
        self[key] = value
        if len(self) > _CACHE_SIZE:
            self.popitem(last=False)
        return value


_BASE_SPECS: _LRU = _LRU()
_SPECS: _LRU = _LRU()
_TRACES: _LRU = _LRU()
_LAYERS: _LRU = _LRU()
_HW_COLUMNS: _LRU = _LRU()


def spec_of(point: Point) -> AcceleratorSpec:
    hw = point.hardware

    def build() -> AcceleratorSpec:
        base = _BASE_SPECS.get_or(hw.accelerator, lambda: load_spec(hw.accelerator))
        overrides = hw.overrides
        return with_overrides(base, overrides) if overrides else base

    return _SPECS.get_or(hw.id, build)


def _trace(path: str) -> Trace:
    return _TRACES.get_or(path, lambda: load_trace(path))


def _network_layers(w: Workload, batch: int | None) -> list[Layer]:
    assert w.network is not None
    layers = get_network(w.network, batch or 1)
    if w.method == "float":
        return layers
    k = int(w.clusters or 0)
    if w.method == "uniform":
        bits = max(1, round(math.log2(k)))
        return [x.with_numerics(replace(x.numerics, weight_bits=bits)) for x in layers]
    out = []
    for x in layers:
        v = (x.S if x.kind == "conv" else 1) if w.vector_length == "row" else int(w.vector_length or 1)
        if x.weights % v:
            v = 1
        vectors = x.weights // v
        clustering = Clustering(clusters=min(k, vectors), vector_length=v)
        out.append(x.with_numerics(replace(x.numerics, clustering=clustering)))
    return out


def _strip(layers: list[Layer]) -> list[Layer]:
    """The float model's layers: no clustering and weights at the accelerator's native width (the base trace may
    be uniformly quantized; `bits.weights` can set another width)."""
    return [x.with_numerics(replace(x.numerics, clustering=None, weight_bits=None)) for x in layers]


def layers_of(point: Point) -> list[Layer]:
    """The workload's layers at the point's batch and bit widths."""
    w = point.workload
    key = (w.id, w.trace, point.batch, point.weight_bits, point.act_bits, point.codebook_bits)

    def build() -> list[Layer]:
        if w.kind == "network":
            layers = _network_layers(w, point.batch)
        else:
            if w.trace is None:
                raise ValueError(f"{w.label}: no trace (its training failed or has not run)")
            layers = _trace(w.trace).to_layers(point.batch)
            if w.kind == "float":
                layers = _strip(layers)
        return apply_bits(layers, w, point.weight_bits, point.act_bits, point.codebook_bits)

    return _LAYERS.get_or(key, build)


def apply_bits(
    layers: list[Layer], w: Workload, weight_bits: int | None, act_bits: int | None, codebook_bits: int | None
) -> list[Layer]:
    """Set activation widths everywhere, codebook widths on clustered layers and plain weight widths on layers
    that are neither clustered nor uniformly quantized; None leaves a width as it is."""
    out = []
    for x in layers:
        nm = x.numerics
        changes: dict[str, Any] = {}
        if act_bits is not None:
            changes["act_bits"] = act_bits
        if nm.clustering is not None:
            if codebook_bits is not None:
                changes["clustering"] = replace(nm.clustering, codebook_bits=codebook_bits)
        elif weight_bits is not None and w.method != "uniform":
            changes["weight_bits"] = weight_bits
        out.append(x.with_numerics(replace(nm, **changes)) if changes else x)
    return out


# ---------------------------------------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------------------------------------


def _layer_bits(spec: AcceleratorSpec, x: Layer) -> dict[str, Any]:
    nm = x.numerics
    c = nm.clustering
    wb = nm.weight_bits if nm.weight_bits is not None else spec.arithmetic.weight_bits
    ab = nm.act_bits if nm.act_bits is not None else spec.arithmetic.act_bits
    if c is None:
        return {
            "weight_bits": wb,
            "act_bits": ab,
            "layer_clusters": None,
            "vector_length": None,
            "index_bits": None,
            "codebook_bits": None,
            "bits_per_weight": float(wb),
        }
    cb = c.codebook_bits or wb
    vectors = x.weights // c.vector_length
    stored = vectors * index_bits(c.clusters) + c.clusters * c.vector_length * cb
    return {
        "weight_bits": wb,
        "act_bits": ab,
        "layer_clusters": c.clusters,
        "vector_length": c.vector_length,
        "index_bits": index_bits(c.clusters),
        "codebook_bits": cb,
        "bits_per_weight": stored / x.weights,
    }


def _common(values: list[Any]) -> Any:
    vals = {v for v in values if v is not None}
    return vals.pop() if len(vals) == 1 else None


def _get_path(data: dict[str, Any], path: str) -> Any:
    cur: Any = data
    for part in path.split("__"):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def hardware_columns(spec: AcceleratorSpec, paths: list[str]) -> dict[str, Any]:
    """The effective value of every swept spec path (dicts flattened as path__key, plus a label column)."""
    dump = spec.model_dump(mode="json")
    out: dict[str, Any] = {}
    for path in paths:
        value = _get_path(dump, path.removeprefix("accelerator__"))
        if isinstance(value, dict):
            out[path] = hardware_label("", {"v": value}).split("=", 1)[1].rstrip("]")
            for k, v in value.items():
                if isinstance(v, int | float | str | bool) or v is None:
                    out[f"{path}__{k}"] = v
        elif isinstance(value, list | tuple):
            out[path] = ",".join(map(str, value))
        else:
            out[path] = value
    return out


def point_columns(point: Point, study: str) -> dict[str, Any]:
    """Identity and axis columns shared by all rows of a point."""
    w, hw = point.workload, point.hardware
    info = w.info or {}
    return {
        "study": study,
        "point_id": point.id,
        "workload_id": w.id,
        "hardware_id": hw.id,
        "kind": w.kind,
        "method": w.method,
        "clusters": w.clusters,
        "seed": w.seed,
        "model": w.model,
        "dataset": w.dataset,
        "accelerator": hw.accelerator,
        "hardware": hw.label,
        "dataflow": point.dataflow,
        "bits_weights": point.weight_bits,
        "bits_activations": point.act_bits,
        "bits_codebook": point.codebook_bits,
        "accuracy": info.get("accuracy"),
        "float_accuracy": info.get("float_accuracy"),
        "compression_ratio": info.get("compression_ratio"),
        "train_s": info.get("train_s"),
    }


def failure_row(point: Point, study: str, error: str, paths: list[str] | None = None) -> dict[str, Any]:
    row = point_columns(point, study)
    row.update({"layer": "TOTAL", "status": "failed", "error": " ".join(error.split())})
    return row


def _merge(base: dict[str, Any], sim: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in sim.items():
        out[f"sim__{k}" if k in base else k] = v
    return out


def evaluate_point(point: Point, study: str, paths: list[str]) -> list[dict[str, Any]]:
    """Rows of one point; a layer that does not fit (or any input error) gives one failure row instead."""
    try:
        spec = spec_of(point)
        layers = layers_of(point)
        result = simulate(spec, layers, dataflow=point.dataflow, **point.options)
    except ValueError as exc:
        return [failure_row(point, study, str(exc))]
    base = point_columns(point, study)
    base.update(_HW_COLUMNS.get_or((point.hardware.id, tuple(paths)), lambda: hardware_columns(spec, paths)))
    base.update({"spec_name": spec.name, "batch": layers[0].N, "status": "ok", "error": None})
    rows = []
    per_layer = []
    for r in result.layers:
        bits = _layer_bits(spec, r.layer)
        per_layer.append((r.layer, bits))
        rows.append(_merge({**base, **bits}, r.row()))
    weights = sum(x.weights for x, _ in per_layer)
    total_bits = {
        "weight_bits": _common([b["weight_bits"] for _, b in per_layer]),
        "act_bits": _common([b["act_bits"] for _, b in per_layer]),
        "layer_clusters": _common([b["layer_clusters"] for _, b in per_layer]),
        "vector_length": _common([b["vector_length"] for _, b in per_layer]),
        "index_bits": _common([b["index_bits"] for _, b in per_layer]),
        "codebook_bits": _common([b["codebook_bits"] for _, b in per_layer]),
        "bits_per_weight": sum(b["bits_per_weight"] * x.weights for x, b in per_layer) / weights if weights else None,
    }
    total = _merge({**base, **total_bits}, result.total_row())
    total["energy_per_image"] = total["energy"] / max(1, layers[0].N)
    rows.append(total)
    return rows


def evaluate_batch(points: list[Point], study: str, paths: list[str]) -> list[dict[str, Any]]:
    """Rows of several points (the unit of work a worker process receives)."""
    rows: list[dict[str, Any]] = []
    for p in points:
        rows.extend(evaluate_point(p, study, paths))
    return rows
