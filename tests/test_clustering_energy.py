"""What clustering and bit widths do to hierarchy energy: invariants and hand-checked cases."""

from __future__ import annotations

import pytest

from accelerators import load_spec, with_overrides
from simulator.bits import layer_widths
from simulator.clustering import cluster_layers
from simulator.mapper import evaluate_mapping, search
from simulator.networks import get_network
from simulator.simulate import simulate
from simulator.workload import Clustering, Layer, Numerics, index_bits

CONVS = get_network("alexnet", batch=2)[:5]


def total(spec, layers) -> float:  # type: ignore[no-untyped-def]
    return simulate(spec, layers).total()["energy"]["total"]


def test_no_sharing_reproduces_the_unclustered_result_exactly() -> None:
    spec = load_spec("eyeriss")
    # 65536 clusters need 16-bit indices: as wide as the weights, so the hardware keeps raw weights.
    full = cluster_layers(CONVS, clusters=2**16)
    plain = simulate(spec, CONVS)
    same = simulate(spec, full)
    assert same.total()["energy"]["total"] == plain.total()["energy"]["total"]
    for a, b in zip(same.layers, plain.layers, strict=True):
        assert a.bits == b.bits


def test_more_clusters_never_lower_index_bits() -> None:
    ks = [1, 2, 3, 4, 5, 8, 9, 16, 17, 255, 256, 257, 4096]
    bits = [index_bits(k) for k in ks]
    assert bits == sorted(bits)
    assert [index_bits(k) for k in (2, 4, 16, 256)] == [1, 2, 4, 8]


@pytest.mark.parametrize("clustered", [False, True])
def test_energy_falls_as_weight_bits_fall(clustered: bool) -> None:
    spec = load_spec("eyeriss")
    energies = []
    for b in (16, 12, 8, 4):
        layers = (
            cluster_layers(CONVS, clusters=4, weight_bits=b, codebook_bits=b)
            if clustered
            else cluster_layers(CONVS, weight_bits=b)
        )
        energies.append(total(spec, layers))
    assert energies == sorted(energies, reverse=True)
    assert energies[-1] < energies[0]


def test_clustering_shrinks_weight_dram_traffic_by_the_index_width() -> None:
    spec = load_spec("eyeriss")
    layer = CONVS[2]
    plain = search(spec, layer)
    k16 = cluster_layers([layer], clusters=16)[0]
    # Re-evaluating the same mapping isolates the width change: 4-bit indices replace 16-bit weights.
    same_mapping = evaluate_mapping(spec, k16, plain.mapping)
    assert same_mapping.bits["dram.index"] == pytest.approx(plain.bits["dram.weight"] * 4 / 16)
    assert same_mapping.bits["dram.codebook"] == 16 * 16
    assert "dram.weight" not in same_mapping.bits


def test_decode_location_moves_the_savings() -> None:
    spec = load_spec("eyeriss")
    layer = cluster_layers([CONVS[3]], clusters=16)[0]
    in_pe = search(spec, layer)
    at_glb = search(with_overrides(spec, {"decode__location": "glb"}), layer)
    # In the PE: indices all the way down, plus a lookup per MAC. At the GLB: indices only on the DRAM link.
    assert "rf.index" in in_pe.bits and "rf.weight" not in in_pe.bits
    assert "dram.index" in at_glb.bits and "rf.weight" in at_glb.bits and "noc.index" not in at_glb.bits
    assert in_pe.by_data["codebook"] > 0 and at_glb.by_data["codebook"] > 0
    assert in_pe.extra["decode"] == "pe" and at_glb.extra["decode"] == "glb"


def test_a_codebook_too_big_for_the_pe_table_falls_back_to_glb_decode() -> None:
    spec = load_spec("eyeriss")  # 1024-entry lookup table
    layer = cluster_layers([CONVS[2]], clusters=2048)[0]
    assert layer_widths(spec, layer).decode == "glb-fallback"
    assert search(spec, layer).extra["decode"] == "glb-fallback"


def test_row_reuse_saves_macs_only_for_row_clustering() -> None:
    spec = with_overrides(load_spec("eyeriss"), {"features__row_reuse": True})
    rows = simulate(spec, cluster_layers(CONVS, clusters=8, vector_length="S"))
    scalar = simulate(spec, cluster_layers(CONVS, clusters=8, vector_length=1))
    assert rows.total()["row_reuse"]["macs_saved"] > 0
    assert rows.total()["row_reuse"]["energy_saved"] > 0
    assert scalar.total()["row_reuse"]["macs_saved"] == 0
    # Without the feature, row-clustered layers compute every row.
    plain = simulate(load_spec("eyeriss"), cluster_layers(CONVS, clusters=8, vector_length="S"))
    assert plain.total()["energy"]["total"] > rows.total()["energy"]["total"]
    assert plain.total()["macs_effective"] == sum(x.macs for x in CONVS)


def test_row_reuse_uses_the_traced_distinct_rows() -> None:
    spec = with_overrides(load_spec("eyeriss"), {"features__row_reuse": True})
    base = Layer("c", "conv", C=16, M=32, H=8, W=8, R=3, S=3, pad=1)
    one_row = base.with_numerics(Numerics(clustering=Clustering(clusters=4, vector_length=3, distinct_rows=1.0)))
    many = base.with_numerics(Numerics(clustering=Clustering(clusters=4, vector_length=3, distinct_rows=4.0)))
    r1, r4 = search(spec, one_row), search(spec, many)
    # With one distinct row per input row, a PE with p filters computes one row convolution instead of p.
    p = r1.mapping.p
    assert r1.macs_effective == pytest.approx(base.macs / p)
    assert r4.macs_effective > r1.macs_effective


def test_per_layer_cluster_lists_and_rates() -> None:
    layers = cluster_layers(CONVS, clusters=[2, 4, 8, 16, 32])
    assert [x.numerics.clustering.clusters for x in layers] == [2, 4, 8, 16, 32]  # type: ignore[union-attr]
    rated = cluster_layers(CONVS, cluster_rate=0.1, vector_length="S")
    c1 = rated[0].numerics.clustering
    assert c1 is not None and c1.vector_length == 11
    assert c1.clusters == -(-CONVS[0].weights // 11 // 10)
    with pytest.raises(ValueError, match="5 layers"):
        cluster_layers(CONVS, clusters=[2, 4])
    with pytest.raises(ValueError, match="not both"):
        cluster_layers(CONVS, clusters=4, cluster_rate=0.1)
