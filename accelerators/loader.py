"""Load accelerator specs from shipped presets, YAML files or Python dicts, with `extends:` inheritance."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from accelerators.spec import AcceleratorSpec

PRESET_PACKAGE = "accelerators.presets"
MAX_EXTENDS_DEPTH = 8


class SpecError(ValueError):
    """A spec that cannot be used; the message names the source, the field and what is expected."""


def list_presets() -> list[str]:
    """Names of the presets shipped with the package."""
    root = resources.files(PRESET_PACKAGE)
    return sorted(p.name[: -len(".yaml")] for p in root.iterdir() if p.name.endswith(".yaml"))


def _preset_text(name: str) -> str:
    path = resources.files(PRESET_PACKAGE) / f"{name}.yaml"
    if not path.is_file():
        raise SpecError(f"unknown accelerator preset {name!r}; presets: {', '.join(list_presets())}")
    return path.read_text()


def _parse_yaml(text: str, source: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{source}: expected a mapping of spec fields at the top level, got {type(data).__name__}")
    return data


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge override into base recursively; nested mappings merge, everything else replaces."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _resolve(data: dict[str, Any], source: str, base_dir: Path | None, depth: int = 0) -> dict[str, Any]:
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if depth >= MAX_EXTENDS_DEPTH:
        raise SpecError(f"{source}: 'extends' chain deeper than {MAX_EXTENDS_DEPTH} (a cycle?)")
    if not isinstance(parent, str):
        raise SpecError(f"{source}: 'extends' must name a preset or a YAML file, got {parent!r}")
    parent_data, parent_source, parent_dir = _raw(parent, base_dir)
    parent_data = _resolve(parent_data, parent_source, parent_dir, depth + 1)
    return deep_merge(parent_data, data)


def _raw(ref: str, base_dir: Path | None) -> tuple[dict[str, Any], str, Path | None]:
    """Raw mapping for a preset name or a file path (relative paths resolve against base_dir)."""
    candidate = Path(ref)
    if base_dir is not None and not candidate.is_absolute():
        candidate = base_dir / candidate
    if ref.endswith((".yaml", ".yml")) or candidate.is_file():
        if not candidate.is_file():
            raise SpecError(f"accelerator spec file not found: {candidate}")
        return _parse_yaml(candidate.read_text(), str(candidate)), str(candidate), candidate.parent
    return _parse_yaml(_preset_text(ref), f"preset {ref!r}"), f"preset {ref!r}", None


def format_validation_error(exc: ValidationError, source: str) -> str:
    """One line per problem: source, dotted field path, what was expected, what was given."""
    lines = [f"{source}: invalid accelerator spec ({exc.error_count()} problem(s))"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (not part of the spec schema; check the spelling)"
        elif err["type"] == "missing":
            msg = "missing required field"
        given = err.get("input")
        tail = "" if err["type"] in ("missing", "extra_forbidden") or isinstance(given, dict) else f" (got {given!r})"
        lines.append(f"  - {loc}: {msg}{tail}")
    return "\n".join(lines)


def spec_from_dict(data: Mapping[str, Any], source: str = "<dict>", base_dir: Path | None = None) -> AcceleratorSpec:
    """Validate a mapping (which may `extends:` a preset) into a spec."""
    resolved = _resolve(dict(data), source, base_dir)
    try:
        return AcceleratorSpec.model_validate(resolved)
    except ValidationError as exc:
        raise SpecError(format_validation_error(exc, source)) from None


def load_spec(ref: str | Path | AcceleratorSpec | Mapping[str, Any]) -> AcceleratorSpec:
    """A spec from a preset name, a YAML path, a mapping or an existing spec."""
    if isinstance(ref, AcceleratorSpec):
        return ref
    if isinstance(ref, Mapping):
        return spec_from_dict(ref)
    data, source, base_dir = _raw(str(ref), None)
    return spec_from_dict(data, source, base_dir)


def with_overrides(spec: AcceleratorSpec, overrides: Mapping[str, Any]) -> AcceleratorSpec:
    """A variant of spec with `a__b__c` (or dotted) keys replaced, re-validated (never model_copy)."""
    nested: dict[str, Any] = {}
    for key, value in overrides.items():
        parts = key.replace(".", "__").split("__")
        cursor = nested
        for part in parts[:-1]:
            cursor = cursor.setdefault(part, {})
        cursor[parts[-1]] = value
    merged = deep_merge(spec.model_dump(), nested)
    return spec_from_dict(merged, source=f"{spec.name} with overrides {dict(overrides)}")


def spec_to_yaml(spec: AcceleratorSpec) -> str:
    """The full spec as YAML (every default spelled out)."""
    return yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False)
