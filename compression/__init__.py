"""Weight-clustering compression: k-means weight sharing, Deep k-Means, DKM and uniform quantization.

Every method follows one shape (as coremltools optimize.torch): a pydantic config with per-layer overrides,
`prepare()`, ordinary training steps (adding `penalty()` to the loss, calling `step()` / `end_epoch()`), then
`finalize()`; `compress()` for post-training methods. Names are imported lazily so that `import compression`
(and the command line) stays free of torch until a name is used.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CompressionConfig": "compression.config",
    "KMeansConfig": "compression.config",
    "KMeansLayerConfig": "compression.config",
    "DeepKMeansConfig": "compression.config",
    "DeepKMeansLayerConfig": "compression.config",
    "DKMConfig": "compression.config",
    "DKMLayerConfig": "compression.config",
    "UniformConfig": "compression.config",
    "UniformLayerConfig": "compression.config",
    "Compressor": "compression.base",
    "CompressedLayer": "compression.base",
    "KMeans": "compression.kmeans",
    "KMeansWR": "compression.kmeans",
    "DeepKMeans": "compression.deep_kmeans",
    "DKM": "compression.dkm",
    "Uniform": "compression.uniform",
    "kmeans": "compression.clustering",
    "layer_size": "compression.sizes",
    "capture_trace": "compression.trace_export",
    "CompressJob": "compression.pipeline",
    "run_compression": "compression.pipeline",
    "METHODS": "compression.methods",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'compression' has no attribute {name!r}")
