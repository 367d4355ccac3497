"""Studies: sweeps over compression and hardware settings, a resumable result store, plots and summaries.

`load_results(dir)` reads a study folder into a DataFrame; `run_study(file, out_dir)` runs one. Names are
imported lazily so the command line stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "load_results": "studies.store",
    "run_study": "studies.runner",
    "load_study": "studies.spec",
    "expand": "studies.expand",
    "pareto_front": "studies.pareto",
    "write_outputs": "studies.report",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'studies' has no attribute {name!r}")
