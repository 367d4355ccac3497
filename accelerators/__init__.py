"""Accelerator specifications: schema, shipped presets and loading of user files."""

from accelerators.loader import (
    SpecError,
    list_presets,
    load_spec,
    spec_from_dict,
    spec_to_yaml,
    with_overrides,
)
from accelerators.spec import AcceleratorSpec

__all__ = [
    "AcceleratorSpec",
    "SpecError",
    "list_presets",
    "load_spec",
    "spec_from_dict",
    "spec_to_yaml",
    "with_overrides",
]
