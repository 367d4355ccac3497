"""Workload description: one layer is its loop dimensions plus the numerics of its operands.

Dimension letters follow Eyeriss (Chen et al., ISCA 2016): N batch, C input channels, H x W input, M output
channels, R x S filter, U stride, E x F output. Grouped convolution (depthwise when groups == C) divides C and M
into independent groups.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal

LayerKind = Literal["conv", "fc"]


@dataclass(frozen=True)
class Clustering:
    """Weight sharing of one layer: weights grouped into vectors, each replaced by one of K centroids.

    codebook_bits None means centroids as wide as the layer's (or the accelerator's) weights.
    """

    clusters: int
    vector_length: int = 1
    unique: int | None = None
    codebook_bits: int | None = None
    distinct_rows: float | None = None

    def __post_init__(self) -> None:
        if self.clusters < 1:
            raise ValueError(f"clusters must be >= 1, got {self.clusters}")
        if self.vector_length < 1:
            raise ValueError(f"vector_length must be >= 1, got {self.vector_length}")
        if self.unique is not None and not 1 <= self.unique <= self.clusters:
            raise ValueError(f"unique ({self.unique}) must lie in [1, clusters={self.clusters}]")
        if self.codebook_bits is not None and not 1 <= self.codebook_bits <= 64:
            raise ValueError(f"codebook_bits must lie in [1, 64], got {self.codebook_bits}")

    @property
    def used(self) -> int:
        """Distinct centroids actually referenced (all of them unless the trace says otherwise)."""
        return self.unique if self.unique is not None else self.clusters

    @property
    def index_bits(self) -> int:
        return index_bits(self.clusters)


def index_bits(clusters: int) -> int:
    """Bits of one codebook index: ceil(log2 K), at least 1."""
    return max(1, math.ceil(math.log2(clusters)))


@dataclass(frozen=True)
class Numerics:
    """Operand widths (None: the accelerator's native width), clustering and measured sparsity of one layer."""

    weight_bits: int | None = None
    act_bits: int | None = None
    clustering: Clustering | None = None
    ifmap_sparsity: float = 0.0
    ofmap_sparsity: float = 0.0

    def __post_init__(self) -> None:
        for name in ("weight_bits", "act_bits"):
            value = getattr(self, name)
            if value is not None and not 1 <= value <= 64:
                raise ValueError(f"{name} must lie in [1, 64], got {value}")
        for name in ("ifmap_sparsity", "ofmap_sparsity"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must lie in [0, 1), got {value}")


@dataclass(frozen=True)
class Layer:
    """One convolution or fully connected layer (an FC layer is a convolution whose filter covers its input)."""

    name: str
    kind: LayerKind
    C: int
    M: int
    H: int = 1
    W: int = 1
    R: int = 1
    S: int = 1
    U: int = 1
    pad: int = 0
    groups: int = 1
    N: int = 1
    numerics: Numerics = field(default_factory=Numerics)
    inputs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for dim in ("C", "M", "H", "W", "R", "S", "U", "groups", "N"):
            value = getattr(self, dim)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"layer {self.name!r}: {dim} must be a positive integer, got {value!r}")
        if self.pad < 0:
            raise ValueError(f"layer {self.name!r}: pad must be >= 0, got {self.pad}")
        if self.C % self.groups or self.M % self.groups:
            raise ValueError(f"layer {self.name!r}: groups ({self.groups}) must divide C ({self.C}) and M ({self.M})")
        if self.H + 2 * self.pad < self.R or self.W + 2 * self.pad < self.S:
            raise ValueError(
                f"layer {self.name!r}: filter {self.R}x{self.S} is larger than the padded input "
                f"{self.H + 2 * self.pad}x{self.W + 2 * self.pad}"
            )
        c = self.numerics.clustering
        if c is not None:
            vectors = self.weights // c.vector_length
            if self.weights % c.vector_length:
                raise ValueError(
                    f"layer {self.name!r}: vector_length {c.vector_length} does not divide the {self.weights} weights"
                )
            if c.clusters > vectors:
                raise ValueError(
                    f"layer {self.name!r}: {c.clusters} clusters but only {vectors} weight vectors "
                    f"of length {c.vector_length}"
                )

    @property
    def E(self) -> int:
        """Output height."""
        return (self.H + 2 * self.pad - self.R) // self.U + 1

    @property
    def F(self) -> int:
        """Output width."""
        return (self.W + 2 * self.pad - self.S) // self.U + 1

    @property
    def Cg(self) -> int:
        """Input channels per group."""
        return self.C // self.groups

    @property
    def Mg(self) -> int:
        """Output channels per group."""
        return self.M // self.groups

    @property
    def depthwise(self) -> bool:
        return self.groups > 1 and self.groups == self.C

    @property
    def weights(self) -> int:
        """Number of filter weights."""
        return self.M * self.Cg * self.R * self.S

    @property
    def ifmap_size(self) -> int:
        """Input activations of the whole batch (unpadded)."""
        return self.N * self.C * self.H * self.W

    @property
    def ofmap_size(self) -> int:
        """Output activations of the whole batch."""
        return self.N * self.M * self.E * self.F

    @property
    def rows_touched(self) -> int:
        """Padded input rows some output needs (a strided filter shorter than its stride skips rows)."""
        return min(self.U * (self.E - 1) + self.R, self.E * self.R)

    @property
    def cols_touched(self) -> int:
        """Padded input columns some output needs."""
        return min(self.U * (self.F - 1) + self.S, self.F * self.S)

    @property
    def ifmap_touched(self) -> int:
        """Input activations of the batch that some MAC reads (unpadded): the compulsory ifmap traffic."""
        return self.N * self.C * min(self.H, self.rows_touched) * min(self.W, self.cols_touched)

    @property
    def macs(self) -> int:
        return macs(self)

    def with_batch(self, n: int) -> Layer:
        return replace(self, N=n)

    def with_numerics(self, numerics: Numerics) -> Layer:
        return replace(self, numerics=numerics)

    def shape_str(self) -> str:
        """One-line, einsum-like description."""
        g = f" g={self.groups}" if self.groups > 1 else ""
        return (
            f"{self.kind} N{self.N} C{self.C} {self.H}x{self.W} -> M{self.M} {self.E}x{self.F}, "
            f"filter {self.R}x{self.S} /{self.U} pad {self.pad}{g}"
        )


def macs(layer: Layer) -> int:
    """Multiply-accumulates of a layer: N * M * E * F * (C / groups) * R * S. The one place this is computed."""
    return layer.N * layer.M * layer.E * layer.F * layer.Cg * layer.R * layer.S


def conv(
    name: str,
    C: int,
    M: int,
    HW: int,
    RS: int,
    U: int = 1,
    pad: int | None = None,
    groups: int = 1,
    inputs: tuple[str, ...] = (),
) -> Layer:
    """A square convolution; pad defaults to 'same'-style (RS // 2)."""
    return Layer(
        name=name,
        kind="conv",
        C=C,
        M=M,
        H=HW,
        W=HW,
        R=RS,
        S=RS,
        U=U,
        pad=RS // 2 if pad is None else pad,
        groups=groups,
        inputs=inputs,
    )


def fc(name: str, C: int, M: int, HW: int = 1, inputs: tuple[str, ...] = ()) -> Layer:
    """A fully connected layer over a C x HW x HW input (HW = 1 for a flat vector)."""
    return Layer(name=name, kind="fc", C=C, M=M, H=HW, W=HW, R=HW, S=HW, inputs=inputs)
