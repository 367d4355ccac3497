"""The public names scripts and notebooks rely on. Renaming one is a breaking change: update the docs too."""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {
    "accelerators": [
        "AcceleratorSpec",
        "SpecError",
        "list_presets",
        "load_spec",
        "spec_from_dict",
        "spec_to_yaml",
        "with_overrides",
    ],
    "simulator.simulate": ["simulate", "resolve_layers", "with_sparsity"],
    "simulator.mapper": ["search", "evaluate_mapping", "check_fit", "MappingError", "DATAFLOWS"],
    "simulator.networks": ["get_network", "list_networks", "describe_network", "UnknownNetworkError"],
    "simulator.trace": [
        "Trace",
        "TraceLayer",
        "LayerShape",
        "TraceClustering",
        "ModelInfo",
        "TraceError",
        "load_trace",
        "trace_from_layers",
    ],
    "simulator.workload": ["Layer", "Numerics", "Clustering", "macs", "conv", "fc", "index_bits"],
    "simulator.clustering": ["cluster_layers"],
    "simulator.results": ["LayerResult", "NetworkResult"],
    "simulator.row_stationary": ["RSMapping"],
    "simulator.paper_metrics": ["paper_metrics", "full_adders"],
    "simulator.timing": ["time_layer", "time_network", "attach_timing", "LayerTiming", "NetworkTiming"],
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_public_names_exist(module: str) -> None:
    mod = importlib.import_module(module)
    missing = [name for name in PUBLIC[module] if not hasattr(mod, name)]
    assert not missing, f"{module} lost {missing}"


def test_accelerators_all_is_exact() -> None:
    import accelerators

    assert sorted(accelerators.__all__) == sorted(PUBLIC["accelerators"])


def test_network_result_contract() -> None:
    from simulator.simulate import simulate

    result = simulate("eyeriss", "alexnet")
    for method in ("to_dict", "to_dataframe", "total", "total_row"):
        assert callable(getattr(result, method))
    assert {"layers", "total", "accelerator", "network", "dataflow", "batch"} <= set(result.to_dict())
