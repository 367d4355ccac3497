"""Hand-computed access counts of tiny convolutions on tiny arrays (every figure derived in the comments)."""

from __future__ import annotations

import pytest

from accelerators import spec_from_dict
from simulator.mapper import evaluate_mapping
from simulator.row_stationary import RSMapping
from simulator.workload import Layer
from tests.conftest import tiny_spec_dict

WORD = 16


def words(result, key: str) -> float:  # type: ignore[no-untyped-def]
    return result.bits.get(key, 0.0) / WORD


def test_one_pass_2x2_filter_on_2x2_array(tiny_spec) -> None:  # type: ignore[no-untyped-def]
    # 3x3 ifmap, one 2x2 filter, stride 1 -> 2x2 ofmap; 16 MACs. One PE set of R x e = 2 x 2 PEs: PE (i, j)
    # holds filter row i and receives ifmap row i + j, producing output row j.
    layer = Layer("tiny", "conv", C=1, M=1, H=3, W=3, R=2, S=2)
    assert layer.macs == 16
    m = RSMapping(n=1, p=1, q=1, e=2, r=1, t=1, g=1, order=0, b_ne=1, b_m=1, b_c=1, stream_w=1)
    r = evaluate_mapping(tiny_spec, layer, m)
    # DRAM: every ifmap (9), weight (4) and output (4) moves once.
    assert words(r, "dram.ifmap") == 9
    assert words(r, "dram.weight") == 4
    assert words(r, "dram.psum") == 4
    # GLB: ifmaps written once and read once (multicast); weights likewise; psums written by the array and
    # read out to DRAM once each.
    assert words(r, "glb.ifmap") == 18
    assert words(r, "glb.weight") == 8
    assert words(r, "glb.psum") == 8
    # Array network: each of the 4 PEs receives a 3-pixel ifmap row (12) and a 2-weight filter row (8); each
    # of the 2 columns passes its 2 psums up one hop (4).
    assert words(r, "noc.ifmap") == 12
    assert words(r, "noc.weight") == 8
    assert words(r, "noc.psum") == 4
    # Register files: fills equal deliveries; each MAC reads one ifmap and one weight and read-modify-writes
    # its psum (2); each received psum is read once more to add it (4).
    assert words(r, "rf.ifmap") == 12 + 16
    assert words(r, "rf.weight") == 8 + 16
    assert words(r, "rf.psum") == 2 * 16 + 4
    assert r.active_pes == 4
    assert r.cycles == 4  # each PE: 2 outputs x 2 taps
    assert r.utilization == pytest.approx(1.0)
    # Energy with costs MAC 1, RF 1, NoC 2, GLB 6, DRAM 200 per 16-bit access.
    expected = 17 * 200 + 34 * 6 + 24 * 2 + 88 * 1 + 16 * 1
    assert r.total_energy == pytest.approx(expected)
    assert r.by_level == pytest.approx({"mac": 16, "rf": 88, "noc": 48, "glb": 204, "dram": 3400})


def test_output_rows_split_into_strips_refetch_the_halo() -> None:
    # A 2x1 array holds one 2x1 PE set: e = 1, so the 2 output rows take 2 passes. Strip 1 needs ifmap rows
    # 0-1, strip 2 rows 1-2: row 1 is fetched twice, 4 rows x 3 columns = 12 ifmap words from DRAM.
    spec = spec_from_dict(tiny_spec_dict(rows=2, cols=1))
    layer = Layer("tiny", "conv", C=1, M=1, H=3, W=3, R=2, S=2)
    m = RSMapping(n=1, p=1, q=1, e=1, r=1, t=1, g=1, order=0, b_ne=1, b_m=1, b_c=1, stream_w=1)
    r = evaluate_mapping(spec, layer, m)
    assert words(r, "dram.ifmap") == pytest.approx(12)
    # Both passes use the same filter rows, so the spads keep them: weights move once.
    assert words(r, "dram.weight") == pytest.approx(4)
    assert words(r, "noc.weight") == pytest.approx(4)
    assert r.passes == 2
    assert r.active_pes == 2
    assert r.cycles == 8


def test_two_filters_share_ifmap_by_multicast(tiny_spec) -> None:  # type: ignore[no-untyped-def]
    # M = 2 filters processed in one PE (p = 2): the ifmap row reaches each PE once and serves both filters.
    layer = Layer("tiny", "conv", C=1, M=2, H=3, W=3, R=2, S=2)
    one = evaluate_mapping(tiny_spec, layer, RSMapping(1, 2, 1, 2, 1, 1))
    assert words(one, "noc.ifmap") == 12
    assert words(one, "rf.ifmap") == 12 + 32
    # With p = 1 the two filters take two passes and the ifmap is delivered twice.
    two = evaluate_mapping(tiny_spec, layer, RSMapping(1, 1, 1, 2, 1, 1))
    assert words(two, "noc.ifmap") == 24
    assert two.total_energy > one.total_energy
