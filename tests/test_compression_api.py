"""The public names of the compression package, pinned; and the lazy import keeps torch out of the CLI's start."""

from __future__ import annotations

import subprocess
import sys

import compression
from compression.base import Compressor

PUBLIC = [
    "CompressJob", "CompressedLayer", "CompressionConfig", "Compressor", "DKM", "DKMConfig", "DKMLayerConfig",
    "DeepKMeans", "DeepKMeansConfig", "DeepKMeansLayerConfig", "KMeans", "KMeansConfig", "KMeansLayerConfig",
    "KMeansWR", "METHODS", "Uniform", "UniformConfig", "UniformLayerConfig", "capture_trace", "kmeans",
    "layer_size", "run_compression",
]  # fmt: skip


def test_public_names_are_pinned() -> None:
    assert compression.__all__ == sorted(PUBLIC)
    for name in PUBLIC:
        assert getattr(compression, name) is not None


def test_every_method_has_a_compressor_with_the_protocol() -> None:
    methods = {cls.method: cls for cls in (compression.KMeans, compression.KMeansWR, compression.DeepKMeans,
                                            compression.DKM, compression.Uniform)}  # fmt: skip
    assert set(methods) == set(compression.METHODS)
    for cls in methods.values():
        assert issubclass(cls, Compressor)
        for hook in ("prepare", "penalty", "step", "end_epoch", "finalize", "compress", "report"):
            assert callable(getattr(cls, hook))


def test_command_module_does_not_import_torch() -> None:
    code = "import sys, studies.commands.compress, compression; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
