"""Grid expansion: a Study becomes workloads (what to simulate), hardware variants and points, each with a stable
id (a hash of its configuration), so a rerun recognises finished points and trained models."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accelerators import AcceleratorSpec, SpecError, load_spec, with_overrides
from compression.methods import RECIPE_VERSION
from studies.spec import OVERRIDE_PREFIX, Study, StudyError

ID_VERSION = 1


def stable_id(obj: Any, length: int = 16) -> str:
    """Hash of a JSON-able object, independent of key order."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"v{ID_VERSION}:{text}".encode()).hexdigest()[:length]


@dataclass(frozen=True)
class Workload:
    """What gets simulated before bit widths apply: a compressed model (trained or traced), a shape-only network
    clustered on the fly, or the float baseline of one of those."""

    id: str
    kind: str  # trained | trace | network | float
    method: str  # a compression method, or "float"
    clusters: int | None = None
    seed: int | None = None
    model: str | None = None
    dataset: str | None = None
    job: str | None = None  # CompressJob fields as JSON (trained)
    trace: str | None = None  # trace file (trace studies; filled in after training for trained ones)
    network: str | None = None
    vector_length: int | str | None = None  # network studies: 1, "row" or DKM's d
    base: str | None = None  # float of a trained/trace study: the workload whose trace it strips
    info: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def label(self) -> str:
        return "float" if self.method == "float" else f"{self.method} K={self.clusters}"

    def job_fields(self) -> dict[str, Any]:
        return json.loads(self.job) if self.job else {}


@dataclass(frozen=True)
class Hardware:
    """One accelerator variant: a base spec (preset or file) plus overrides (paths without the prefix)."""

    id: str
    accelerator: str  # the reference as given (preset name or resolved file path)
    name: str  # the spec's own name
    overrides_json: str = "{}"
    label: str = ""

    @property
    def overrides(self) -> dict[str, Any]:
        return json.loads(self.overrides_json)

    def build(self) -> AcceleratorSpec:
        """The full spec (rebuilt through with_overrides, so it is re-validated)."""
        spec = load_spec(self.accelerator)
        return with_overrides(spec, self.overrides) if self.overrides else spec


@dataclass(frozen=True)
class Point:
    """One simulation: a workload at given bit widths on one hardware variant, dataflow and batch."""

    id: str
    workload: Workload
    hardware: Hardware
    weight_bits: int | None
    act_bits: int | None
    codebook_bits: int | None
    dataflow: str
    batch: int | None
    options_json: str = "{}"  # simulate() options that differ from the defaults (objective, timing, overlap)

    @property
    def options(self) -> dict[str, Any]:
        return json.loads(self.options_json)

    @property
    def spec_key(self) -> tuple[str, str]:
        """Points with equal keys share a spec, so one worker maps them with warm caches."""
        return (self.hardware.id, self.dataflow)


@dataclass
class Expansion:
    """The expanded study: ordered, de-duplicated workloads, hardware variants and points."""

    study: Study
    base_dir: Path
    workloads: list[Workload]
    hardware: list[Hardware]
    points: list[Point]

    @property
    def trained(self) -> list[Workload]:
        return [w for w in self.workloads if w.kind == "trained"]

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.study.name,
            "mode": self.study.mode,
            "workloads": len(self.workloads),
            "to_train": len(self.trained),
            "hardware": len(self.hardware),
            "points": len(self.points),
        }


def model_fingerprint(model: str, base_dir: Path) -> str:
    """Built-in model name, or file.py:factory plus the file's content hash (so an edited model retrains)."""
    path_str, sep, attr = model.rpartition(":")
    if not sep:
        return model
    path = Path(path_str).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else "missing"
    return f"{path.stem}:{attr}:{digest}"


def _resolve_path(ref: str, base_dir: Path) -> Path:
    p = Path(ref).expanduser()
    return p if p.is_absolute() else (base_dir / p)


def _resolve_model(model: str, base_dir: Path) -> str:
    path_str, sep, attr = model.rpartition(":")
    if not sep:
        return model
    return f"{_resolve_path(path_str, base_dir)}:{attr}"


# ---------------------------------------------------------------------------------------------------------
# Workloads
# ---------------------------------------------------------------------------------------------------------


