"""Grid expansion: counts, stable ids, what changes an id and what does not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simulator.trace import ModelInfo, trace_from_layers
from studies.expand import expand, hardware_variants, stable_id
from studies.spec import parse_study
from tests.study_helpers import lenet_layers


def _study(**kw: Any) -> Any:
    data = {"name": "e", "network": "alexnet", "methods": ["kmeans"], "clusters": [16]}
    data.update(kw)
    return parse_study(data)


def test_stable_id_ignores_key_order() -> None:
    assert stable_id({"a": 1, "b": [1, 2]}) == stable_id({"b": [1, 2], "a": 1})
    assert stable_id({"a": 1}) != stable_id({"a": 2})


def test_grid_counts_and_unique_ids() -> None:
    st = _study(
        methods=["kmeans", "deep-kmeans", "uniform"],
        clusters=[4, 16],
        bits={"activations": [8, 16]},
        dataflows=["rs"],
        batch=[1, 4],
        sweep={"accelerator__glb__size_kb": [54, 108, 216], "accelerator__pe_array__rows": [12, 16]},
    )
    exp = expand(st)
    workloads = 1 + 3 * 2  # float + methods x K
    assert len(exp.workloads) == workloads
    assert len(exp.hardware) == 6
    assert len(exp.points) == workloads * 6 * 2 * 2
    assert len({p.id for p in exp.points}) == len(exp.points)


def test_ids_are_stable_across_expansions() -> None:
    st = _study(clusters=[4, 16], sweep={"accelerator__glb__size_kb": [54, 108]})
    a, b = expand(st), expand(st)
    assert [p.id for p in a.points] == [p.id for p in b.points]


def test_hardware_change_keeps_workload_ids() -> None:
    a = expand(_study(sweep={"accelerator__glb__size_kb": [54]}))
    b = expand(_study(sweep={"accelerator__glb__size_kb": [54, 108]}))
    assert {w.id for w in a.workloads} == {w.id for w in b.workloads}
    assert {p.id for p in a.points} < {p.id for p in b.points}  # the old points keep their ids: resume reuses them


def test_training_settings_change_trained_ids_only() -> None:
    base = {"name": "t", "model": "lenet5", "dataset": "mnist5k", "methods": ["kmeans"], "clusters": [4]}
    a = expand(parse_study({**base, "training": {"epochs": 1}}))
    b = expand(parse_study({**base, "training": {"epochs": 2}}))
    c = expand(parse_study({**base, "training": {"epochs": 1}, "bits": {"activations": [8]}}))
    assert {w.id for w in a.trained} != {w.id for w in b.trained}
    assert {w.id for w in a.trained} == {w.id for w in c.trained}  # bit widths apply at simulation: no retraining
    assert {h.id for h in a.hardware} == {h.id for h in b.hardware}


def test_a_new_training_recipe_changes_trained_ids(monkeypatch: Any) -> None:
    """Cached compression jobs are keyed by the recipe version: new library defaults re-run them."""
    import studies.expand as expand_module

    study = parse_study({"name": "t", "model": "lenet5", "dataset": "mnist5k", "methods": ["dkm"], "clusters": [4]})
    before = {w.id for w in expand(study).trained}
    monkeypatch.setattr(expand_module, "RECIPE_VERSION", expand_module.RECIPE_VERSION + 1)
    assert {w.id for w in expand(study).trained}.isdisjoint(before)


def test_float_baseline_one_per_seed_and_codebook_not_multiplied() -> None:
    st = parse_study(
        {
            "name": "t",
            "model": "lenet5",
            "dataset": "mnist5k",
            "methods": ["kmeans", "dkm"],
            "clusters": [4, 8],
            "seeds": [0, 1],
            "bits": {"codebook": [8, 16]},
        }
    )
    exp = expand(st)
    floats = [w for w in exp.workloads if w.kind == "float"]
    assert len(floats) == 2 and {w.seed for w in floats} == {0, 1}
    assert all(w.base in {t.id for t in exp.trained} for w in floats)
    float_points = [p for p in exp.points if p.workload.kind == "float"]
    assert len(float_points) == 2  # one codebook width suffices for a model without a codebook
    assert len(exp.points) == 2 + 2 * 2 * 2 * 2


def test_network_mode_ignores_seeds() -> None:
    exp = expand(_study(seeds=[0, 1, 2], float_baseline=False))
    assert len(exp.points) == 1


def test_hardware_variants_grid_plus_points() -> None:
    st = _study(
        sweep={"accelerator__glb__size_kb": [54, 108], "accelerator__pe_array": [{"rows": 8, "cols": 8}]},
        points=[{"accelerator__glb__size_kb": 500, "accelerator__rf__weight__words": 448}],
    )
    variants = hardware_variants(st)
    assert variants == [
        {"glb__size_kb": 54, "pe_array": {"rows": 8, "cols": 8}},
        {"glb__size_kb": 108, "pe_array": {"rows": 8, "cols": 8}},
        {"glb__size_kb": 500, "rf__weight__words": 448},
    ]
    exp = expand(st)
    assert exp.hardware[0].label == "eyeriss [glb__size_kb=54, pe_array=8x8]"
    spec = exp.hardware[2].build()
    assert spec.glb.size_kb == 500 and spec.rf.weight.words == 448


def test_trace_mode_reads_metadata(tmp_path: Path) -> None:
    from simulator.workload import Clustering, Numerics

    layers = [
        x.with_numerics(Numerics(weight_bits=16, clustering=Clustering(8, 1, codebook_bits=16))) for x in lenet_layers()
    ]
    info = ModelInfo(name="lenet5", method="dkm", dataset="mnist5k", accuracy=0.97, float_accuracy=0.99)
    trace_from_layers(layers, info).save(tmp_path / "t.json")
    st = parse_study({"name": "tr", "traces": ["t.json"]})
    exp = expand(st, tmp_path)
    kinds = {w.kind: w for w in exp.workloads}
    assert kinds["trace"].method == "dkm" and kinds["trace"].clusters == 8
    assert kinds["trace"].info["accuracy"] == 0.97
    assert kinds["float"].info["accuracy"] == 0.99
    assert len(exp.points) == 2


def test_simulation_options_change_ids_only_when_set() -> None:
    plain = expand(_study())
    same = expand(_study(objective="energy", timing=False))
    timed = expand(_study(timing=True))
    assert [p.id for p in plain.points] == [p.id for p in same.points]
    assert not {p.id for p in plain.points} & {p.id for p in timed.points}
    assert timed.points[0].options == {"timing": True}
