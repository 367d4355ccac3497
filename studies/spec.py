"""The study file: a YAML description of a sweep, validated by pydantic (unknown keys are errors).

A study names one workload source (a model + dataset to compress, a built-in shape-only network, or existing
trace files), the compression settings to sweep (methods, cluster counts, seeds), the bit widths, and the
hardware: accelerator presets or spec files, dataflows, batch sizes and spec overrides written as
`accelerator__a__b` paths (a grid in `sweep`, explicit variants in `points`). See docs/studies.md.
"""

from __future__ import annotations

import math
import re
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

METHODS = ("kmeans", "kmeans-wr", "deep-kmeans", "dkm", "uniform")
OVERRIDE_PREFIX = "accelerator__"
RANGE_KEYS = {"start", "stop", "step", "mul"}
MAX_POINTS = 1_000_000


class StudyError(ValueError):
    """A study file that cannot be used; the one-line message names the file and the field."""


def expand_values(value: Any, field: str) -> list[Any]:
    """An axis as a list: a list stays, a scalar becomes [scalar], {start, stop, step|mul} becomes a range
    (stop included)."""
    if isinstance(value, list | tuple):
        if not value:
            raise ValueError(f"{field}: give at least one value")
        return list(value)
    if isinstance(value, dict):
        keys = set(value)
        if not keys <= RANGE_KEYS or not {"start", "stop"} <= keys or len(keys & {"step", "mul"}) != 1:
            raise ValueError(
                f"{field}: a mapping here must be a range {{start, stop, step}} or {{start, stop, mul}} "
                f"(got keys {sorted(keys)}); put structured values such as {{rows: 12, cols: 14}} inside a list"
            )
        return _range(value, field)
    return [value]


def _range(spec: dict[str, Any], field: str) -> list[Any]:
    start, stop = spec["start"], spec["stop"]
    for name in ("start", "stop", "step", "mul"):
        v = spec.get(name)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
            raise ValueError(f"{field}: range {name} must be a number, got {v!r}")
    out: list[Any] = []
    if "step" in spec:
        step = spec["step"]
        if step <= 0:
            raise ValueError(f"{field}: range step must be > 0, got {step}")
        n = math.floor((stop - start) / step + 1e-9) + 1
        out = [start + i * step for i in range(max(n, 0))]
    else:
        mul = spec["mul"]
        if mul <= 1 or start <= 0:
            raise ValueError(f"{field}: a geometric range needs start > 0 and mul > 1")
        v = start
        while v <= stop * (1 + 1e-9):
            out.append(v)
            v *= mul
    if not out:
        raise ValueError(f"{field}: range {spec} is empty (stop < start?)")
    if all(isinstance(x, float) and x.is_integer() for x in out) and all(
        isinstance(spec[k], int) for k in spec if k != "mul"
    ):
        out = [int(x) for x in out]
    return out


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Bits(_Strict):
    """Bit widths to sweep; null means: as the trace says (trained / trace studies) or the accelerator's native
    width (shape-only networks)."""

    weights: list[int | None] = Field(
        [None], description="bits of weights that are neither clustered nor uniformly quantized (float baseline)"
    )
    activations: list[int | None] = Field([None], description="bits per activation")
    codebook: list[int | None] = Field([None], description="bits per codebook (centroid) element")

    @field_validator("weights", "activations", "codebook", mode="before")
    @classmethod
    def _axis(cls, v: Any, info: Any) -> list[Any]:
        return expand_values(v, f"bits.{info.field_name}")

    @field_validator("weights", "activations", "codebook")
    @classmethod
    def _range(cls, v: list[int | None], info: Any) -> list[int | None]:
        for b in v:
            if b is not None and not 1 <= b <= 64:
                raise ValueError(f"bit widths lie in [1, 64], got {b}")
        return v