def _check_model_and_data(study: Study, base_dir: Path) -> None:
    """Cheap checks (no torch) so a typo fails before any training starts."""
    from compression.methods import BUILTIN_MODELS, DATASETS, PATH_DATASETS

    assert study.model is not None and study.dataset is not None
    if study.dataset not in DATASETS:
        raise StudyError(f"dataset: unknown dataset {study.dataset!r}; datasets: {', '.join(DATASETS)}")
    if study.dataset in PATH_DATASETS:
        if study.dataset_path is None:
            raise StudyError(f"dataset_path: dataset {study.dataset!r} needs a local folder (nothing is downloaded)")
        if not _resolve_path(study.dataset_path, base_dir).is_dir():
            raise StudyError(f"dataset_path: folder not found: {_resolve_path(study.dataset_path, base_dir)}")
    path_str, sep, _ = study.model.rpartition(":")
    if not sep:
        if study.model not in BUILTIN_MODELS:
            raise StudyError(
                f"model: {study.model!r} is neither a built-in model ({', '.join(BUILTIN_MODELS)}) "
                "nor path/to/file.py:factory"
            )
    elif not _resolve_path(path_str, base_dir).is_file():
        raise StudyError(f"model: file not found: {_resolve_path(path_str, base_dir)}")


def _trained_workloads(study: Study, base_dir: Path) -> list[Workload]:
    assert study.model is not None and study.dataset is not None
    _check_model_and_data(study, base_dir)
    model = _resolve_model(study.model, base_dir)
    fingerprint = model_fingerprint(study.model, base_dir)
    out: list[Workload] = []
    for seed in study.seeds:
        seed_jobs: list[Workload] = []
        for method in study.methods:
            for k in study.clusters:
                job: dict[str, Any] = {
                    "model": model,
                    "dataset": study.dataset,
                    "method": method,
                    "clusters": k,
                    "seed": seed,
                    **study.training.job_fields(method),
                }
                if study.dataset_path is not None:
                    job["dataset_path"] = str(_resolve_path(study.dataset_path, base_dir))
                identity = {**job, "model": fingerprint, "kind": "trained", "recipe": RECIPE_VERSION}
                seed_jobs.append(
                    Workload(
                        id=stable_id(identity),
                        kind="trained",
                        method=method,
                        clusters=k,
                        seed=seed,
                        model=study.model,
                        dataset=study.dataset,
                        job=json.dumps(job, sort_keys=True),
                    )
                )
        if study.float_baseline and seed_jobs:
            # The float model's energy uses the trace shapes and sparsity of the least-compressed job of the
            # first method (the float model itself is never traced by the compression pipeline).
            base = max((w for w in seed_jobs if w.method == study.methods[0]), key=lambda w: w.clusters or 0)
            out.append(
                Workload(
                    id=stable_id({"kind": "float", "base": base.id}),
                    kind="float",
                    method="float",
                    seed=seed,
                    model=study.model,
                    dataset=study.dataset,
                    base=base.id,
                )
            )
        out += seed_jobs
    return out


def _network_workloads(study: Study) -> list[Workload]:
    assert study.network is not None
    from simulator.networks import get_network

    try:
        get_network(study.network)
    except ValueError as exc:
        raise StudyError(f"network: {exc}") from None
    out: list[Workload] = []
    if study.float_baseline:
        out.append(
            Workload(
                id=stable_id({"kind": "network", "network": study.network, "method": "float"}),
                kind="network",
                method="float",
                network=study.network,
                model=study.network,
            )
        )
    dkm_d = int(study.training.job_fields("dkm").get("cluster_dim", 1))
    for method in study.methods:
        vlen: int | str = {"kmeans": 1, "kmeans-wr": "row", "deep-kmeans": "row", "dkm": dkm_d, "uniform": 1}[method]
        for k in study.clusters:
            identity = {"kind": "network", "network": study.network, "method": method, "clusters": k, "vlen": vlen}
            out.append(
                Workload(
                    id=stable_id(identity),
                    kind="network",
                    method=method,
                    clusters=k,
                    network=study.network,
                    model=study.network,
                    vector_length=vlen,
                )
            )
    return out


