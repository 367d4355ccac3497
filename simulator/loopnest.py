"""Reuse analysis of a temporal loop nest, shared by every dataflow model.

Three pass-level loop dimensions sit above the PE array: NE (batch x output-row strips), M (filter groups) and
C (channel groups). A storage level keeps its tile of a data type while only loops irrelevant to that type
iterate beneath the innermost relevant loop; every irrelevant loop outside it forces a refetch.
"""

from __future__ import annotations

import numpy as np

DIMS = ("NE", "M", "C")
# Loop orders, outer to inner, indexed by a small integer stored in the mapping.
ORDERS: tuple[tuple[str, str, str], ...] = (
    ("NE", "M", "C"),
    ("NE", "C", "M"),
    ("M", "NE", "C"),
    ("M", "C", "NE"),
    ("C", "NE", "M"),
    ("C", "M", "NE"),
)
RELEVANT = {
    "weight": frozenset({"M", "C"}),
    "ifmap": frozenset({"NE", "C"}),
    "psum": frozenset({"NE", "M"}),
}


def refetch(loops: list[tuple[str, np.ndarray]], data: str) -> np.ndarray:
    """How many times each datum of `data` is brought into the level below `loops` (outer to inner).

    Loops with a factor of one change nothing; an irrelevant loop multiplies the traffic only if some relevant
    loop with a factor above one lies inside it.
    """
    relevant = RELEVANT[data]
    mult = np.ones_like(loops[0][1], dtype=np.float64)
    inner_relevant = np.zeros_like(loops[0][1], dtype=bool)
    for dim, factor in reversed(loops):
        if dim in relevant:
            inner_relevant |= factor > 1
        else:
            mult = np.where(inner_relevant, mult * factor, mult)
    return mult
