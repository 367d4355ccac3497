"""Timing model: invariants against the analytical bound, hand-computed cases, aggregation, clustering, fps."""

from __future__ import annotations

from dataclasses import replace

import pytest

from accelerators import AcceleratorSpec, load_spec, spec_from_dict, with_overrides
from simulator.clustering import cluster_layers
from simulator.mapper import evaluate_mapping
from simulator.networks import get_network
from simulator.results import LayerResult, NetworkResult
from simulator.row_stationary import RSMapping
from simulator.simulate import simulate, with_sparsity
from simulator.timing import attach_timing, time_layer, time_network
from simulator.timing.engine import replay
from simulator.timing.rates import pass_phases, rates_of
from simulator.timing.schedule import build_schedule, expand
from simulator.workload import Layer
from tests.conftest import tiny_spec_dict

REL = 1e-9
SPARSITY = [0.0001, 0.387, 0.725, 0.793, 0.776, 0.5, 0.5, 0.5]


@pytest.fixture(scope="module")
def eyeriss() -> AcceleratorSpec:
    return load_spec("eyeriss")


@pytest.fixture(scope="module")
def alexnet(eyeriss: AcceleratorSpec) -> NetworkResult:
    return simulate(eyeriss, "alexnet", batch=4, ifmap_sparsity=SPARSITY)


def _cases() -> list[tuple[str, str, int]]:
    return [
        ("eyeriss", "alexnet", 2),
        ("eyeriss-isca16", "mobilenet_v1", 1),
        ("edge-int8", "resnet18", 1),
        ("eyeriss-45nm-pj", "googlenet", 1),
    ]


@pytest.fixture(scope="module", params=_cases(), ids=lambda c: f"{c[0]}-{c[1]}")
def mapped(request: pytest.FixtureRequest) -> tuple[AcceleratorSpec, NetworkResult]:
    preset, network, batch = request.param
    spec = load_spec(preset)
    return spec, simulate(spec, network, batch=batch, ifmap_sparsity=0.4)


# --- invariants ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("overlap", [False, True])
def test_latency_never_below_the_analytical_bound(mapped: tuple[AcceleratorSpec, NetworkResult], overlap: bool) -> None:
    spec, result = mapped
    for r in result.layers:
        t = time_layer(spec, r, overlap)
        assert t.bound_s == pytest.approx(max(t.compute_s, t.dram_s))
        assert t.latency_s >= t.bound_s * (1 - REL), r.name
        assert t.processing_s >= t.compute_s * (1 - REL), r.name
        assert t.latency_s == pytest.approx(t.processing_s + t.stall_s)


def test_without_overlap_the_stall_is_the_whole_dram_time(mapped: tuple[AcceleratorSpec, NetworkResult]) -> None:
    spec, result = mapped
    for r in result.layers:
        t = time_layer(spec, r, overlap=False)
        assert t.stall_s == pytest.approx(t.dram_s, rel=1e-9), r.name


def test_overlap_is_never_slower(mapped: tuple[AcceleratorSpec, NetworkResult]) -> None:
    spec, result = mapped
    for r in result.layers:
        serial, overlapped = time_layer(spec, r, overlap=False), time_layer(spec, r, overlap=True)
        assert overlapped.latency_s <= serial.latency_s * (1 + REL), r.name
        assert overlapped.processing_s == pytest.approx(serial.processing_s)


@pytest.mark.parametrize("overlap", [False, True])
def test_doubling_the_dram_clock_never_slows_a_layer(
    mapped: tuple[AcceleratorSpec, NetworkResult], overlap: bool
) -> None:
    spec, result = mapped
    fast = with_overrides(spec, {"dram__clock_mhz": spec.dram.clock_mhz * 2})
    for r in result.layers:
        same_mapping = evaluate_mapping(fast, r.layer, r.mapping)
        before, after = time_layer(spec, r, overlap), time_layer(fast, same_mapping, overlap)
        assert after.latency_s <= before.latency_s * (1 + REL), r.name
        assert after.dram_s == pytest.approx(before.dram_s / 2)