def _trace_clusters(trace: Any) -> int | None:
    extra = trace.model.extra or {}
    if isinstance(extra.get("clusters"), int):
        return int(extra["clusters"])
    ks = {layer.clustering.clusters for layer in trace.layers if layer.clustering is not None}
    if len(ks) == 1:
        return ks.pop()
    bits = {layer.weight_bits for layer in trace.layers if layer.clustering is None and layer.weight_bits}
    if trace.model.method == "uniform" and len(bits) == 1:
        return 2 ** bits.pop()
    return max(ks) if ks else None


def _trace_workloads(study: Study, base_dir: Path) -> list[Workload]:
    from simulator.trace import load_trace

    given = study.model_fields_set & {"methods", "clusters", "seeds"}
    if given:
        raise StudyError(
            f"{', '.join(sorted(given))}: a trace study takes the method, K and seed from each trace; remove them"
        )
    out: list[Workload] = []
    floats: dict[str, Workload] = {}
    for i, ref in enumerate(study.traces):
        path = _resolve_path(ref, base_dir)
        try:
            trace = load_trace(path)
        except ValueError as exc:
            raise StudyError(f"traces[{i}]: {exc}") from None
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        info = trace.model
        method = info.method if info.method not in ("none", "") else "float"
        w = Workload(
            id=stable_id({"kind": "trace", "sha": digest}),
            kind="trace",
            method=method,
            clusters=_trace_clusters(trace) if method != "float" else None,
            seed=(info.extra or {}).get("seed"),
            model=info.name,
            dataset=info.dataset,
            trace=str(path),
            info={
                "accuracy": info.accuracy,
                "float_accuracy": info.float_accuracy,
                "compression_ratio": (info.extra or {}).get("compression_ratio"),
            },
        )
        if study.float_baseline and info.name not in floats and method != "float":
            floats[info.name] = Workload(
                id=stable_id({"kind": "float", "base": w.id}),
                kind="float",
                method="float",
                model=info.name,
                dataset=info.dataset,
                trace=str(path),
                base=w.id,
                info={"accuracy": info.float_accuracy, "float_accuracy": info.float_accuracy},
            )
        out.append(w)
    return list(floats.values()) + out


# ---------------------------------------------------------------------------------------------------------
# Hardware
# ---------------------------------------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if isinstance(value, dict):
        if set(value) == {"rows", "cols"}:
            return f"{value['rows']}x{value['cols']}"
        return ",".join(f"{k}={_fmt(v)}" for k, v in value.items())
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def hardware_label(name: str, overrides: dict[str, Any]) -> str:
    if not overrides:
        return name
    return name + " [" + ", ".join(f"{k}={_fmt(v)}" for k, v in overrides.items()) + "]"


def _flat_error(exc: Exception) -> str:
    return " ".join(str(exc).split())


def hardware_variants(study: Study) -> list[dict[str, Any]]:
    """Override sets (prefix stripped): the sweep grid, then the explicit points; [{}] when neither is given."""
    variants: list[dict[str, Any]] = []
    if study.sweep:
        keys = list(study.sweep)
        for combo in itertools.product(*(study.sweep[k] for k in keys)):
            variants.append({k[len(OVERRIDE_PREFIX) :]: v for k, v in zip(keys, combo, strict=True)})
    for point in study.points:
        variants.append({k[len(OVERRIDE_PREFIX) :]: v for k, v in point.items()})
    return variants or [{}]


def _hardware(study: Study, base_dir: Path) -> list[Hardware]:
    out: list[Hardware] = []
    variants = hardware_variants(study)
    for i, ref in enumerate(study.accelerators):
        candidate = _resolve_path(ref, base_dir)
        resolved = str(candidate) if ref.endswith((".yaml", ".yml")) or candidate.is_file() else ref
        try:
            base = load_spec(resolved)
        except SpecError as exc:
            raise StudyError(f"accelerators[{i}]: {_flat_error(exc)}") from None
        # Check every swept value once on its own; invalid combinations become failure rows when simulated.
        for key, values in study.sweep.items():
            for value in values:
                _check_override(base, key, value)
        for j, point in enumerate(study.points):
            _check_override_set(base, point, f"points[{j}]")
        base_hash = stable_id(base.model_dump(mode="json"))
        for overrides in variants:
            ov_json = json.dumps(overrides, sort_keys=True)
            out.append(
                Hardware(
                    id=stable_id({"spec": base_hash, "overrides": overrides}),
                    accelerator=resolved,
                    name=base.name,
                    overrides_json=ov_json,
                    label=hardware_label(base.name, overrides),
                )
            )
    return list({h.id: h for h in out}.values())


