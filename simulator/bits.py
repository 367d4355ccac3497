"""Bit widths of every datum at every level: the one place that decides how many bits a value occupies.

Clustered weights travel as codebook indices (ceil(log2 K) bits per vector of `vector_length` weights) down to
the level where they are decoded; below it they are full-width values of `codebook_bits`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from accelerators.spec import AcceleratorSpec
from simulator.workload import Layer


class WidthError(ValueError):
    """A layer asks for wider operands than the accelerator's datapath has."""


@dataclass(frozen=True)
class Widths:
    """Bits per element of each data type for one layer on one accelerator."""

    act: int
    psum: int
    weight_value: int
    weight_dram: float
    weight_glb: float
    weight_pe: float
    clustered: bool
    decode: str | None  # "pe", "glb", or "glb-fallback" when the PE lookup table is too small
    codebook_values: int
    codebook_bits: int

    @property
    def decode_in_pe(self) -> bool:
        return self.clustered and self.decode == "pe"

    @property
    def weight_dram_key(self) -> str:
        """Data-type name of weight traffic between DRAM and GLB."""
        return "index" if self.clustered else "weight"

    @property
    def weight_glb_key(self) -> str:
        """Data-type name of weights held in and read from the GLB."""
        return "index" if self.decode_in_pe else "weight"

    @property
    def weight_pe_key(self) -> str:
        """Data-type name of weights on the array network and in the PE scratchpads."""
        return "index" if self.decode_in_pe else "weight"


def layer_widths(spec: AcceleratorSpec, layer: Layer) -> Widths:
    """Widths for one layer on one accelerator; raises WidthError when the datapath is too narrow."""
    nm = layer.numerics
    arith = spec.arithmetic
    c = nm.clustering
    weight_bits = nm.weight_bits if nm.weight_bits is not None else arith.weight_bits
    act_bits = nm.act_bits if nm.act_bits is not None else arith.act_bits
    codebook_bits = (c.codebook_bits or weight_bits) if c is not None else 0
    weight_value = codebook_bits if c is not None else weight_bits
    if weight_value > arith.weight_bits:
        what = "codebook entries" if c is not None else "weights"
        raise WidthError(
            f"layer {layer.name!r}: {weight_value}-bit {what} exceed the {arith.weight_bits}-bit weight "
            f"datapath of {spec.name!r}"
        )
    if act_bits > arith.act_bits:
        raise WidthError(
            f"layer {layer.name!r}: {act_bits}-bit activations exceed the {arith.act_bits}-bit "
            f"activation datapath of {spec.name!r}"
        )
    if c is None:
        w = float(weight_bits)
        return Widths(
            act=act_bits,
            psum=arith.psum_bits,
            weight_value=weight_value,
            weight_dram=w,
            weight_glb=w,
            weight_pe=w,
            clustered=False,
            decode=None,
            codebook_values=0,
            codebook_bits=0,
        )
    per_weight_index = c.index_bits / c.vector_length
    if per_weight_index >= weight_value:
        # A codebook that cannot shrink the weights is not worth decoding: the hardware keeps raw weights.
        return layer_widths(spec, layer.with_numerics(replace(nm, clustering=None, weight_bits=weight_value)))
    decode = spec.decode.location
    codebook_values = c.clusters * c.vector_length
    if decode == "pe" and codebook_values > spec.decode.lut_entries:
        # The PE lookup table cannot hold this codebook: decode where the weights enter the GLB instead.
        decode = "glb-fallback"
    in_pe = per_weight_index if decode == "pe" else float(weight_value)
    return Widths(
        act=act_bits,
        psum=arith.psum_bits,
        weight_value=weight_value,
        weight_dram=per_weight_index,
        weight_glb=in_pe,
        weight_pe=in_pe,
        clustered=True,
        decode=decode,
        codebook_values=codebook_values,
        codebook_bits=codebook_bits,
    )


def rlc_factor(sparsity: float, value_bits: int, run_bits: int, word_bits: int) -> float:
    """Expected size of run-length-coded data relative to raw, for i.i.d. zeros (never above 1).

    Eyeriss codes each non-zero as a (run of preceding zeros, value) pair packed into words; a run longer than
    2**run_bits - 1 needs an extra pair. The link sends raw data when coding would not shrink it.
    """
    pair_bits = run_bits + value_bits
    pairs_per_word = max(1, (word_bits - 1) // pair_bits)
    chunk = 2**run_bits
    long_runs = sparsity**chunk / (1.0 - sparsity**chunk) if sparsity > 0 else 0.0
    pairs_per_value = (1.0 - sparsity) * (1.0 + long_runs)
    coded_bits = pairs_per_value * word_bits / pairs_per_word
    return min(1.0, coded_bits / value_bits)


def rlc_factors(spec: AcceleratorSpec, layer: Layer, wid: Widths) -> tuple[float, float]:
    """RLC size factors of a layer's ifmap read and ofmap write on the DRAM link (1 when RLC is off)."""
    f = spec.features
    if not f.rlc:
        return 1.0, 1.0
    nm = layer.numerics
    return (
        rlc_factor(nm.ifmap_sparsity, wid.act, f.rlc_run_bits, f.rlc_word_bits),
        rlc_factor(nm.ofmap_sparsity, wid.act, f.rlc_run_bits, f.rlc_word_bits),
    )


def gated_share(spec: AcceleratorSpec, layer: Layer) -> float:
    """Share of MACs executed: zero gating skips those whose ifmap value is zero."""
    return (1.0 - layer.numerics.ifmap_sparsity) if spec.features.zero_gating else 1.0