def test_default_overlap_is_off(alexnet: NetworkResult, eyeriss: AcceleratorSpec) -> None:
    r = alexnet.layers[0]
    assert time_layer(eyeriss, r) == time_layer(eyeriss, r, overlap=False)
    assert time_layer(eyeriss, r, overlap=True).latency_s < time_layer(eyeriss, r).latency_s


# --- the schedule adds up to the LayerResult -------------------------------------------------------------------


def test_schedule_dram_bits_equal_the_layer_results(mapped: tuple[AcceleratorSpec, NetworkResult]) -> None:
    spec, result = mapped
    for r in result.layers:
        s = build_schedule(spec, r)
        dram = {k: v for k, v in r.bits.items() if k.startswith("dram.") and v}
        got = s.dram_bits()
        assert set(got) == set(dram), r.name
        for key, bits in dram.items():
            assert got[key] == pytest.approx(bits, rel=1e-9), (r.name, key)
        assert s.passes == r.passes
        assert s.compute_cycles == pytest.approx(r.cycles)


def _tiny_result(order: int, stream_w: int) -> tuple[AcceleratorSpec, LayerResult]:
    # 2 images, 4 channels, 2 filters of 2x2 over 4x4 -> 3x3 outputs; e = 2 gives 2 strips per image, so the
    # pass loops are NE = 4, M = 2, C = 4; GLB blocks (2, 1, 2) leave 2 DRAM-level blocks along each.
    spec = spec_from_dict(tiny_spec_dict())
    layer = Layer("t", "conv", C=4, M=2, H=4, W=4, R=2, S=2, N=2)
    m = RSMapping(n=1, p=1, q=1, e=2, r=1, t=1, order=order, b_ne=2, b_m=1, b_c=2, stream_w=stream_w)
    return spec, evaluate_mapping(spec, layer, m)


@pytest.mark.parametrize("order", range(6))
@pytest.mark.parametrize("stream_w", [0, 1])
def test_block_walk_matches_the_loop_nest_refetch_counts(order: int, stream_w: int) -> None:
    spec, r = _tiny_result(order, stream_w)
    s = build_schedule(spec, r)
    u = s.units
    # With blocks that divide the loops evenly every pass-tile is the same size, so the structural counts of
    # the block walk must reproduce the energy model's bits tile for tile.
    weight_tile = r.layer.weights * 16 / (2 * 4)  # weights / (M passes x C passes)
    assert u["weight"] * weight_tile == pytest.approx(r.bits["dram.weight"])
    ofmap_tile = r.layer.ofmap_size * 16 / (4 * 2)  # ofmap / (NE passes x M passes)
    assert (u["psum_read"] + u["psum_spill"] + u["psum_final"]) * ofmap_tile == pytest.approx(r.bits["dram.psum"])
    assert u["psum_read"] == u["psum_spill"]
    assert u["psum_final"] == 8
    assert r.bits["dram.ifmap"] / u["ifmap"] == pytest.approx(160.0)  # 10 ifmap words per pass-tile (with halo)


# --- hand-computed cases ---------------------------------------------------------------------------------------


def test_one_pass_by_hand(tiny_spec: AcceleratorSpec) -> None:
    # 3x3 ifmap, one 2x2 filter, stride 1 on a 2x2 array at 100 MHz (64-bit NoCs, one 64-bit GLB bank, 64-bit
    # DRAM link at 100 MHz). One pass; each PE computes 2 outputs x 2 taps = 4 cycles of MACs.
    layer = Layer("tiny", "conv", C=1, M=1, H=3, W=3, R=2, S=2)
    r = evaluate_mapping(tiny_spec, layer, RSMapping(1, 1, 1, 2, 1, 1, order=0, stream_w=1))
    assert r.cycles == 4
    t = time_layer(tiny_spec, r)
    assert t.compute_s == pytest.approx(4 / 100e6)
    (step,) = build_schedule(tiny_spec, r).blocks[0].steps
    phases = pass_phases(step.work, rates_of(tiny_spec))
    # Streaming phase: the 4 MAC cycles; the rest of the ifmap (3 words, 0.75 cycle), 4 psums out (1 cycle)
    # and their GLB traffic (7 words, 1.75 cycles) all fit under them.
    assert phases.stream == pytest.approx(4.0)
    # Ramp-up: 4 weights (1 cycle on the weight NoC) and the first 2 of 3 ifmap columns (6 words, 1.5 cycles)
    # both come out of the single GLB bank: 10 words = 2.5 cycles.
    assert phases.fill == pytest.approx(2.5)
    # Drain: the psum climbs R - 1 = 1 PE and the PE adds its p = 1 psums (2 cycles), then the last column's
    # 2 psums leave (0.5 cycle).
    assert phases.drain == pytest.approx(2.5)
    assert t.processing_s == pytest.approx(9 / 100e6)
    assert t.processing_s - (phases.fill + phases.drain) / 100e6 == pytest.approx(r.cycles / 100e6)
    # DRAM: 9 ifmap + 4 weight + 4 output words = 272 bits at 64 bits x 100 MHz; no overlap, so they add up.
    assert t.dram_s == pytest.approx(272 / 6.4e9)
    assert t.latency_s == pytest.approx(9 / 100e6 + 272 / 6.4e9)
    assert t.utilization == pytest.approx(16 / (4 * t.latency_s * 100e6))


