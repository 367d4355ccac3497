"""Mapping search and re-evaluation: candidates -> vectorised cost -> best, for each dataflow model."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace
from functools import lru_cache
from typing import Any, Literal

import numpy as np

from accelerators.spec import AcceleratorSpec
from simulator import no_local_reuse as nlr
from simulator import output_stationary as os_
from simulator import row_stationary as rs
from simulator import weight_stationary as ws
from simulator.bits import Widths, layer_widths
from simulator.bounds import lower_bound_energy
from simulator.energy import as_float_dict, energy_of
from simulator.results import LayerResult
from simulator.workload import Layer

Objective = Literal["energy", "latency", "edp"]
DATAFLOWS = {"rs": rs, "ws": ws, "os": os_, "nlr": nlr}


class MappingError(ValueError):
    """No mapping of the layer fits the accelerator, or a given mapping does not fit."""


def _model(dataflow: str) -> Any:
    try:
        return DATAFLOWS[dataflow]
    except KeyError:
        raise MappingError(f"unknown dataflow {dataflow!r}; available: {', '.join(DATAFLOWS)}") from None


def _price(spec: AcceleratorSpec, wid: Widths, counts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    bits = {k[len("bits.") :]: v for k, v in counts.items() if k.startswith("bits.")}
    return energy_of(spec, wid, bits, counts["macs_gated"])


def serial_time(spec: AcceleratorSpec, counts: dict[str, np.ndarray]) -> np.ndarray:
    """Latency estimate of each candidate without overlap: compute cycles at the core clock plus DRAM bits
    over the link. The latency and EDP objectives minimise it; the event model refines it."""
    dram_bits = sum(v for k, v in counts.items() if k.startswith("bits.dram."))
    link = spec.dram.bus_bits * spec.dram.clock_mhz * 1e6
    return counts["cycles"] / (spec.clock_mhz * 1e6) + dram_bits / link


def _pick(energy: np.ndarray, seconds: np.ndarray, valid: np.ndarray, objective: Objective) -> int:
    """Index of the best valid candidate: minimum objective; near-ties (1e-9 relative) go to the other metric."""
    e = np.where(valid, energy, np.inf)
    t = np.where(valid, seconds, np.inf)
    primary, secondary = {"energy": (e, t), "latency": (t, e), "edp": (e * t, t)}[objective]
    near = primary <= np.min(primary) * (1 + 1e-9)
    return int(np.argmin(np.where(near, secondary, np.inf)))


def _result(
    spec: AcceleratorSpec,
    layer: Layer,
    wid: Widths,
    counts: dict[str, np.ndarray],
    energy: dict[str, np.ndarray],
    i: int,
    model: Any,
) -> LayerResult:
    bits = {k[len("bits.") :]: float(v[i]) for k, v in counts.items() if k.startswith("bits.")}
    return LayerResult(
        layer=layer,
        mapping=model.mapping_at(counts, i),
        unit=spec.energy.unit,
        bits=bits,
        energy=as_float_dict(energy, i),
        macs_effective=float(counts["macs_gated"][i]),
        active_pes=int(counts["active_pes"][i]),
        total_pes=spec.pe_array.pes,
        cycles=float(counts["cycles"][i]),
        passes=int(counts["passes"][i]),
        lower_bound=lower_bound_energy(spec, layer, wid),
        loads={
            "weight": float(counts["loads_weight"][i]),
            "ifmap": float(counts["loads_ifmap"][i]),
            "macs_reused": float(counts["macs_reused"][i]),
        },
        extra={"decode": wid.decode} if wid.clustered else {},
    )


def search(
    spec: AcceleratorSpec,
    layer: Layer,
    dataflow: str = "rs",
    objective: Objective = "energy",
    exhaustive: bool = False,
) -> LayerResult:
    """The best mapping of a layer under the spec's capacities, by energy (default), latency or EDP.

    The default search scores every candidate under the dataflow's default buffer policies; `exhaustive`
    adds every loop order and blocking, pruned by the ideal-reuse lower bound. Layers of the same shape and
    numerics share one search (results are cached).
    """
    _model(dataflow)  # unknown names first, with the list of known ones
    if dataflow not in spec.dataflows:
        raise MappingError(
            f"accelerator {spec.name!r} does not run the {dataflow!r} dataflow; its dataflows: "
            f"{', '.join(spec.dataflows)} (pick one of those, or a spec whose `dataflows` lists {dataflow!r})"
        )
    wid = layer_widths(spec, layer)  # width errors name the real layer
    anonymous = replace(layer, name="", inputs=())
    try:
        result = _search_cached(spec, anonymous, dataflow, objective, exhaustive)
    except MappingError as exc:
        raise MappingError(_no_fit_message(spec, layer, str(exc), wid)) from None
    return replace(result, layer=layer)


@lru_cache(maxsize=4096)
def _search_cached(
    spec: AcceleratorSpec, layer: Layer, dataflow: str, objective: Objective, exhaustive: bool
) -> LayerResult:
    model = _model(dataflow)
    wid = layer_widths(spec, layer)
    space = _scored_space(spec, layer, wid, model, dataflow)
    energy = _price(spec, wid, space)
    seconds = serial_time(spec, space)
    space = {**space, "time_estimate": seconds}
    best: Best = (space, energy, _pick(energy["total"], seconds, space["valid"], objective))
    if exhaustive:
        cand = model.candidates(spec, layer, wid)
        ideal = model.evaluate(spec, layer, wid, cand, ideal=True)
        bound = _price(spec, wid, ideal)["total"][ideal["valid"]]
        cand = {k: v[ideal["valid"]] for k, v in cand.items()}
        if objective == "energy":
            keep = bound <= best[1]["total"][best[2]] * (1 + 1e-9)
            cand = {k: v[keep] for k, v in cand.items()}
        best = _best_of(spec, layer, wid, model, cand, model.POLICIES, objective, best) or best
    counts, energy, i = best
    return _result(spec, layer, wid, counts, energy, i, model)


# Evaluated candidate spaces keyed by everything but the energy table: a sweep over energy costs re-prices
# the same counts instead of searching again (counts do not depend on costs; the choice does).
_SPACES: OrderedDict[tuple[str, Layer, str], dict[str, np.ndarray]] = OrderedDict()
_SPACES_MAX = 96


def _structure_key(spec: AcceleratorSpec) -> str:
    return spec.model_dump_json(exclude={"name", "description", "source", "energy"})


def _scored_space(
    spec: AcceleratorSpec, layer: Layer, wid: Widths, model: Any, dataflow: str, chunk_rows: int = 65536
) -> dict[str, np.ndarray]:
    """Counts of every valid candidate under the dataflow's default policies (cached per structure)."""
    key = (_structure_key(spec), layer, dataflow)
    hit = _SPACES.get(key)
    if hit is not None:
        _SPACES.move_to_end(key)
        return hit
    cand = model.candidates(spec, layer, wid)
    if len(cand["n"]) == 0:
        raise MappingError("no PE-level tiling fits the register files")
    ideal = model.evaluate(spec, layer, wid, cand, ideal=True)
    if not ideal["valid"].any():
        raise MappingError("no pass fits the global buffer")
    cand = {k: v[ideal["valid"]] for k, v in cand.items()}
    policies = model.DEFAULT_POLICIES
    per_chunk = max(1, chunk_rows // len(policies))
    parts = []
    for start in range(0, len(cand["n"]), per_chunk):
        sub = model.with_policies({k: v[start : start + per_chunk] for k, v in cand.items()}, policies)
        counts = model.evaluate(spec, layer, wid, sub)
        ok = counts["valid"]
        if ok.any():
            size = len(ok)
            parts.append({k: v[ok] for k, v in counts.items() if np.ndim(v) == 1 and len(v) == size})
    if not parts:
        raise MappingError("no block of passes fits the global buffer")
    space = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    _SPACES[key] = space
    if len(_SPACES) > _SPACES_MAX:
        _SPACES.popitem(last=False)
    return space


def clear_caches() -> None:
    """Forget every cached search (benchmarks measure cold searches)."""
    _search_cached.cache_clear()
    _SPACES.clear()


Best = tuple[dict[str, np.ndarray], dict[str, np.ndarray], int]


def _best_of(
    spec: AcceleratorSpec,
    layer: Layer,
    wid: Widths,
    model: Any,
    cand: dict[str, np.ndarray],
    policies: tuple[tuple[int, int, int], ...],
    objective: Objective,
    best: Best | None,
    chunk_rows: int = 65536,
) -> Best | None:
    """Evaluate candidates x policies in memory-bounded chunks and keep the best (ties: the faster one)."""
    per_chunk = max(1, chunk_rows // len(policies))
    for start in range(0, len(cand["n"]), per_chunk):
        sub = model.with_policies({k: v[start : start + per_chunk] for k, v in cand.items()}, policies)
        counts = model.evaluate(spec, layer, wid, sub)
        if not counts["valid"].any():
            continue
        energy = _price(spec, wid, counts)
        seconds = serial_time(spec, counts)
        counts["time_estimate"] = seconds
        i = _pick(energy["total"], seconds, counts["valid"], objective)
        if best is None or _better(energy["total"][i], seconds[i], best, objective):
            best = (counts, energy, i)
    return best


def _better(energy: float, cycles: float, best: Best, objective: Objective) -> bool:
    b_energy, b_cycles = best[1]["total"][best[2]], best[0]["time_estimate"][best[2]]
    tol = 1e-9
    if objective == "energy":
        primary, b_primary, secondary, b_secondary = energy, b_energy, cycles, b_cycles
    elif objective == "latency":
        primary, b_primary, secondary, b_secondary = cycles, b_cycles, energy, b_energy
    else:
        primary, b_primary, secondary, b_secondary = energy * cycles, b_energy * b_cycles, cycles, b_cycles
    if primary < b_primary * (1 - tol):
        return True
    return bool(primary <= b_primary * (1 + tol) and secondary < b_secondary)


def evaluate_mapping(spec: AcceleratorSpec, layer: Layer, mapping: Any) -> LayerResult:
    """Re-evaluate a given mapping (e.g. loaded from JSON or a published one) after checking that it fits."""
    problems = check_fit(spec, layer, mapping)
    if problems:
        raise MappingError(f"mapping does not fit layer {layer.name!r}: " + "; ".join(problems))
    model = _model(mapping.dataflow)
    wid = layer_widths(spec, layer)
    counts = model.evaluate(spec, layer, wid, model.mapping_arrays(mapping))
    energy = _price(spec, wid, counts)
    return _result(spec, layer, wid, counts, energy, 0, model)


def check_fit(spec: AcceleratorSpec, layer: Layer, mapping: Any) -> list[str]:
    """Every capacity the mapping violates (empty when it fits): scratchpads, array, global buffer."""
    model = _model(mapping.dataflow)
    wid = layer_widths(spec, layer)
    return model.check_fit(spec, layer, wid, mapping)


def _no_fit_message(spec: AcceleratorSpec, layer: Layer, why: str, wid: Widths) -> str:
    """Why a layer cannot be mapped, naming the spec field that is too small where one is."""
    rf = spec.rf
    hints = []
    row_i, row_w = layer.S * wid.act, layer.S * wid.weight_pe
    if rf.shared is not None:
        need = row_i + row_w + wid.psum
        if need > rf.shared.bits:
            hints.append(f"rf.shared holds {rf.shared.bits} bits but one {layer.S}-wide filter row needs {need:.0f}")
    else:
        for field, have, need, what in (
            ("rf.ifmap", rf.ifmap, row_i, f"one {layer.S}-wide ifmap row"),
            ("rf.weight", rf.weight, row_w, f"one {layer.S}-wide filter row"),
            ("rf.psum", rf.psum, wid.psum, "one partial sum"),
        ):
            if have is not None and need > have.bits:
                hints.append(f"{field} holds {have.words} x {have.word_bits} bits but {what} needs {need:.0f} bits")
    detail = "; ".join(hints) if hints else why
    return (
        f"layer {layer.name!r} ({layer.shape_str()}) cannot be mapped onto {spec.name!r}: {detail}. "
        "Enlarge that buffer (e.g. --set rf__ifmap__words=16 or glb__size_kb=...), or reduce the batch."
    )
