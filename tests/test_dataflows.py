"""Weight-stationary, output-stationary and no-local-reuse models: invariants on random layers and
hand-computed access counts of tiny convolutions (every figure derived in the comments)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from accelerators import load_spec, spec_from_dict, with_overrides
from simulator.bits import layer_widths
from simulator.bounds import compulsory_bits
from simulator.mapper import DATAFLOWS, MappingError, check_fit, evaluate_mapping, search
from simulator.no_local_reuse import NLRMapping
from simulator.output_stationary import OSMapping
from simulator.results import LayerResult
from simulator.weight_stationary import WSMapping
from simulator.workload import Clustering, Layer, Numerics
from studies.cli import cli
from tests.conftest import tiny_spec_dict
from tests.test_model_invariants import LAYERS

NEW = ("ws", "os", "nlr")
WORD = 16


def equal_area(dataflow: str):  # type: ignore[no-untyped-def]
    return load_spec(f"eyeriss-isca16-{dataflow}")


def on_eyeriss(dataflow: str):  # type: ignore[no-untyped-def]
    """The Eyeriss chip (per-type scratchpads, zero gating, RLC, 12x14 PEs) running `dataflow`."""
    return with_overrides(load_spec("eyeriss"), {"dataflows": [dataflow]})


def words(result: LayerResult, key: str) -> float:
    return result.bits.get(key, 0.0) / WORD


def tiny(dataflow: str, **changes):  # type: ignore[no-untyped-def]
    """A 2x2 array with roomy per-type scratchpads and the ISCA 2016 normalized costs."""
    return spec_from_dict({**tiny_spec_dict(**changes), "dataflows": [dataflow]})


# ---------------------------------------------------------------- invariants on random layers


@pytest.mark.parametrize("where", ["equal-area", "eyeriss"])
@pytest.mark.parametrize("dataflow", NEW)
@pytest.mark.parametrize("layer", LAYERS, ids=lambda x: x.name)
def test_mapping_fits_conserves_work_and_respects_bounds(dataflow: str, where: str, layer: Layer) -> None:
    spec = equal_area(dataflow) if where == "equal-area" else on_eyeriss(dataflow)
    r = search(spec, layer, dataflow)
    assert r.mapping.dataflow == dataflow
    assert check_fit(spec, layer, r.mapping) == []
    # MACs are conserved: all of them, fewer only by zero gating; PEs x cycles cover the work.
    assert r.macs == layer.macs
    assert r.macs_effective <= layer.macs
    if not spec.features.zero_gating:
        assert r.macs_effective == layer.macs
    assert r.active_pes <= spec.pe_array.pes
    assert 0 < r.utilization <= 1.0 + 1e-12
    # Every datum crosses the DRAM link at least once (as coded by RLC); nothing is negative.
    compulsory, _ = compulsory_bits(spec, layer, layer_widths(spec, layer))
    for key in ("dram.ifmap", "dram.weight", "dram.psum"):
        assert r.bits[key] >= compulsory[key] * (1 - 1e-12) > 0
    assert all(v >= 0 for v in r.bits.values())
    # No schedule beats the ideal-reuse lower bound.
    assert r.total_energy >= r.lower_bound * (1 - 1e-9)


@pytest.mark.parametrize("dataflow", NEW)
@pytest.mark.parametrize("layer", LAYERS[:4], ids=lambda x: x.name)
@pytest.mark.parametrize("level", ["mac", "rf", "noc", "glb", "dram"])
def test_energy_is_monotone_in_every_cost(dataflow: str, layer: Layer, level: str) -> None:
    spec = on_eyeriss(dataflow)
    dearer = with_overrides(spec, {f"energy__{level}__cost": getattr(spec.energy, level).cost * 2})
    base = search(spec, layer, dataflow)
    assert evaluate_mapping(dearer, layer, base.mapping).total_energy >= base.total_energy
    assert search(dearer, layer, dataflow).total_energy >= base.total_energy * (1 - 1e-12)


@pytest.mark.parametrize("dataflow", NEW)
@pytest.mark.parametrize("layer", LAYERS[:3], ids=lambda x: x.name)
def test_exhaustive_search_is_never_worse(dataflow: str, layer: Layer) -> None:
    spec = equal_area(dataflow)
    fast = search(spec, layer, dataflow)
    assert search(spec, layer, dataflow, exhaustive=True).total_energy <= fast.total_energy * (1 + 1e-12)


@pytest.mark.parametrize("dataflow", NEW)
@pytest.mark.parametrize("layer", [LAYERS[0], LAYERS[-2], LAYERS[-1]], ids=lambda x: x.name)
def test_mapping_round_trips_through_a_dict(dataflow: str, layer: Layer) -> None:
    spec = equal_area(dataflow)
    r = search(spec, layer, dataflow)
    data = json.loads(json.dumps(r.mapping.to_dict()))
    assert data["dataflow"] == dataflow
    again = evaluate_mapping(spec, layer, DATAFLOWS[dataflow].MAPPING.from_dict(data))
    assert again.mapping == r.mapping
    assert again.total_energy == pytest.approx(r.total_energy, rel=1e-12)
    assert again.bits == pytest.approx(r.bits)


@pytest.mark.parametrize("dataflow", NEW)
def test_clustered_weights_travel_as_indices(dataflow: str) -> None:
    # 16 clusters: 4-bit indices instead of 16-bit weights, decoded by a lookup in the PEs.
    spec = on_eyeriss(dataflow)
    layer = Layer("c", "conv", C=32, M=64, H=14, W=14, R=3, S=3, pad=1, N=2)
    clustered = layer.with_numerics(Numerics(clustering=Clustering(clusters=16)))
    plain, packed = search(spec, layer, dataflow), search(spec, clustered, dataflow)
    assert "dram.weight" not in packed.bits
    assert packed.bits["dram.index"] == pytest.approx(plain.bits["dram.weight"] / 4, rel=0.5)
    assert packed.bits["dram.codebook"] == 16 * 16
    assert packed.bits["rf.codebook"] >= packed.macs_effective * 16  # one lookup per MAC
    assert packed.total_energy < plain.total_energy


def test_search_rejects_a_dataflow_the_spec_does_not_run() -> None:
    layer = LAYERS[0]
    with pytest.raises(MappingError, match=r"'eyeriss-isca16-ws' does not run the 'os' dataflow; its dataflows: ws"):
        search(equal_area("ws"), layer, "os")
    with pytest.raises(MappingError, match=r"does not run the 'ws' dataflow; its dataflows: rs"):
        search(load_spec("eyeriss-isca16"), layer, "ws")
    with pytest.raises(MappingError, match="unknown dataflow 'xs'"):
        search(load_spec("eyeriss-isca16"), layer, "xs")


def test_equal_area_presets_reallocate_the_register_files() -> None:
    rs, ws, os_, nlr = (load_spec("eyeriss-isca16"), equal_area("ws"), equal_area("os"), equal_area("nlr"))
    assert [s.dataflows for s in (rs, ws, os_, nlr)] == [("rs",), ("ws",), ("os",), ("nlr",)]
    assert {s.pe_array.pes for s in (rs, ws, os_, nlr)} == {256}
    # Area in global-buffer bytes, a register-file byte counting twice (docs/dataflows.md).
    area = {s.name: 2 * 256 * s.rf.shared.bits / 8 + s.glb.size_kb * 1024 for s in (rs, ws, os_)}
    area[nlr.name] = nlr.glb.size_kb * 1024  # its one-word "register file" is the MAC's operand latch
    assert len(set(area.values())) == 1


@pytest.mark.parametrize(
    ("dataflow", "mapping", "message"),
    [
        ("ws", WSMapping(n=1, p=200, e=16, r=1, t=1), "stack of 127 filters"),
        ("ws", WSMapping(n=1, p=1, e=16, r=20, t=2), "40 regions of 3x3 PEs"),
        ("os", OSMapping(n=2, q=4, e=16, f=16, t=1), "2 tiles of 16x16 PEs"),
        ("nlr", NLRMapping(n=1, t=16, r=32, e=16, q=4), "512 lanes"),
    ],
)
def test_check_fit_names_the_violated_capacity(dataflow: str, mapping, message: str) -> None:  # type: ignore[no-untyped-def]
    spec = equal_area(dataflow)
    layer = Layer("c", "conv", C=64, M=256, H=16, W=16, R=3, S=3, pad=1, N=2)
    assert message in " ".join(check_fit(spec, layer, mapping))
    with pytest.raises(ValueError, match="does not fit"):
        evaluate_mapping(spec, layer, mapping)


def test_os_names_its_variant() -> None:
    # A fully connected layer has one output pixel per image: only OS_C (MOC-SOP) applies.
    fc = Layer("fc", "fc", C=512, M=100, H=4, W=4, R=4, S=4, N=2)
    assert search(equal_area("os"), fc, "os").mapping.describe().startswith("OS_C ")
    assert OSMapping(n=1, q=1, e=4, f=4, t=1).describe().startswith("OS_A ")
    assert OSMapping(n=1, q=1, e=4, f=4, t=2).describe().startswith("OS_B ")


@pytest.mark.parametrize(("dataflow", "tag"), [("ws", "WS n="), ("os", "OS_"), ("nlr", "NLR lanes")])
def test_cli_simulates_shows_and_replays_mappings(dataflow: str, tag: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    args = ["simulate", "--accelerator", f"eyeriss-isca16-{dataflow}", "--dataflow", dataflow, "-n", "alexnet"]
    shown = runner.invoke(cli, [*args, "--show-mapping"])
    assert shown.exit_code == 0, shown.output
    assert f"CONV1: {tag}" in shown.output
    first = tmp_path / "first.json"
    assert runner.invoke(cli, [*args, "--format", "json", "-o", str(first)]).exit_code == 0
    again = runner.invoke(cli, [*args, "--format", "json", "--mappings", str(first)])
    assert again.exit_code == 0, again.output
    before, after = json.loads(first.read_text()), json.loads(again.output)
    assert [x["mapping"] for x in after["layers"]] == [x["mapping"] for x in before["layers"]]
    assert [x["energy"]["total"] for x in after["layers"]] == [x["energy"]["total"] for x in before["layers"]]


# ---------------------------------------------------------------- hand-computed counts
# The tiny layer: a 3x3 ifmap, one 2x2 filter, stride 1 -> a 2x2 ofmap: 16 MACs, 9 ifmaps, 4 weights and
# 4 outputs. Costs per 16-bit access: MAC 1, RF 1, NoC 2, GLB 6, DRAM 200. One pass, so DRAM moves every
# datum once (17 words) and the GLB writes what DRAM brings and reads it towards the array.

TINY = Layer("tiny", "conv", C=1, M=1, H=3, W=3, R=2, S=2)


def test_ws_one_region_of_2x2_pes() -> None:
    # The 4 weights sit in the 4 PEs of one 2x2 region; the pass streams the 2 output rows.
    r = evaluate_mapping(tiny("ws"), TINY, WSMapping(n=1, p=1, e=2, r=1, t=1))
    assert (words(r, "dram.ifmap"), words(r, "dram.weight"), words(r, "dram.psum")) == (9, 4, 4)
    # GLB: 9 ifmaps written and read once (multicast), 4 weights likewise, 4 outputs written and read out.
    assert (words(r, "glb.ifmap"), words(r, "glb.weight"), words(r, "glb.psum")) == (18, 8, 8)
    # NoC: PE (i, j) receives the 4 pixels (i + y, j + x) it multiplies (16), one weight each (4); each
    # output's psum visits all 4 PEs, 3 hops (12).
    assert (words(r, "noc.ifmap"), words(r, "noc.weight"), words(r, "noc.psum")) == (16, 4, 12)
    # RF: every delivery is written and every MAC reads its pixel and weight (16 + 16, 4 + 16); every MAC
    # reads the psum that reached it (zero at the head of the chain) and writes it on with its product (32).
    assert (words(r, "rf.ifmap"), words(r, "rf.weight"), words(r, "rf.psum")) == (32, 20, 32)
    assert r.active_pes == 4 and r.cycles == 4 and r.utilization == pytest.approx(1.0)
    assert r.by_level == pytest.approx({"mac": 16, "rf": 84, "noc": 64, "glb": 34 * 6, "dram": 17 * 200})
    assert r.total_energy == pytest.approx(16 + 84 + 64 + 204 + 3400)


def test_ws_stacked_filters_share_each_pixel() -> None:
    # Two filters (32 MACs). Stacked in the same PEs (p = 2) each delivered pixel feeds both: 16 deliveries
    # and one GLB read of the 9 pixels. Side by side in two passes (p = 1 on the 4 PEs) the pixels are read
    # twice (18) and delivered twice (32).
    layer = Layer("tiny", "conv", C=1, M=2, H=3, W=3, R=2, S=2)
    stacked = evaluate_mapping(tiny("ws"), layer, WSMapping(n=1, p=2, e=2, r=1, t=1))
    apart = evaluate_mapping(tiny("ws"), layer, WSMapping(n=1, p=1, e=2, r=1, t=1))
    assert (words(stacked, "noc.ifmap"), words(stacked, "glb.ifmap")) == (16, 9 + 9)
    assert (words(apart, "noc.ifmap"), words(apart, "glb.ifmap")) == (32, 9 + 18)
    assert stacked.cycles == 8 and apart.cycles == 8  # 4 outputs x 2 filters per PE either way
    assert stacked.total_energy < apart.total_energy


def test_os_one_tile_of_2x2_outputs() -> None:
    # Each of the 4 PEs accumulates one output (OS_A: one filter, 4 pixels).
    r = evaluate_mapping(tiny("os"), TINY, OSMapping(n=1, q=1, e=2, f=2, t=1))
    assert r.mapping.describe().startswith("OS_A ")
    assert (words(r, "dram.ifmap"), words(r, "dram.weight"), words(r, "dram.psum")) == (9, 4, 4)
    # GLB: the tile's 9 pixels are read once (neighbours pass them on), each weight once (multicast to the
    # 4 PEs); each output is written once when done and read out.
    assert (words(r, "glb.ifmap"), words(r, "glb.weight"), words(r, "glb.psum")) == (18, 8, 8)
    # NoC: every MAC takes a delivered pixel and weight; psums never move.
    assert (words(r, "noc.ifmap"), words(r, "noc.weight"), words(r, "noc.psum")) == (16, 16, 0)
    # RF: deliveries written and read (16 + 16 each); the psum read and written by every MAC (32).
    assert (words(r, "rf.ifmap"), words(r, "rf.weight"), words(r, "rf.psum")) == (32, 32, 32)
    assert r.active_pes == 4 and r.cycles == 4
    assert r.total_energy == pytest.approx(16 + 96 + 64 + 204 + 3400)


def test_os_psums_stay_only_while_channels_turn_innermost() -> None:
    # Two channels in two passes (q = 1) and two filters in two passes (t = 1), one block of all passes.
    # With C innermost (order NE/M/C) each output stays in its PE across both channel passes: written once,
    # read out once (2 x 8 outputs). With M inside C (order C/NE/M) the psums leave after the first channel
    # and come back: written twice, read back once and read out once (4 x 8).
    layer = Layer("tiny", "conv", C=2, M=2, H=3, W=3, R=2, S=2)
    stay = evaluate_mapping(tiny("os"), layer, OSMapping(n=1, q=1, e=2, f=2, t=1, order=0, b_m=2, b_c=2))
    leave = evaluate_mapping(tiny("os"), layer, OSMapping(n=1, q=1, e=2, f=2, t=1, order=4, b_m=2, b_c=2))
    assert words(stay, "glb.psum") == 16
    assert words(leave, "glb.psum") == 32
    assert words(stay, "dram.psum") == words(leave, "dram.psum") == 8


def test_nlr_one_adder_tree_of_4_lanes() -> None:
    # 4 reduction lanes take the 4 taps of one output per cycle; nothing is kept in the PEs.
    r = evaluate_mapping(tiny("nlr"), TINY, NLRMapping(n=1, t=1, r=4, e=2, q=1))
    assert (words(r, "dram.ifmap"), words(r, "dram.weight"), words(r, "dram.psum")) == (9, 4, 4)
    # GLB: 9 pixels written, then one read per MAC (16, no other filter lane to share it); 4 weights
    # written, then read for every MAC (16, no other image lane); each output written once, read out once.
    assert (words(r, "glb.ifmap"), words(r, "glb.weight"), words(r, "glb.psum")) == (9 + 16, 4 + 16, 8)
    # NoC: one pixel and one weight per lane and MAC; the adder tree sums 4 products with 3 hops per output.
    assert (words(r, "noc.ifmap"), words(r, "noc.weight"), words(r, "noc.psum")) == (16, 16, 12)
    assert not any(k.startswith("rf.") for k in r.bits)
    assert r.active_pes == 4 and r.cycles == 4
    assert r.total_energy == pytest.approx(16 + 0 + 44 * 2 + 53 * 6 + 3400)


def test_nlr_narrow_trees_accumulate_in_the_buffer() -> None:
    # Two lanes per output: 2 steps of 2 taps each. Each output's psum is written after both steps and
    # read back in between, then read out: 4 GLB accesses per output (16); the tree takes 1 hop per step
    # (2 per output, 8). Two image lanes (N = 2) share every weight read: 16 reads for 32 MACs.
    r = evaluate_mapping(tiny("nlr"), TINY, NLRMapping(n=1, t=1, r=2, e=2, q=1))
    assert (words(r, "glb.psum"), words(r, "noc.psum"), r.cycles) == (16, 8, 8)
    batch = evaluate_mapping(tiny("nlr"), TINY.with_batch(2), NLRMapping(n=2, t=1, r=2, e=2, q=1))
    assert words(batch, "glb.weight") == 4 + 16