def test_spads_keep_weights_across_strips() -> None:
    # A 2x1 array holds one 2x1 PE set: the 2 output rows take 2 passes with the same filter, so only the
    # first pass loads weights; each pass computes 1 output row x 2 outputs x 2 taps = 4 cycles.
    spec = spec_from_dict(tiny_spec_dict(rows=2, cols=1))
    layer = Layer("tiny", "conv", C=1, M=1, H=3, W=3, R=2, S=2)
    r = evaluate_mapping(spec, layer, RSMapping(1, 1, 1, 1, 1, 1, order=0, b_ne=2, stream_w=1))
    s = build_schedule(spec, r)
    steps = [st for b in s.blocks for st in b.steps]
    assert [st.work.weight_bits > 0 for st in steps] == [True, False]
    assert s.units["reloads"] == 1
    assert sum(st.work.compute_cycles * st.count for st in steps) == 8


# --- aggregation ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clustered_rows(eyeriss: AcceleratorSpec) -> NetworkResult:
    """AlexNet with 16 clusters per filter row: long streamed runs whose blocks end in big psum stores."""
    return simulate(
        eyeriss, cluster_layers(get_network("alexnet", 2), clusters=16, vector_length="S"), ifmap_sparsity=0.5
    )


@pytest.mark.parametrize("overlap", [False, True])
@pytest.mark.parametrize("which", ["alexnet", "clustered_rows"])
def test_aggregated_replay_equals_pass_by_pass(
    request: pytest.FixtureRequest, eyeriss: AcceleratorSpec, overlap: bool, which: str
) -> None:
    network: NetworkResult = request.getfixturevalue(which)
    rates = rates_of(eyeriss)
    events = [0, 0]
    for r in network.layers:
        s = build_schedule(eyeriss, r)
        fast, slow = replay(s, rates, overlap), replay(expand(s), rates, overlap)
        assert fast.latency_s == pytest.approx(slow.latency_s, rel=1e-9), r.name
        assert fast.processing_s == pytest.approx(slow.processing_s, rel=1e-9), r.name
        events[0] += fast.events
        events[1] += slow.events
    assert events[0] * 2 < events[1]


@pytest.mark.parametrize("order", range(6))
@pytest.mark.parametrize("overlap", [False, True])
def test_aggregation_exact_with_spills_and_streaming(order: int, overlap: bool) -> None:
    spec, r = _tiny_result(order, stream_w=1)
    s, rates = build_schedule(spec, r), rates_of(spec)
    assert replay(s, rates, overlap).latency_s == pytest.approx(replay(expand(s), rates, overlap).latency_s)


@pytest.mark.parametrize("overlap", [False, True])
def test_detailed_noc_and_glb_processes_agree(alexnet: NetworkResult, eyeriss: AcceleratorSpec, overlap: bool) -> None:
    rates = rates_of(eyeriss)
    for r in alexnet.layers[:5]:
        s = build_schedule(eyeriss, r)
        quick, detailed = replay(s, rates, overlap), replay(s, rates, overlap, detail=True)
        assert detailed.latency_s == pytest.approx(quick.latency_s, rel=1e-9)
        assert detailed.processing_s == pytest.approx(quick.processing_s, rel=1e-9)
        assert detailed.events > quick.events


