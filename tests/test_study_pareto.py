"""Pareto fronts on hand-made points."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from studies.pareto import pareto_front, pareto_mask


def test_mask_two_objectives() -> None:
    # (energy, error): a, b, d on the front; c is beaten by b on both; e duplicates d
    costs = np.array([[1.0, 9.0], [2.0, 3.0], [3.0, 4.0], [5.0, 1.0], [5.0, 1.0], [6.0, 1.0]])
    assert pareto_mask(costs).tolist() == [True, True, False, True, True, False]


def test_mask_nan_and_empty() -> None:
    assert pareto_mask(np.array([[1.0, np.nan], [2.0, 2.0]])).tolist() == [False, True]
    assert pareto_mask(np.zeros((0, 2))).tolist() == []
    with pytest.raises(ValueError, match="2-D"):
        pareto_mask(np.array([1.0, 2.0]))


def test_mask_three_objectives() -> None:
    costs = np.array([[1, 1, 5], [1, 5, 1], [5, 1, 1], [2, 2, 2], [3, 3, 3]], dtype=float)
    assert pareto_mask(costs).tolist() == [True, True, True, True, False]


def test_front_energy_min_accuracy_max() -> None:
    df = pd.DataFrame(
        {
            "name": ["float", "k2", "k4", "k8", "bad", "k16"],
            "energy": [10.0, 2.0, 3.0, 4.0, 5.0, 4.5],
            "accuracy": [0.99, 0.80, 0.95, 0.97, 0.90, 0.97],
        }
    )
    front = pareto_front(df, {"energy": "min", "accuracy": "max"})
    assert list(front["name"]) == ["k2", "k4", "k8", "float"]


def test_front_rejects_unknown_column_and_sense() -> None:
    df = pd.DataFrame({"energy": [1.0]})
    with pytest.raises(ValueError, match="no column"):
        pareto_front(df, {"accuracy": "max"})
    with pytest.raises(ValueError, match="min"):
        pareto_front(df, {"energy": "least"})
