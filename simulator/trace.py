"""The layer trace: a versioned JSON file that records what a (compressed) model asks of the hardware.

Compression writes it, the simulator replays it, anyone can read it. One schema, here. Shapes are per layer;
numerics (bit widths, clustering, measured sparsity) travel with them; model-level metadata says where the
trace came from.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from simulator.workload import Clustering, Layer, Numerics

TRACE_FORMAT = "clusterwatt-trace"
TRACE_VERSION = 1


class TraceError(ValueError):
    """A trace that cannot be replayed; the message says which layer and why."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LayerShape(_Strict):
    """Loop dimensions of one layer (letters as in Eyeriss; an FC layer has R = H and S = W)."""

    N: int = Field(1, ge=1, description="batch size the trace was captured with")
    C: int = Field(ge=1, description="input channels")
    H: int = Field(1, ge=1, description="input height (unpadded)")
    W: int = Field(1, ge=1, description="input width (unpadded)")
    M: int = Field(ge=1, description="output channels")
    R: int = Field(1, ge=1, description="filter height")
    S: int = Field(1, ge=1, description="filter width")
    stride: int = Field(1, ge=1)
    pad: int = Field(0, ge=0)
    groups: int = Field(1, ge=1)


class TraceClustering(_Strict):
    """Weight sharing of one layer."""

    clusters: int = Field(ge=1, description="K, the codebook size")
    vector_length: int = Field(
        1, ge=1, description="weights per clustered vector: 1 scalar, S for Deep k-Means rows, d for DKM"
    )
    unique: int | None = Field(None, ge=1, description="distinct centroids actually used after finalize")
    index_bits: int | None = Field(None, ge=1, description="bits per index; default ceil(log2 K)")
    codebook_bits: int | None = Field(
        16, ge=1, le=64, description="bits per codebook entry element (null: as wide as the weights)"
    )
    distinct_rows: float | None = Field(
        None,
        ge=1,
        description="mean number of distinct filter rows per (input channel, filter row) across the output "
        "channels; drives the row-reuse model (vector_length == S only)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> TraceClustering:
        if self.unique is not None and self.unique > self.clusters:
            raise ValueError(f"unique ({self.unique}) exceeds clusters ({self.clusters})")
        if self.index_bits is not None and 2**self.index_bits < self.clusters:
            raise ValueError(f"index_bits ({self.index_bits}) cannot address {self.clusters} clusters")
        return self


class TraceLayer(_Strict):
    """One traced Conv/Linear layer."""

    name: str = Field(min_length=1)
    kind: Literal["conv", "fc"]
    shape: LayerShape
    weight_bits: int | None = Field(
        16, ge=1, le=64, description="bits per weight when not clustered (null: the accelerator's native width)"
    )
    act_bits: int | None = Field(16, ge=1, le=64, description="bits per activation (null: native width)")
    clustering: TraceClustering | None = None
    ifmap_sparsity: float = Field(0.0, ge=0.0, lt=1.0, description="measured share of zero input activations")
    inputs: list[str] = Field(
        default_factory=list,
        description="names of the layers whose outputs feed this one ('input' = the model input); "
        "empty: the previous layer",
    )


class ModelInfo(_Strict):
    """Where a trace came from."""

    name: str = "unnamed"
    source: str = Field("", description="tool or script that wrote the trace")
    method: str = Field("none", description="compression method (none, kmeans, deep-kmeans, dkm, uniform, ...)")
    dataset: str | None = None
    accuracy: float | None = Field(None, ge=0.0, le=1.0, description="top-1 accuracy of this model, a fraction")
    float_accuracy: float | None = Field(None, ge=0.0, le=1.0)
    extra: dict[str, Any] = Field(default_factory=dict)


class Trace(_Strict):
    """A model's layer trace."""

    format: Literal["clusterwatt-trace"] = TRACE_FORMAT
    version: int = Field(TRACE_VERSION, description="schema version")
    model: ModelInfo = ModelInfo()
    layers: list[TraceLayer] = Field(min_length=1)

    @model_validator(mode="after")
    def _version_known(self) -> Trace:
        if self.version != TRACE_VERSION:
            raise ValueError(
                f"trace version {self.version} is not supported (this clusterwatt reads version {TRACE_VERSION})"
            )
        names = [layer.name for layer in self.layers]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate layer names: {', '.join(dupes)}")
        return self

    def to_layers(self, batch: int | None = None) -> list[Layer]:
        """Simulator layers (batch overrides the captured batch size); raises TraceError if inconsistent."""
        layers = [trace_layer_to_layer(t, batch) for t in self.layers]
        check_chain(layers)
        return layers

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.model_dump_json(indent=2) + "\n")