class Training(_Strict):
    """Compression settings shared by every job; any other key is a `CompressJob` field (e.g. lr, lambda,
    cluster_dim, temperature, float_lr, batch_size, options), checked when the study runs."""

    model_config = ConfigDict(extra="allow", frozen=True)

    epochs: int | None = Field(None, ge=0, description="compression (re-)training epochs; null = method default")
    float_epochs: int = Field(30, ge=0, description="epochs of the float model (trained once, cached)")
    per_method: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="settings for one method only, e.g. {deep-kmeans: {epochs: 4}}"
    )

    @field_validator("per_method")
    @classmethod
    def _methods(cls, v: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name in v:
            if name not in METHODS:
                raise ValueError(f"unknown method {name!r}; methods: {', '.join(METHODS)}")
        return v

    def job_fields(self, method: str) -> dict[str, Any]:
        """The CompressJob fields for one method (common settings, then the method's own)."""
        common = {k: v for k, v in self.model_dump(by_alias=True).items() if k != "per_method"}
        if common.get("epochs") is None:
            common.pop("epochs", None)
        return {**common, **self.per_method.get(method, {})}


class Report(_Strict):
    """What the plots and the summary table compare."""

    pareto: dict[str, Literal["min", "max"]] | None = Field(
        None,
        description="objectives of the Pareto front, column -> min|max; default energy:min + accuracy:max "
        "(trained and trace studies) or energy:min + cycles:min + clusters:max (shape-only)",
    )
    heatmap: list[tuple[str, str]] | None = Field(
        None, description="pairs of columns to draw as heat maps (rows, columns); default: chosen from the sweep"
    )


class Study(_Strict):
    """One study file."""

    name: str = Field(min_length=1, description="short identifier; the default output folder is runs/<name>")
    description: str = ""
    # workload: one of model+dataset, network, traces
    model: str | None = Field(None, description="model to compress: lenet5, resnet20 or path/to/file.py:factory")
    dataset: str | None = Field(None, description="dataset to train on: mnist5k, digits, cifar10, imagefolder")
    dataset_path: str | None = Field(None, description="local directory for cifar10 / imagefolder")
    network: str | None = Field(None, description="built-in shape-only network (no training, no accuracy)")
    traces: list[str] = Field(default_factory=list, description="existing trace files to replay")
    # compression axes
    methods: list[str] = Field(default_factory=lambda: ["kmeans"], description="compression methods")
    clusters: list[int] = Field(default_factory=lambda: [16], description="cluster counts K")
    seeds: list[int] = Field(default_factory=lambda: [0], description="training seeds (trained studies only)")
    float_baseline: bool = Field(True, description="also simulate the uncompressed model (marked in the plots)")
    bits: Bits = Bits()
    training: Training = Training()
    # hardware axes
    accelerators: list[str] = Field(default_factory=lambda: ["eyeriss"], description="presets or spec YAML files")
    dataflows: list[str] = Field(default_factory=lambda: ["rs"], description="dataflows to simulate")
    batch: list[int | None] = Field([None], description="batch sizes; null = the trace's (1 for networks)")
    objective: Literal["energy", "latency", "edp"] = Field("energy", description="what the mapper minimises")
    timing: bool = Field(False, description="also replay each mapping on the event model (latency_s, fps columns)")
    overlap: bool = Field(False, description="with timing: overlap DRAM transfers with compute")
    sweep: dict[str, Any] = Field(
        default_factory=dict, description="grid of spec overrides: accelerator__a__b -> list of values"
    )
    points: list[dict[str, Any]] = Field(
        default_factory=list, description="explicit hardware variants, each a mapping of accelerator__a__b -> value"
    )
    report: Report = Report()

    @field_validator("methods", "clusters", "seeds", "accelerators", "dataflows", "batch", "traces", mode="before")
    @classmethod
    def _axis(cls, v: Any, info: Any) -> list[Any]:
        return expand_values(v, info.field_name)

    @field_validator("methods")
    @classmethod
    def _methods(cls, v: list[str]) -> list[str]:
        for m in v:
            if m not in METHODS:
                raise ValueError(f"unknown method {m!r}; methods: {', '.join(METHODS)}")
        if len(set(v)) != len(v):
            raise ValueError("methods are listed twice")
        return v

    @field_validator("clusters")
    @classmethod
    def _clusters(cls, v: list[int]) -> list[int]:
        for k in v:
            if k < 2:
                raise ValueError(f"cluster counts must be >= 2, got {k}")
        return sorted(set(v))

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: list[int]) -> list[int]:
        if any(s < 0 for s in v):
            raise ValueError("seeds must be >= 0")
        return list(dict.fromkeys(v))

    @field_validator("batch")
    @classmethod
    def _batch(cls, v: list[int | None]) -> list[int | None]:
        if any(b is not None and b < 1 for b in v):
            raise ValueError("batch sizes must be >= 1")
        return v

    @field_validator("sweep")
    @classmethod
    def _sweep(cls, v: dict[str, Any]) -> dict[str, list[Any]]:
        out = {}
        for key, values in v.items():
            _check_path(key)
            out[key] = expand_values(values, f"sweep.{key}")
        return out

    @field_validator("points")
    @classmethod
    def _points(cls, v: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for point in v:
            if not point:
                raise ValueError("an explicit point needs at least one accelerator__... override")
            for key in point:
                _check_path(key)
        return v

    @model_validator(mode="after")
    def _one_workload(self) -> Study:
        sources = [
            name
            for name, given in (
                ("model + dataset", self.model is not None or self.dataset is not None),
                ("network", self.network is not None),
                ("traces", bool(self.traces)),
            )
            if given
        ]
        if len(sources) != 1:
            raise ValueError(
                "give exactly one workload: 'model' + 'dataset' (compress and train), 'network' (a built-in "
                f"shape-only network) or 'traces' (existing trace files); got {', '.join(sources) or 'none'}"
            )
        if (self.model is None) != (self.dataset is None):
            raise ValueError("'model' and 'dataset' go together (the model is trained on the dataset)")
        if "uniform" in self.methods and self.mode != "traces":
            bad = [k for k in self.clusters if k & (k - 1)]
            if bad:
                raise ValueError(
                    f"uniform quantization uses log2(K) bits, so K must be a power of two; got clusters {bad}"
                )
        return self

    @property
    def mode(self) -> Literal["trained", "network", "traces"]:
        if self.network is not None:
            return "network"
        if self.traces:
            return "traces"
        return "trained"

    @property
    def override_paths(self) -> list[str]:
        """Every override path of the sweep and the explicit points, in order of first appearance."""
        keys = list(self.sweep)
        for point in self.points:
            keys += [k for k in point if k not in keys]
        return keys


def _check_path(key: str) -> None:
    if not key.startswith(OVERRIDE_PREFIX) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        raise ValueError(
            f"override {key!r} must be an accelerator spec path written accelerator__a__b "
            "(e.g. accelerator__glb__size_kb)"
        )
    if len(key) <= len(OVERRIDE_PREFIX) or "___" in key or key.endswith("_"):
        raise ValueError(f"override {key!r} is not a valid accelerator__a__b path")


def format_errors(exc: ValidationError, source: str) -> str:
    """All problems on one line: 'FILE: field.path: what is wrong (got X); ...'."""
    problems = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if p != "function-after") or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see docs/studies.md for the keys)"
        elif err["type"] == "missing":
            msg = "missing required field"
        given = err.get("input")
        tail = ""
        if err["type"] not in ("missing", "extra_forbidden", "value_error") and not isinstance(given, dict | list):
            tail = f" (got {given!r})"
        problems.append(f"{loc}: {msg}{tail}")
    return f"{source}: " + "; ".join(problems)


