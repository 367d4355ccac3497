"""Published reference figures the model is validated against, with their sources.

Eyeriss v1 (Chen, Krishna, Emer, Sze, IEEE JSSC 52(1), 2017), AlexNet CONV1-5 at batch 4, 200 MHz core,
60 MHz link: per-layer figures of the chip's performance table, and the mapping parameters (n, p, q, e, r, t)
reported for those layers.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.workload import Layer, Numerics

SOURCE = "Chen et al., Eyeriss, IEEE JSSC 52(1), 2017: AlexNet CONV layers, batch 4"


@dataclass(frozen=True)
class EyerissLayerFigures:
    name: str
    power_mw: float
    latency_ms: float
    macs_million: float
    active_pes: int
    ifmap_zeros: float
    glb_mb: float
    dram_mb: float
    mapping: tuple[int, int, int, int, int, int]  # n, p, q, e, r, t


EYERISS_ALEXNET = (
    EyerissLayerFigures("CONV1", 332, 20.9, 422, 154, 0.0001, 18.5, 5.0, (1, 16, 1, 7, 1, 2)),
    EyerissLayerFigures("CONV2", 288, 41.9, 896, 135, 0.387, 77.6, 4.0, (1, 16, 2, 27, 1, 1)),
    EyerissLayerFigures("CONV3", 266, 23.6, 598, 156, 0.725, 50.2, 3.0, (4, 16, 4, 13, 1, 4)),
    EyerissLayerFigures("CONV4", 235, 18.4, 449, 156, 0.793, 37.4, 2.1, (4, 16, 3, 13, 2, 2)),
    EyerissLayerFigures("CONV5", 236, 10.5, 299, 156, 0.776, 24.9, 1.3, (4, 16, 3, 13, 2, 2)),
)
EYERISS_ALEXNET_TOTAL = {
    "dram_mb": 15.4,
    "dram_accesses_per_mac": 0.0029,
    "active_pe_share": 0.88,
    "glb_mb": 208.5,
    "latency_ms": 115.3,
    "processing_ms": 103.5,
    "fps": 34.7,
    "power_mw": 278,
}
EYERISS_BATCH = 4


def eyeriss_alexnet_layers() -> list[Layer]:
    """AlexNet CONV1-5 at batch 4 with the ifmap sparsity the chip measured."""
    from simulator.networks import get_network

    convs = get_network("alexnet", EYERISS_BATCH)[:5]
    return [
        x.with_numerics(Numerics(ifmap_sparsity=f.ifmap_zeros)) for x, f in zip(convs, EYERISS_ALEXNET, strict=True)
    ]
