"""Shared fixtures: small specs built through the public loader (so they pass the same validation)."""

from __future__ import annotations

from typing import Any

import pytest

from accelerators import AcceleratorSpec, spec_from_dict


def tiny_spec_dict(rows: int = 2, cols: int = 2, **features: Any) -> dict[str, Any]:
    """A tiny accelerator with roomy buffers and the ISCA 2016 normalized costs."""
    return {
        "name": "tiny",
        "clock_mhz": 100,
        "pe_array": {"rows": rows, "cols": cols},
        "rf": {
            "ifmap": {"words": 16, "word_bits": 16},
            "weight": {"words": 64, "word_bits": 16},
            "psum": {"words": 16, "word_bits": 16},
        },
        "glb": {"size_kb": 64, "word_bits": 64},
        "dram": {"bus_bits": 64, "clock_mhz": 100},
        "energy": {
            "unit": "normalized",
            "mac": {"cost": 1.0, "adder_fraction": 0.0},
            "rf": {"cost": 1.0, "bits": 16},
            "noc": {"cost": 2.0, "bits": 16},
            "glb": {"cost": 6.0, "bits": 16},
            "dram": {"cost": 200.0, "bits": 16},
        },
        "features": {"zero_gating": False, "rlc": False, **features},
    }


@pytest.fixture
def tiny_spec() -> AcceleratorSpec:
    return spec_from_dict(tiny_spec_dict())
