"""Pareto fronts: the points no other point beats on every objective at once."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd


def pareto_mask(costs: np.ndarray) -> np.ndarray:
    """Boolean mask of the non-dominated rows of an (n, m) array in which every column is minimised.

    A row is dominated when another row is <= in every column and < in at least one. Rows with NaN are never on
    the front; exact duplicates of a front row are all kept.
    """
    costs = np.asarray(costs, dtype=float)
    if costs.ndim != 2:
        raise ValueError(f"costs must be 2-D (points x objectives), got shape {costs.shape}")
    n = costs.shape[0]
    valid = ~np.isnan(costs).any(axis=1)
    mask = valid.copy()
    idx = np.flatnonzero(valid)
    sub = costs[idx]
    for j, row in enumerate(sub):
        if not mask[idx[j]]:
            continue
        dominated_by = np.all(sub <= row, axis=1) & np.any(sub < row, axis=1)
        if dominated_by.any():
            mask[idx[j]] = False
    return mask if n else np.zeros(0, dtype=bool)


def pareto_front(df: pd.DataFrame, objectives: Mapping[str, str]) -> pd.DataFrame:
    """The rows of df on the Pareto front of `objectives` (column -> 'min' or 'max'), sorted by the first one."""
    if not objectives:
        raise ValueError("give at least one objective")
    cols = []
    for col, sense in objectives.items():
        if col not in df.columns:
            raise ValueError(f"no column {col!r} to optimise; columns: {', '.join(map(str, df.columns))}")
        if sense not in ("min", "max"):
            raise ValueError(f"objective {col!r}: sense must be 'min' or 'max', got {sense!r}")
        values = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
        cols.append(values if sense == "min" else -values)
    if df.empty:
        return df.copy()
    mask = pareto_mask(np.column_stack(cols))
    first = next(iter(objectives))
    return df[mask].sort_values(first, ascending=objectives[first] == "min", kind="stable")