# --- clustering, sparsity -------------------------------------------------------------------------------------


def test_clustering_shrinks_dram_transfer_time(eyeriss: AcceleratorSpec) -> None:
    layers = with_sparsity(get_network("alexnet", 4), SPARSITY)
    clustered = cluster_layers(layers, clusters=16)
    for plain, packed in zip(layers, clustered, strict=True):
        base = simulate(eyeriss, [plain]).layers[0]
        same = evaluate_mapping(eyeriss, packed, base.mapping)
        t0, t1 = time_layer(eyeriss, base), time_layer(eyeriss, same)
        assert t1.dram_s < t0.dram_s, plain.name
        assert t1.stall_s < t0.stall_s, plain.name
        assert t1.latency_s < t0.latency_s, plain.name
    # With the mapper free to re-map, the network's DRAM stalls still shrink.
    net0 = time_network(eyeriss, simulate(eyeriss, layers))
    net1 = time_network(eyeriss, simulate(eyeriss, clustered))
    assert net1.stall_s < net0.stall_s


def test_zero_gating_saves_no_time(eyeriss: AcceleratorSpec) -> None:
    layer = get_network("alexnet", 4)[2]
    dense = simulate(eyeriss, [layer]).layers[0]
    sparse = evaluate_mapping(
        eyeriss, replace(layer, numerics=replace(layer.numerics, ifmap_sparsity=0.7)), dense.mapping
    )
    assert sparse.macs_effective < dense.macs_effective
    t_dense, t_sparse = time_layer(eyeriss, dense), time_layer(eyeriss, sparse)
    assert t_sparse.processing_s == pytest.approx(t_dense.processing_s)
    assert t_sparse.latency_s < t_dense.latency_s  # only RLC on the DRAM link helps


# --- network totals ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("overlap", [False, True])
def test_fps_is_batch_over_latency(alexnet: NetworkResult, eyeriss: AcceleratorSpec, overlap: bool) -> None:
    t = time_network(eyeriss, alexnet, overlap=overlap)
    assert t.batch == 4
    assert t.latency_s == pytest.approx(sum(x.latency_s for x in t.layers))
    assert t.fps == pytest.approx(4 / t.latency_s)
    assert t.stall_s == pytest.approx(t.latency_s - t.processing_s)
    assert t.events == sum(x.events for x in t.layers) > 0


def test_extras_merge_into_the_result(alexnet: NetworkResult, eyeriss: AcceleratorSpec) -> None:
    t = time_network(eyeriss, alexnet)
    keys = {"latency_s", "processing_s", "stall_s", "bound_s", "utilization_timed", "macs_per_s"}
    assert all(set(d) == keys for d in t.layer_extras())
    assert set(t.as_extra()) == {"latency_s", "processing_s", "stall_s", "fps"}
    merged = attach_timing(alexnet, t).to_dict()
    assert merged["total"]["fps"] == pytest.approx(t.fps)
    assert merged["layers"][0]["latency_s"] == pytest.approx(t.layers[0].latency_s)
    assert merged["total"]["energy"] == alexnet.to_dict()["total"]["energy"]


# --- validation against the chip -------------------------------------------------------------------------------


def test_eyeriss_alexnet_against_the_chip() -> None:
    from simulator.timing.eyeriss import validation_rows

    # The published (n, p, q, e, r, t) of CONV1-5, batch 4 (docs/timing.md has the per-layer table).
    serial = [r for r in validation_rows(overlap=False) if r.variant == "published"]
    processing = sum(r.timing.processing_s for r in serial) * 1e3
    latency = sum(r.timing.latency_s for r in serial) * 1e3
    assert processing == pytest.approx(103.5, rel=0.15)
    assert latency == pytest.approx(115.3, rel=0.15)
    assert 4 / (latency / 1e3) == pytest.approx(34.7, rel=0.15)
    overlapped = [r for r in validation_rows(overlap=True) if r.variant == "published"]
    assert sum(r.timing.latency_s for r in overlapped) * 1e3 == pytest.approx(115.3, rel=0.15)