def _check_override(base: AcceleratorSpec, key: str, value: Any) -> None:
    try:
        with_overrides(base, {key[len(OVERRIDE_PREFIX) :]: value})
    except SpecError as exc:
        raise StudyError(f"sweep.{key} = {value!r}: {_flat_error(exc)}") from None
    except (TypeError, AttributeError):
        raise StudyError(f"sweep.{key} = {value!r}: not a valid value for this spec path") from None


def _check_override_set(base: AcceleratorSpec, point: dict[str, Any], where: str) -> None:
    try:
        with_overrides(base, {k[len(OVERRIDE_PREFIX) :]: v for k, v in point.items()})
    except SpecError as exc:
        raise StudyError(f"{where}: {_flat_error(exc)}") from None
    except (TypeError, AttributeError):
        raise StudyError(f"{where}: not a valid set of overrides for this spec") from None


# ---------------------------------------------------------------------------------------------------------
# Points
# ---------------------------------------------------------------------------------------------------------


def _check_dataflows(study: Study) -> None:
    from simulator.mapper import DATAFLOWS

    for d in study.dataflows:
        if d not in DATAFLOWS:
            raise StudyError(f"dataflows: unknown dataflow {d!r}; available: {', '.join(DATAFLOWS)}")


def expand(study: Study, base_dir: str | Path = ".") -> Expansion:
    """Every point of the study, in a stable order; raises StudyError (one line) on unusable settings."""
    base_dir = Path(base_dir)
    _check_dataflows(study)
    if study.mode == "trained":
        workloads = _trained_workloads(study, base_dir)
    elif study.mode == "network":
        workloads = _network_workloads(study)
    else:
        workloads = _trace_workloads(study, base_dir)
    hardware = _hardware(study, base_dir)
    b = study.bits
    bit_combos = list(itertools.product(b.weights, b.activations, b.codebook))
    n = len(workloads) * len(hardware) * len(bit_combos) * len(study.dataflows) * len(study.batch)
    if n > 1_000_000:
        raise StudyError(f"the study expands to {n:,} points; more than 1,000,000 is surely a mistake")
    options = {
        k: v
        for k, v in {"objective": study.objective, "timing": study.timing, "overlap": study.overlap}.items()
        if v != {"objective": "energy", "timing": False, "overlap": False}[k]
    }
    options_json = json.dumps(options, sort_keys=True)
    points: dict[str, Point] = {}
    for hw, dataflow, batch, (wb, ab, cb), wl in itertools.product(
        hardware, study.dataflows, study.batch, bit_combos, workloads
    ):
        if wl.method == "float" and cb is not None and cb != b.codebook[0]:
            continue  # a float model has no codebook: one codebook width is enough
        if wl.method == "float":
            cb = b.codebook[0]
        identity = {
            "workload": wl.id,
            "hardware": hw.id,
            "weight_bits": wb,
            "act_bits": ab,
            "codebook_bits": cb,
            "dataflow": dataflow,
            "batch": batch,
        }
        if options:
            identity["options"] = options  # only when set, so default points keep their ids
        pid = stable_id(identity)
        points.setdefault(pid, Point(pid, wl, hw, wb, ab, cb, dataflow, batch, options_json))
    return Expansion(study, base_dir, workloads, hardware, list(points.values()))


def load_expansion(ref: str | Path) -> tuple[Expansion, Path]:
    """Load a study file (or shipped name) and expand it; errors are prefixed with the file's path."""
    from studies.spec import load_study, resolve_study_path

    path = resolve_study_path(ref)
    study, base_dir = load_study(path)
    try:
        return expand(study, base_dir), path
    except StudyError as exc:
        raise StudyError(f"{path}: {exc}") from None


def index_bits(clusters: int | None) -> int | None:
    return None if not clusters else max(1, math.ceil(math.log2(clusters)))
