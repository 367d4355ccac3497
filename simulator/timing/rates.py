"""Bandwidths of the accelerator's paths and the duration of one pass's phases, from the spec alone.

A pass has three phases on the PE array: the fill (ramp-up: weights into the spads and the first ifmap window
before the first MAC), the streaming phase (MACs while the rest of the ifmap and the psums flow, as slow as the
slowest of compute, the NoCs and the GLB banks) and the drain (the last output column's psums accumulate up
the PE set and leave the array).
"""

from __future__ import annotations

from dataclasses import dataclass

from accelerators.spec import AcceleratorSpec
from simulator.timing.schedule import PassWork


@dataclass(frozen=True)
class Rates:
    """Clock and bandwidth of every path the timing model uses."""

    core_hz: float
    link_bits_per_s: float  # DRAM link: bus width x link clock (no faster than the GLB banks can absorb)
    glb_bits_per_cycle: float  # all banks, one word each per core cycle
    noc_ifmap: float  # bits per core cycle
    noc_weight: float
    noc_psum: float  # each direction: GLB -> array (psums in) and array -> GLB (psums out)

    def link_s(self, bits: float) -> float:
        """Seconds the DRAM link needs for `bits`."""
        return bits / self.link_bits_per_s


def rates_of(spec: AcceleratorSpec) -> Rates:
    core_hz = spec.clock_mhz * 1e6
    glb = float(spec.glb.banks * spec.glb.word_bits)
    link = spec.dram.bus_bits * spec.dram.clock_mhz * 1e6
    return Rates(
        core_hz=core_hz,
        link_bits_per_s=min(link, glb * core_hz),
        glb_bits_per_cycle=glb,
        noc_ifmap=float(spec.noc.ifmap_bits_per_cycle),
        noc_weight=float(spec.noc.weight_bits_per_cycle),
        noc_psum=float(spec.noc.psum_bits_per_cycle),
    )


@dataclass(frozen=True)
class Phases:
    """Core cycles of one pass: fill (ramp-up), streaming compute, drain."""

    fill: float
    stream: float
    drain: float

    @property
    def total(self) -> float:
        return self.fill + self.stream + self.drain


def fill_terms(work: PassWork, rates: Rates) -> dict[str, float]:
    """Cycles each path needs before the first MAC (the fill lasts as long as the slowest)."""
    return {
        "noc.weight": work.weight_bits / rates.noc_weight,
        "noc.ifmap": work.ifmap_fill_bits / rates.noc_ifmap,
        "glb": work.glb_fill_bits / rates.glb_bits_per_cycle,
    }


def stream_terms(work: PassWork, rates: Rates) -> dict[str, float]:
    """Cycles each resource needs while the pass computes (the phase lasts as long as the slowest)."""
    return {
        "pe": work.compute_cycles,
        "noc.ifmap": work.ifmap_bits / rates.noc_ifmap,
        "noc.psum_in": work.psum_in_bits / rates.noc_psum,
        "noc.psum_out": work.psum_out_bits / rates.noc_psum,
        "glb": work.glb_bits / rates.glb_bits_per_cycle,
    }


def drain_terms(work: PassWork, rates: Rates) -> dict[str, float]:
    """Cycles of the drain: the accumulation chain, then the last column's psums out (sequential)."""
    return {"pe": work.drain_hops, "noc.psum_out": work.drain_bits / rates.noc_psum}


def pass_phases(work: PassWork, rates: Rates) -> Phases:
    """Duration of each phase of one pass, in core cycles."""
    return Phases(
        fill=max(fill_terms(work, rates).values()),
        stream=max(stream_terms(work, rates).values()),
        drain=sum(drain_terms(work, rates).values()),
    )
