"""Cost model: bits moved per (level, data type) times the spec's energy per bit, plus MAC energy.

Pure functions over numpy arrays or floats, so they price one mapping or a whole candidate space.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from accelerators.spec import AcceleratorSpec, EnergyTable
from simulator.bits import Widths

LEVELS = ("mac", "rf", "noc", "glb", "dram")
MEMORY_LEVELS = ("rf", "noc", "glb", "dram")
DATA = ("ifmap", "weight", "psum", "index", "codebook")


def mac_energy(energy: EnergyTable, weight_bits: int, act_bits: int) -> float:
    """Energy of one MAC: the multiplier scales with the product of operand widths, the adder does not.

    An array multiplier has weight_bits x act_bits partial-product cells (Horowitz 2014: 8-bit 0.2 pJ, 32-bit
    3.1 pJ, ratio 15.5 against 16 predicted); the accumulator keeps its width.
    """
    m = energy.mac
    scale = (weight_bits * act_bits) / (m.weight_bits * m.act_bits)
    return m.cost * ((1.0 - m.adder_fraction) * scale + m.adder_fraction)


def cost_per_bit(spec: AcceleratorSpec, key: str, wid: Widths) -> float:
    """Energy per bit moved for a 'level.data' key; codebook lookups are charged at the lookup-table cost."""
    level, data = key.split(".")
    table = spec.energy
    lut = table.lut if table.lut is not None else table.rf
    if data == "codebook" and (level == "rf" or (level == "glb" and wid.clustered and not wid.decode_in_pe)):
        return lut.cost / lut.bits
    access = getattr(table, level)
    return access.cost / access.bits


def energy_of(spec: AcceleratorSpec, wid: Widths, bits: Mapping[str, Any], macs_gated: Any) -> dict[str, Any]:
    """Energy per 'level.data' key, plus 'mac' and 'total' (arrays in, arrays out)."""
    out: dict[str, Any] = {key: value * cost_per_bit(spec, key, wid) for key, value in bits.items()}
    out["mac"] = macs_gated * mac_energy(spec.energy, wid.weight_value, wid.act)
    total = out["mac"]
    for key in bits:
        total = total + out[key]
    out["total"] = total
    return out


def split_by_level(energy: Mapping[str, float]) -> dict[str, float]:
    """Energy per level: mac, rf, noc, glb, dram (every key present)."""
    out = dict.fromkeys(LEVELS, 0.0)
    out["mac"] = float(energy.get("mac", 0.0))
    for key, value in energy.items():
        if "." in key:
            out[key.split(".")[0]] += float(value)
    return out


def split_by_data(energy: Mapping[str, float]) -> dict[str, float]:
    """Data-movement energy per data type: ifmap, weight, psum, index, codebook (MAC energy excluded)."""
    out = dict.fromkeys(DATA, 0.0)
    for key, value in energy.items():
        if "." in key:
            out[key.split(".")[1]] += float(value)
    return out


def as_float_dict(values: Mapping[str, Any], index: int | None = None) -> dict[str, float]:
    """Pick one candidate out of array-valued counts."""
    if index is None:
        return {k: float(np.asarray(v).reshape(-1)[0]) for k, v in values.items()}
    return {k: float(np.asarray(v).reshape(-1)[index]) for k, v in values.items()}
