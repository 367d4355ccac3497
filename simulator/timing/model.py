"""Public timing API: latency, throughput, stalls and utilization of mapped layers and networks."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from accelerators.spec import AcceleratorSpec
from simulator.results import LayerResult, NetworkResult
from simulator.timing.engine import replay
from simulator.timing.rates import Rates, rates_of
from simulator.timing.schedule import build_schedule

# Eyeriss does not overlap DRAM transfers with processing; the spec schema has no field for it.
DEFAULT_OVERLAP = False


@dataclass(frozen=True)
class LayerTiming:
    """Timing of one layer (seconds), beside its analytical lower bound."""

    name: str
    latency_s: float  # first DRAM load to last DRAM store
    processing_s: float  # PE array busy: ramp-up, compute and drain of every pass
    stall_s: float  # array idle, waiting for the DRAM link (latency - processing)
    bound_s: float  # max(compute_s, dram_s): no schedule of this mapping can be faster
    compute_s: float  # MAC cycles alone / core clock
    dram_s: float  # DRAM bits / link bandwidth
    utilization: float  # MACs / (all PEs x latency cycles)
    macs_per_s: float
    events: int

    def as_extra(self) -> dict[str, float]:
        """The fields merged into LayerResult.extra (and the JSON layer records)."""
        return {
            "latency_s": self.latency_s,
            "processing_s": self.processing_s,
            "stall_s": self.stall_s,
            "bound_s": self.bound_s,
            "utilization_timed": self.utilization,
            "macs_per_s": self.macs_per_s,
        }


@dataclass(frozen=True)
class NetworkTiming:
    """Per-layer timings of a network run layer after layer, and the totals for one batch."""

    layers: tuple[LayerTiming, ...]
    batch: int
    overlap: bool
    latency_s: float
    processing_s: float
    stall_s: float
    bound_s: float
    fps: float
    events: int

    def as_extra(self) -> dict[str, float]:
        """The fields merged into the JSON total."""
        return {
            "latency_s": self.latency_s,
            "processing_s": self.processing_s,
            "stall_s": self.stall_s,
            "fps": self.fps,
        }

    def layer_extras(self) -> list[dict[str, float]]:
        return [t.as_extra() for t in self.layers]


def lower_bound(rates: Rates, result: LayerResult) -> tuple[float, float]:
    """(compute_s, dram_s): MAC cycles at the core clock, and the layer's DRAM bits over the link."""
    dram_bits = sum(v for k, v in result.bits.items() if k.startswith("dram."))
    return result.cycles / rates.core_hz, rates.link_s(dram_bits)


def time_layer(
    spec: AcceleratorSpec, result: LayerResult, overlap: bool | None = None, detail: bool = False
) -> LayerTiming:
    """Replay a mapped layer on the event model; `overlap=None` takes the default (no overlap, as Eyeriss)."""
    rates = rates_of(spec)
    run = replay(build_schedule(spec, result), rates, DEFAULT_OVERLAP if overlap is None else overlap, detail)
    compute_s, dram_s = lower_bound(rates, result)
    latency = run.latency_s
    pe_cycles = result.total_pes * latency * rates.core_hz
    return LayerTiming(
        name=result.name,
        latency_s=latency,
        processing_s=run.processing_s,
        stall_s=max(latency - run.processing_s, 0.0),
        bound_s=max(compute_s, dram_s),
        compute_s=compute_s,
        dram_s=dram_s,
        utilization=result.macs / pe_cycles if pe_cycles else 0.0,
        macs_per_s=result.macs / latency if latency else 0.0,
        events=run.events,
    )


def time_network(spec: AcceleratorSpec, result: NetworkResult, overlap: bool = DEFAULT_OVERLAP) -> NetworkTiming:
    """Time every layer; layers run one after another, so the batch latency is their sum."""
    layers = tuple(time_layer(spec, r, overlap) for r in result.layers)
    latency = sum(t.latency_s for t in layers)
    return NetworkTiming(
        layers=layers,
        batch=result.batch,
        overlap=overlap,
        latency_s=latency,
        processing_s=sum(t.processing_s for t in layers),
        stall_s=sum(t.stall_s for t in layers),
        bound_s=sum(t.bound_s for t in layers),
        fps=result.batch / latency if latency else 0.0,
        events=sum(t.events for t in layers),
    )


def attach_timing(result: NetworkResult, timing: NetworkTiming) -> NetworkResult:
    """The result with each layer's timing merged into its `extra` and the totals into the JSON total."""
    if len(timing.layers) != len(result.layers):
        raise ValueError(f"timing has {len(timing.layers)} layers but the result has {len(result.layers)}")
    layers = tuple(
        replace(r, extra={**r.extra, **t.as_extra()}) for r, t in zip(result.layers, timing.layers, strict=True)
    )
    total: dict[str, Any] = {**result.extra.get("total", {}), **timing.as_extra()}
    return replace(result, layers=layers, extra={**result.extra, "total": total})