def trace_layer_to_layer(t: TraceLayer, batch: int | None = None) -> Layer:
    """Convert one validated trace layer into a simulator Layer."""
    s = t.shape
    clustering = None
    if t.clustering is not None:
        c = t.clustering
        clustering = Clustering(
            clusters=c.clusters,
            vector_length=c.vector_length,
            unique=c.unique,
            codebook_bits=c.codebook_bits,
            distinct_rows=c.distinct_rows,
        )
    try:
        return Layer(
            name=t.name,
            kind=t.kind,
            C=s.C,
            M=s.M,
            H=s.H,
            W=s.W,
            R=s.R,
            S=s.S,
            U=s.stride,
            pad=s.pad,
            groups=s.groups,
            N=batch if batch is not None else s.N,
            numerics=Numerics(
                weight_bits=t.weight_bits,
                act_bits=t.act_bits,
                clustering=clustering,
                ifmap_sparsity=t.ifmap_sparsity,
            ),
            inputs=tuple(t.inputs),
        )
    except ValueError as exc:
        raise TraceError(str(exc)) from None


def layer_to_trace_layer(layer: Layer) -> TraceLayer:
    """The trace record of a simulator Layer (inverse of trace_layer_to_layer)."""
    nm = layer.numerics
    c = nm.clustering
    return TraceLayer(
        name=layer.name,
        kind=layer.kind,
        shape=LayerShape(
            N=layer.N,
            C=layer.C,
            H=layer.H,
            W=layer.W,
            M=layer.M,
            R=layer.R,
            S=layer.S,
            stride=layer.U,
            pad=layer.pad,
            groups=layer.groups,
        ),
        weight_bits=nm.weight_bits,
        act_bits=nm.act_bits,
        clustering=None
        if c is None
        else TraceClustering(
            clusters=c.clusters,
            vector_length=c.vector_length,
            unique=c.unique,
            codebook_bits=c.codebook_bits,
            distinct_rows=c.distinct_rows,
        ),
        ifmap_sparsity=nm.ifmap_sparsity,
        inputs=list(layer.inputs),
    )


def trace_from_layers(layers: Sequence[Layer], model: ModelInfo | None = None) -> Trace:
    return Trace(model=model or ModelInfo(), layers=[layer_to_trace_layer(x) for x in layers])


def _out_values(layer: Layer) -> int:
    return layer.M


def check_chain(layers: Sequence[Layer]) -> None:
    """Every layer's input channels must come from its producers: the named inputs (concatenated or added),
    or else the previous layer; an FC layer may flatten a feature map. Raises TraceError."""
    by_name: dict[str, Layer] = {}
    prev: Layer | None = None
    for layer in layers:
        if layer.inputs:
            producers = []
            for name in layer.inputs:
                if name == "input":
                    continue
                if name not in by_name:
                    raise TraceError(f"layer {layer.name!r}: input {name!r} is not an earlier layer of the trace")
                producers.append(by_name[name])
            if producers:
                channels = [_out_values(p) for p in producers]
                ok = _channels_match(layer, sum(channels)) or all(_channels_match(layer, c) for c in channels)
                if not ok:
                    raise TraceError(
                        f"layer {layer.name!r} takes {layer.C} input channels but its inputs "
                        f"{list(layer.inputs)} produce {channels} (neither their sum nor each matches)"
                    )
        elif prev is not None and not _channels_match(layer, _out_values(prev)):
            raise TraceError(
                f"layer {layer.name!r} takes {layer.C} input channels but the previous layer "
                f"{prev.name!r} produces {prev.M}; name the producers in 'inputs' if the model branches"
            )
        by_name[layer.name] = layer
        prev = layer


def _channels_match(layer: Layer, produced: int) -> bool:
    if produced == layer.C:
        return True
    # An FC layer given as a flat vector may consume a flattened C x H x W feature map.
    return layer.kind == "fc" and layer.H == 1 and produced > 0 and layer.C % produced == 0


def load_trace(path: str | Path) -> Trace:
    """Read and validate a trace file; errors name the file and the problem."""
    p = Path(path)
    if not p.is_file():
        raise TraceError(f"trace file not found: {p}")
    try:
        data = json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise TraceError(f"{p}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != TRACE_FORMAT:
        raise TraceError(f'{p}: not a clusterwatt trace (expected "format": "{TRACE_FORMAT}")')
    if data.get("version") != TRACE_VERSION:
        raise TraceError(
            f"{p}: trace version {data.get('version')!r} is not supported "
            f"(this clusterwatt reads version {TRACE_VERSION})"
        )
    try:
        trace = Trace.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise TraceError(f"{p}: invalid trace: {problems}") from None
    try:
        trace.to_layers()  # shape and chaining checks
    except TraceError as exc:
        raise TraceError(f"{p}: {exc}") from None
    return trace
