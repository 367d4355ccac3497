"""Compression ratio: 32-bit originals over index bits per vector plus 32-bit codebook entries."""

from __future__ import annotations

import pytest
import torch

from compression.base import CompressedLayer
from compression.sizes import layer_size, total_ratio


def test_scalar_clustering_hand_computed() -> None:
    # LeNet-5 conv2: 16*6*5*5 = 2400 weights, K = 16: 2400 * 4 index bits + 16 * 32 codebook bits
    s = layer_size(2400, vector_length=1, index_bits=4, codebook_entries=16)
    assert s.original_bits == 76800
    assert s.compressed_bits == 9600 + 512
    assert s.ratio == pytest.approx(76800 / 10112)


def test_row_clustering_hand_computed() -> None:
    # the same layer as 480 rows of length 5, K = 4: 480 * 2 + 4 * 5 * 32
    s = layer_size(2400, vector_length=5, index_bits=2, codebook_entries=20)
    assert s.compressed_bits == 960 + 640
    assert s.ratio == pytest.approx(48.0)


def test_uncompressed_layer_and_model_total() -> None:
    a = layer_size(1000)
    b = layer_size(1000, index_bits=1, codebook_entries=2)
    assert a.ratio == 1.0
    assert total_ratio([a, b]) == pytest.approx(64000 / (32000 + 1000 + 64))


def test_vector_length_must_divide() -> None:
    with pytest.raises(ValueError, match="does not divide"):
        layer_size(10, vector_length=3, index_bits=2, codebook_entries=12)


def test_compressed_layer_size_uses_the_same_formula() -> None:
    rec = CompressedLayer(
        name="fc",
        method="kmeans",
        shape=(10, 8),
        clusters=4,
        vector_length=2,
        codebook_=torch.zeros(4, 2),
        assignments_=torch.zeros(40, dtype=torch.long),
        index_bits=2,
        codebook_entries=8,
        distinct=1,
    )
    assert rec.size().compressed_bits == 40 * 2 + 8 * 32
