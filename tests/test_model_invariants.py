"""Physical invariants of the row-stationary model on random layers and every shipped preset."""

from __future__ import annotations

import numpy as np
import pytest

from accelerators import list_presets, load_spec, with_overrides
from simulator.bits import layer_widths
from simulator.mapper import check_fit, evaluate_mapping, search
from simulator.row_stationary import RSMapping
from simulator.workload import Layer, Numerics


def random_layers(count: int, seed: int = 7) -> list[Layer]:
    rng = np.random.default_rng(seed)
    layers = []
    for i in range(count):
        rs = int(rng.choice([1, 3, 5, 7]))
        hw = int(rng.integers(rs, 40))
        groups = int(rng.choice([1, 1, 1, 2, 4]))
        c = groups * int(rng.integers(1, 48))
        m = groups * int(rng.integers(1, 48))
        layers.append(
            Layer(
                f"L{i}",
                "conv",
                C=c,
                M=m,
                H=hw,
                W=hw,
                R=rs,
                S=rs,
                U=int(rng.choice([1, 1, 2])),
                pad=rs // 2,
                groups=groups,
                N=int(rng.integers(1, 5)),
                numerics=Numerics(ifmap_sparsity=float(rng.uniform(0, 0.8))),
            )
        )
    layers.append(Layer("fc", "fc", C=512, M=100, H=4, W=4, R=4, S=4, N=2))
    layers.append(Layer("dw", "conv", C=32, M=32, H=14, W=14, R=3, S=3, pad=1, groups=32))
    return layers


LAYERS = random_layers(12)
PRESETS = list_presets()


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("layer", LAYERS, ids=lambda x: x.name)
def test_mapping_fits_and_conserves_work(preset: str, layer: Layer) -> None:
    spec = load_spec(preset)
    r = search(spec, layer, dataflow=spec.dataflows[0])
    assert check_fit(spec, layer, r.mapping) == []
    assert r.macs == layer.macs
    assert r.macs_effective <= layer.macs
    assert r.active_pes <= spec.pe_array.pes
    # PEs x cycles bound the work: utilization never exceeds one.
    assert 0 < r.utilization <= 1.0 + 1e-12
    # Every datum crosses the DRAM link at least once; nothing is negative.
    wid = layer_widths(spec, layer)
    assert r.bits["dram.weight"] >= layer.weights * wid.weight_dram - 1e-6
    assert all(v >= 0 for v in r.bits.values())
    assert r.bits["dram.ifmap"] > 0 and r.bits["dram.psum"] > 0
    # The chosen mapping never beats the ideal-reuse lower bound.
    assert r.total_energy >= r.lower_bound * (1 - 1e-9)


@pytest.mark.parametrize("layer", LAYERS[:6], ids=lambda x: x.name)
@pytest.mark.parametrize("level", ["mac", "rf", "noc", "glb", "dram"])
def test_energy_is_monotone_in_every_cost(layer: Layer, level: str) -> None:
    spec = load_spec("eyeriss")
    key = f"energy__{level}__cost"
    base = search(spec, layer)
    dearer = with_overrides(spec, {key: getattr(spec.energy, level).cost * 2})
    # The same mapping costs at least as much, and so does the best mapping under the dearer table.
    assert evaluate_mapping(dearer, layer, base.mapping).total_energy >= base.total_energy
    assert search(dearer, layer).total_energy >= base.total_energy * (1 - 1e-12)


@pytest.mark.parametrize("layer", LAYERS[:5], ids=lambda x: x.name)
def test_exhaustive_search_is_never_worse(layer: Layer) -> None:
    spec = load_spec("eyeriss")
    assert search(spec, layer, exhaustive=True).total_energy <= search(spec, layer).total_energy * (1 + 1e-12)


def test_mapping_round_trips_through_a_dict() -> None:
    spec = load_spec("eyeriss")
    layer = LAYERS[0]
    r = search(spec, layer)
    again = evaluate_mapping(spec, layer, RSMapping.from_dict(r.mapping.to_dict()))
    assert again.total_energy == pytest.approx(r.total_energy, rel=1e-12)
    assert again.bits == pytest.approx(r.bits)


def test_check_fit_names_the_violated_capacity() -> None:
    spec = load_spec("eyeriss")
    layer = Layer("c", "conv", C=64, M=64, H=16, W=16, R=3, S=3, pad=1)
    # 24 filters x 4 channels x 3 weights = 288 > 224 filter-spad words; a 3 x 16 set folds into two strips
    # (6 x 14 PEs), so the 12 x 14 array holds 2 sets, not r * t = 4.
    problems = check_fit(spec, layer, RSMapping(n=1, p=24, q=4, e=16, r=2, t=2))
    text = " ".join(problems)
    assert "weight scratchpad" in text
    assert "4 PE sets" in text and "room for 2" in text
    assert check_fit(spec, layer, RSMapping(n=1, p=16, q=4, e=16, r=1, t=2)) == []
    with pytest.raises(ValueError, match="does not fit"):
        evaluate_mapping(spec, layer, RSMapping(n=1, p=24, q=4, e=16, r=2, t=2))


def test_objectives_trade_energy_for_latency() -> None:
    spec = load_spec("eyeriss")
    layer = Layer("c", "conv", C=96, M=256, H=27, W=27, R=5, S=5, pad=2, groups=2, N=4)
    by_energy = search(spec, layer, objective="energy")
    by_latency = search(spec, layer, objective="latency")
    assert by_latency.cycles <= by_energy.cycles
    assert by_energy.total_energy <= by_latency.total_energy