def shipped_studies() -> list[str]:
    """Names of the study files shipped in the package (studies/*.yaml)."""
    root = resources.files("studies")
    return sorted(p.name[: -len(".yaml")] for p in root.iterdir() if p.name.endswith(".yaml"))


def resolve_study_path(ref: str | Path) -> Path:
    """A study file path, or the name of a shipped study (demo, hw_sweep_alexnet, ...)."""
    p = Path(ref)
    if p.is_file():
        return p
    if not str(ref).endswith((".yaml", ".yml")) and str(ref) in shipped_studies():
        return Path(str(resources.files("studies") / f"{ref}.yaml"))
    if p.suffix in (".yaml", ".yml") or p.parent != Path("."):
        raise StudyError(f"study file not found: {p}")
    raise StudyError(f"study file not found: {p} (shipped studies: {', '.join(shipped_studies())})")


def parse_study(data: Any, source: str = "<study>") -> Study:
    """Validate a mapping into a Study; StudyError with a one-line message otherwise."""
    if not isinstance(data, dict):
        raise StudyError(f"{source}: expected a mapping of study keys at the top level, got {type(data).__name__}")
    try:
        return Study.model_validate(data)
    except ValidationError as exc:
        raise StudyError(format_errors(exc, source)) from None


def load_study(ref: str | Path) -> tuple[Study, Path]:
    """(study, directory its relative paths resolve against) from a file path or a shipped study name."""
    path = resolve_study_path(ref)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where is not None else ""
        problem = getattr(exc, "problem", None) or "parse error"
        raise StudyError(f"{path}: not valid YAML{at}: {problem}") from None
    return parse_study(data, str(path)), path.resolve().parent
