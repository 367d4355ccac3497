"""Compressed size and compression ratio, computed one way for every method.

As in Han et al. (Deep Compression) and the Deep k-Means code: the original is 32 bits per weight; the compressed
layer stores one index of `index_bits` per clustered vector plus a codebook of 32-bit entries. Uniform
quantization fits the same formula: one `bits`-wide code per weight (a vector of length 1) plus one 32-bit scale per
output channel as its codebook. Biases and batch-norm parameters are not counted (they stay float in every method).
"""

from __future__ import annotations

from dataclasses import dataclass

ORIGINAL_BITS = 32
CODEBOOK_ENTRY_BITS = 32


@dataclass(frozen=True)
class LayerSize:
    """Bits of one layer's weights before and after compression."""

    weights: int
    original_bits: int
    compressed_bits: int

    @property
    def ratio(self) -> float:
        return self.original_bits / self.compressed_bits


def layer_size(
    weights: int,
    vector_length: int = 1,
    index_bits: int | None = None,
    codebook_entries: int = 0,
    codebook_entry_bits: int = CODEBOOK_ENTRY_BITS,
) -> LayerSize:
    """Size of a layer of `weights` weights stored as indices of `index_bits` per vector of `vector_length`
    weights plus `codebook_entries` scalars of `codebook_entry_bits`; index_bits None = left uncompressed."""
    original = ORIGINAL_BITS * weights
    if index_bits is None:
        return LayerSize(weights, original, original)
    if weights % vector_length:
        raise ValueError(f"vector_length {vector_length} does not divide {weights} weights")
    compressed = (weights // vector_length) * index_bits + codebook_entries * codebook_entry_bits
    return LayerSize(weights, original, compressed)


def total_ratio(sizes: list[LayerSize]) -> float:
    """Compression ratio of a whole model: all original bits over all compressed bits."""
    compressed = sum(s.compressed_bits for s in sizes)
    return sum(s.original_bits for s in sizes) / compressed if compressed else 1.0
