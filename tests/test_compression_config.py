"""Config routing: name pattern, then module type, then the global default; None leaves a layer alone."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from torch import nn

from compression.config import (
    DeepKMeansLayerConfig,
    DKMConfig,
    DKMLayerConfig,
    KMeansConfig,
    KMeansLayerConfig,
    UniformLayerConfig,
)


def _model() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4, 3), nn.Linear(3, 2))


def test_name_beats_type_beats_global() -> None:
    cfg = KMeansConfig(
        global_config=KMeansLayerConfig(clusters=8),
        module_type_configs={"Linear": KMeansLayerConfig(clusters=4)},
        module_name_configs={"4": KMeansLayerConfig(clusters=2)},
    )
    got = {name: c.clusters for name, _, c in cfg.targets(_model())}
    assert got == {"0": 8, "3": 4, "4": 2}


def test_none_leaves_a_layer_alone_and_patterns_glob() -> None:
    cfg = DKMConfig(module_name_configs={"[34]": None})
    assert [name for name, _, _ in cfg.targets(_model())] == ["0"]
    cfg = DKMConfig(global_config=None, module_type_configs={"Conv2d": DKMLayerConfig(clusters=4)})
    assert [name for name, _, _ in cfg.targets(_model())] == ["0"]


def test_unknown_keys_and_bad_values_are_rejected() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        KMeansLayerConfig(clusters=4, clusterz=3)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="greater than or equal to 2"):
        DKMLayerConfig(clusters=1)
    with pytest.raises(ValidationError):
        KMeansLayerConfig(cluster_dim=0)


def test_lambda_alias_and_uniform_bits() -> None:
    assert DeepKMeansLayerConfig.model_validate({"lambda": 1e-4}).lambda_ == 1e-4
    assert UniformLayerConfig.from_clusters(16).bits == 4
    assert UniformLayerConfig.from_clusters(2).bits == 1
    with pytest.raises(ValueError, match="power of two"):
        UniformLayerConfig.from_clusters(6)
