"""The simpy processes that replay a layer's schedule: DRAM link, GLB banks, on-chip networks and PE array.

Without overlap (the Eyeriss chip) one process runs each block as load -> passes -> store, so identical
blocks and passes aggregate exactly into one timeout each. With overlap (double buffering) three processes
share the DRAM link: a loader that prefetches the next block while the array computes the current one (and
streamed weights one pass ahead), the array, and a storer that writes a block's outputs once it is done.

In the default (aggregated) mode a run of k identical passes is one timeout of k pass times; with
`detail=True` every phase of a run holds the GLB banks and each NoC it uses as simpy resources, which gives the
same times (the array is their only user) at the cost of more events: a check of the aggregated path.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import simpy

from simulator.timing.rates import Rates, drain_terms, fill_terms, pass_phases, stream_terms
from simulator.timing.schedule import Block, PassWork, Schedule, Step

Proc = Generator[simpy.Event, Any, None]


class CountingEnvironment(simpy.Environment):
    """A simpy environment that counts the events it processes (the benchmark's unit of work)."""

    def __init__(self) -> None:
        super().__init__()
        self.events = 0

    def step(self) -> None:
        self.events += 1
        super().step()


@dataclass(frozen=True)
class EngineResult:
    """What one replay measured, in seconds."""

    latency_s: float  # first load to last store
    processing_s: float  # PE array busy: fill + compute + drain of every pass
    link_busy_s: float  # DRAM link busy
    events: int


class _Chip:
    """The simulated hardware of one layer: shared DRAM link, and (detailed mode) GLB and NoC resources."""

    def __init__(self, env: CountingEnvironment, rates: Rates, detail: bool) -> None:
        self.env = env
        self.rates = rates
        self.detail = detail
        self.link = simpy.Resource(env, capacity=1)
        names = ("glb", "noc.ifmap", "noc.weight", "noc.psum_in", "noc.psum_out")
        self.paths = {name: simpy.Resource(env, capacity=1) for name in names} if detail else {}
        self.busy_s = 0.0
        self.link_s = 0.0
        self._phases: dict[PassWork, float] = {}

    def transfer(self, bits: float, started: simpy.Event | None = None) -> Proc:
        """Move `bits` over the DRAM link (either direction; the bus is shared, first come first served);
        `started` fires with the time the transfer gets the link."""
        if bits <= 0:
            return
        with self.link.request() as req:
            yield req
            if started is not None:
                started.succeed(self.env.now)
            dt = self.rates.link_s(bits)
            self.link_s += dt
            yield self.env.timeout(dt)

    def run(self, work: PassWork, count: int) -> simpy.Event:
        """An event that fires when `count` identical passes have run on the array."""
        if self.detail:
            return self.env.process(self._detailed(work, count))
        dt = count * self.pass_s(work)
        self.busy_s += dt
        return self.env.timeout(dt)

    def pass_s(self, work: PassWork) -> float:
        """Seconds of one pass: fill + streaming compute + drain."""
        seconds = self._phases.get(work)
        if seconds is None:
            seconds = self._phases[work] = pass_phases(work, self.rates).total / self.rates.core_hz
        return seconds

    def setup(self, weight_bits: float) -> simpy.Event:
        """Codebooks into the PE lookup tables over the weight network, before the first pass."""
        dt = weight_bits / self.rates.noc_weight / self.rates.core_hz
        if self.detail and dt > 0:
            return self.env.process(self._hold_all({"noc.weight": dt}))
        self.busy_s += dt
        return self.env.timeout(dt)

    def _hold(self, path: str, dt: float) -> Proc:
        with self.paths[path].request() as req:
            yield req
            yield self.env.timeout(dt)

    def _hold_all(self, terms: dict[str, float]) -> Proc:
        """Every path busy for its time at once; the PE array ('pe') needs no resource."""
        start = self.env.now
        events = [
            self.env.timeout(dt) if path == "pe" else self.env.process(self._hold(path, dt))
            for path, dt in terms.items()
            if dt > 0
        ]
        if events:
            yield self.env.all_of(events)
        self.busy_s += self.env.now - start

    def _detailed(self, work: PassWork, count: int) -> Proc:
        hz = self.rates.core_hz
        yield from self._hold_all({k: count * v / hz for k, v in fill_terms(work, self.rates).items()})
        yield from self._hold_all({k: count * v / hz for k, v in stream_terms(work, self.rates).items()})
        for path, cycles in drain_terms(work, self.rates).items():
            yield from self._hold_all({path: count * cycles / hz})


def _serial(chip: _Chip, schedule: Schedule) -> Proc:
    """No overlap: each block loads, computes (streamed weights just before their pass) and stores in turn."""
    yield chip.setup(schedule.setup_weight_bits)
    for block in schedule.blocks:
        r = block.repeat
        yield from chip.transfer(block.load_bits * r)
        for step in block.steps:
            yield from chip.transfer(step.stream_bits * step.count * r)
            yield chip.run(step.work, step.count * r)
        yield from chip.transfer(block.store_bits * r)


class _Pipeline:
    """Double buffering: loader, array and storer processes coordinated by per-step and per-block events.

    A streamed step of k passes splits its weight loads as the one-pass-ahead slot allows: the first before
    the step (ready), passes 2..k-1 as one burst while the first k-2 passes run (mid; pass i still waits for
    its own tile, in closed form from the burst's start), the last once pass k-1 starts (last). This reproduces
    the pass-by-pass replay of `expand()` with a handful of events per step.
    """

    def __init__(self, chip: _Chip, schedule: Schedule) -> None:
        env = chip.env
        self.chip = chip
        self.setup_bits = schedule.setup_weight_bits
        self.blocks: list[Block] = [b for b in schedule.blocks for _ in range(b.repeat)]
        steps = [s for b in self.blocks for s in b.steps]
        n = len(steps)

        def events() -> list[simpy.Event]:
            return [env.event() for _ in range(n)]

        self.ready, self.mid, self.last = events(), events(), events()  # weights (or tiles) on chip
        self.burst = events()  # the loads of passes 2..k-1 got the link (value: when)
        self.started, self.penult, self.final = events(), events(), events()  # array began pass 1, k-1, k
        # Events nobody waits for are never fired: the array waits for a step's inputs only at a block's first
        # step and at streamed steps, and signals its last pass only when the next step streams.
        firsts: set[int] = set()
        j = 0
        for b in self.blocks:
            firsts.add(j)
            j += len(b.steps)
        self.wait_ready = [j in firsts or steps[j].stream_bits > 0 for j in range(n)]
        self.signal_final = [j + 1 < n and steps[j + 1].stream_bits > 0 for j in range(n)]
        self.computed = [env.event() for _ in self.blocks]
        self.stored = [env.event() for _ in self.blocks]

    def loader(self) -> Proc:
        """One DMA queue in program order: a block's tiles once the buffer half two blocks back is free;
        streamed weights one pass ahead of the array."""
        chip, j = self.chip, 0
        for bi, block in enumerate(self.blocks):
            if bi >= 2:
                yield self.stored[bi - 2]
            yield from chip.transfer(block.load_bits)
            for step in block.steps:
                bits, k = step.stream_bits, step.count
                if bits > 0:
                    if j > 0:
                        yield self.final[j - 1]
                    yield from chip.transfer(bits)
                if self.wait_ready[j]:
                    self.ready[j].succeed()
                if bits > 0 and k > 1:
                    yield self.started[j]
                    yield from chip.transfer(bits * (k - 2), started=self.burst[j])
                    self.mid[j].succeed()
                    yield self.penult[j]
                    yield from chip.transfer(bits)
                    self.last[j].succeed()
                j += 1

    def array(self) -> Proc:
        chip, env, j = self.chip, self.chip.env, 0
        yield chip.setup(self.setup_bits)
        for bi, block in enumerate(self.blocks):
            for step in block.steps:
                k = step.count
                if self.wait_ready[j]:
                    yield self.ready[j]
                if step.stream_bits > 0 and k > 1:
                    self.started[j].succeed()
                    if k > 2:
                        yield from self._paced(step, j, env.now)
                        yield self.mid[j]
                    self.penult[j].succeed()
                    yield env.all_of([chip.run(step.work, 1), self.last[j]])
                    k = 1
                elif self.signal_final[j] and k > 1:
                    yield chip.run(step.work, k - 1)
                    k = 1
                if self.signal_final[j]:
                    self.final[j].succeed()
                yield chip.run(step.work, k)
                j += 1
            self.computed[bi].succeed()

    def _paced(self, step: Step, j: int, t0: float) -> Proc:
        """Passes 1..k-2 of a streamed run, pass i waiting for its weights: the burst started at B loads
        one tile per L, so pass i starts at max(t0 + (i-1) P, B + L + (i-2) P) if L <= P, else B + (i-1) L."""
        chip, m = self.chip, step.count - 2
        p = chip.pass_s(step.work)
        chip.busy_s += m * p
        burst = self.burst[j]
        b = yield burst
        load = chip.rates.link_s(step.stream_bits)
        start = t0 + (m - 1) * p
        if m >= 2:
            start = max(start, b + load + (m - 2) * p if load <= p else b + (m - 1) * load)
        wait = start + p - chip.env.now
        if wait > 0:
            yield chip.env.timeout(wait)

    def storer(self) -> Proc:
        for bi, block in enumerate(self.blocks):
            yield self.computed[bi]
            yield from self.chip.transfer(block.store_bits)
            self.stored[bi].succeed()


def replay(schedule: Schedule, rates: Rates, overlap: bool = False, detail: bool = False) -> EngineResult:
    """Run one layer's schedule on a fresh simpy environment and measure it."""
    env = CountingEnvironment()
    chip = _Chip(env, rates, detail)
    if overlap:
        pipe = _Pipeline(chip, schedule)
        for proc in (pipe.loader(), pipe.array(), pipe.storer()):
            env.process(proc)
    else:
        env.process(_serial(chip, schedule))
    env.run()
    return EngineResult(latency_s=env.now, processing_s=chip.busy_s, link_busy_s=chip.link_s, events=env.events)
