"""Checkpoints: a plain state_dict (loaded with weights_only=True) plus a JSON sidecar of metadata."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn


def sidecar(path: str | Path) -> Path:
    """The JSON file next to a checkpoint: model.pt -> model.json."""
    return Path(path).with_suffix(".json")


def save_checkpoint(model: nn.Module, path: str | Path, meta: dict[str, Any] | None = None) -> Path:
    """Write the model's state_dict and its sidecar atomically (safe when several runs share a cache)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, tmp)
    meta_tmp = tmp.with_suffix(".json.tmp")
    meta_tmp.write_text(json.dumps(meta or {}, indent=2, sort_keys=True) + "\n")
    os.replace(meta_tmp, sidecar(path))
    os.replace(tmp, path)
    return path


def load_checkpoint(model: nn.Module, path: str | Path) -> dict[str, Any]:
    """Load weights into `model` (safely: weights_only=True) and return the sidecar's metadata ({} if none)."""
    state = torch.load(Path(path), map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    meta = sidecar(path)
    return json.loads(meta.read_text()) if meta.is_file() else {}
