"""Models: LeNet-5, a ResNet-20 (CIFAR-style, He et al. 2016), and any user nn.Module given as file.py:factory."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
from pathlib import Path
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from compression.methods import BUILTIN_MODELS as BUILTIN


class ModelError(ValueError):
    """A model spec that cannot be built; the message says why."""


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al. 1998) with ReLU and max pooling: conv 5x5 (6) - pool - conv 5x5 (16) - pool -
    fc 120 - fc 84 - fc classes. A 28x28 input is padded to 32x32 by conv1; inputs under 20 pixels also pad conv2."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 28) -> None:
        super().__init__()
        pad1 = 2 if image_size <= 28 else 0
        pad2 = 2 if image_size < 20 else 0
        self.conv1 = nn.Conv2d(in_channels, 6, 5, padding=pad1)
        self.conv2 = nn.Conv2d(6, 16, 5, padding=pad2)
        side = ((image_size + 2 * pad1 - 4) // 2 + 2 * pad2 - 4) // 2
        if side < 1:
            raise ModelError(f"lenet5: input of {image_size} pixels is too small")
        self.fc1 = nn.Linear(16 * side * side, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.flatten(1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class BasicBlock(nn.Module):
    """Two 3x3 convs with batch norm and an identity shortcut, or a 1x1 conv shortcut where the shape changes."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet20(nn.Module):
    """ResNet-20: a 3x3 stem, three stages of three basic blocks (16, 32, 64 channels), global pool, fc."""

    def __init__(self, in_channels: int = 3, num_classes: int = 10, image_size: int = 32, width: int = 16) -> None:
        super().__init__()
        del image_size  # global pooling makes the network size-agnostic
        self.conv1 = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        blocks: list[nn.Module] = []
        cin = width
        for stage, cout in enumerate((width, 2 * width, 4 * width)):
            for i in range(3):
                blocks.append(BasicBlock(cin, cout, 2 if stage > 0 and i == 0 else 1))
                cin = cout
        self.layers = nn.Sequential(*blocks)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layers(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


def _load_factory(spec: str) -> Any:
    path_str, _, attr = spec.rpartition(":")
    path = Path(path_str).expanduser()
    if not path_str or not attr:
        raise ModelError(f"model {spec!r}: expected a built-in name ({', '.join(BUILTIN)}) or path/to/file.py:factory")
    if not path.is_file():
        raise ModelError(f"model {spec!r}: file {path} not found")
    mod_spec = importlib.util.spec_from_file_location(f"clusterwatt_user_model_{path.stem}", path)
    if mod_spec is None or mod_spec.loader is None:
        raise ModelError(f"model {spec!r}: cannot import {path}")
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    factory = getattr(module, attr, None)
    if factory is None or not callable(factory):
        raise ModelError(f"model {spec!r}: {path} has no callable {attr!r}")
    return factory


def build_model(spec: str, in_channels: int, num_classes: int, image_size: int) -> nn.Module:
    """A fresh model: a built-in name, or `file.py:factory` (the factory gets in_channels, num_classes and
    image_size as keyword arguments if it accepts them)."""
    kwargs = {"in_channels": in_channels, "num_classes": num_classes, "image_size": image_size}
    if spec == "lenet5":
        return LeNet5(**kwargs)
    if spec == "resnet20":
        return ResNet20(**kwargs)
    factory = _load_factory(spec)
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        params = {}
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    model = factory(**{k: v for k, v in kwargs.items() if accepts_any or k in params})
    if not isinstance(model, nn.Module):
        raise ModelError(f"model {spec!r}: the factory returned {type(model).__name__}, not an nn.Module")
    if not any(isinstance(m, (nn.Conv2d, nn.Linear)) for m in model.modules()):
        raise ModelError(f"model {spec!r}: no Conv2d or Linear layer to compress")
    return model


def model_fingerprint(spec: str) -> str:
    """What identifies a model's definition for caching: the name, or the user file's content hash."""
    if spec in BUILTIN:
        return spec
    path_str, _, attr = spec.rpartition(":")
    path = Path(path_str).expanduser()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else "missing"
    return f"{path.stem}:{attr}:{digest}"
