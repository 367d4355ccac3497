"""Discrete-event timing of mapped layers: latency, processing time, DRAM stalls, utilization and frames/s.

`time_layer` / `time_network` replay each layer's row-stationary schedule (schedule.py) on simpy processes
(engine.py); see docs/timing.md for the model and its validation against the Eyeriss chip.
"""

from simulator.timing.model import (
    DEFAULT_OVERLAP,
    LayerTiming,
    NetworkTiming,
    attach_timing,
    lower_bound,
    time_layer,
    time_network,
)

__all__ = [
    "DEFAULT_OVERLAP",
    "LayerTiming",
    "NetworkTiming",
    "attach_timing",
    "lower_bound",
    "time_layer",
    "time_network",
]
