"""Pure cost functions against published figures and hand computations."""

from __future__ import annotations

import pytest

from accelerators import load_spec, spec_from_dict
from simulator.bits import rlc_factor
from simulator.energy import mac_energy
from simulator.paper_metrics import full_adders
from tests.conftest import tiny_spec_dict


def test_mac_energy_scales_like_horowitz_multipliers() -> None:
    # Horowitz, ISSCC 2014 (45 nm): 8-bit integer multiply 0.2 pJ, 32-bit 3.1 pJ; ratio 15.5.
    d = tiny_spec_dict()
    d["energy"]["mac"] = {"cost": 3.1, "weight_bits": 32, "act_bits": 32, "adder_fraction": 0.0}
    d["arithmetic"] = {"weight_bits": 32, "act_bits": 32, "psum_bits": 32}
    for pad in ("ifmap", "weight", "psum"):
        d["rf"][pad]["word_bits"] = 32
    spec = spec_from_dict(d)
    assert mac_energy(spec.energy, 8, 8) == pytest.approx(0.2, rel=0.05)
    assert mac_energy(spec.energy, 32, 32) == pytest.approx(3.1)


def test_mac_adder_share_does_not_shrink() -> None:
    energy = load_spec("eyeriss").energy
    frac = energy.mac.adder_fraction
    assert mac_energy(energy, 16, 16) == pytest.approx(1.0)
    assert mac_energy(energy, 8, 8) == pytest.approx((1 - frac) / 4 + frac)
    assert mac_energy(energy, 4, 16) < mac_energy(energy, 8, 16) < mac_energy(energy, 16, 16)


def test_rlc_factor_hand_cases() -> None:
    # Eyeriss RLC: 5-bit run + 16-bit value pairs, three per 64-bit word -> 21.33 bits per non-zero.
    assert rlc_factor(0.0, 16, 5, 64) == 1.0  # coding would grow the data, so it is sent raw
    assert rlc_factor(0.5, 16, 5, 64) == pytest.approx(0.5 * 64 / 3 / 16, rel=1e-6)
    assert rlc_factor(0.9, 16, 5, 64) < rlc_factor(0.5, 16, 5, 64)


def test_full_adders_of_a_dot_product() -> None:
    # Wu et al. 2018, Eq. 5 with D = 4, 8-bit operands: 4*64 + 3*(8 + 8 + 2 - 1) = 307.
    assert full_adders(4, 8, 8) == 307
    assert full_adders(1, 16, 16) == 256
    with pytest.raises(ValueError):
        full_adders(0, 8, 8)
