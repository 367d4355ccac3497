"""Datasets: bundled splits are fixed and seeded; CIFAR-10 batches and ImageFolder trees load from local paths."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from compression.datasets import DatasetError, digits, load_dataset, mnist5k


def test_mnist5k_split_is_fixed_seeded_and_normalized() -> None:
    a, b = mnist5k(), mnist5k()
    assert (len(a.train), len(a.test)) == (4000, 1000)
    assert a.train.x.shape[1:] == (1, 28, 28) and a.num_classes == 10
    assert torch.equal(a.test.y, b.test.y) and torch.equal(a.test.x, b.test.x)
    assert not torch.equal(mnist5k(split_seed=1).test.y, a.test.y)
    assert abs(float(a.train.x.mean())) < 1e-3 and abs(float(a.train.x.std()) - 1) < 1e-2
    assert len(set(a.train.y.tolist())) == 10


def test_digits_split() -> None:
    d = digits()
    assert len(d.train) + len(d.test) == 1797 and len(d.test) == 359
    assert d.image_size == 8 and d.in_channels == 1


def _write_cifar(root: Path, n: int = 10) -> None:
    rng = np.random.default_rng(0)
    for name in ["data_batch_1", "data_batch_2", "test_batch"]:
        batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": list(rng.integers(0, 10, n))}
        with (root / name).open("wb") as fh:
            pickle.dump(batch, fh)


def test_cifar10_python_batches(tmp_path: Path) -> None:
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    _write_cifar(root)
    for path in (root, tmp_path):  # the batches directory or its parent
        ds = load_dataset("cifar10", path)
        assert ds.train.x.shape == (20, 3, 32, 32) and ds.test.x.shape == (10, 3, 32, 32)
        assert ds.flip
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match="no CIFAR-10 python batches"):
        load_dataset("cifar10", empty)


def test_imagefolder_tree(tmp_path: Path) -> None:
    from PIL import Image

    for c, color in (("cat", (255, 0, 0)), ("dog", (0, 0, 255))):
        (tmp_path / c).mkdir()
        for i in range(5):
            Image.new("RGB", (20 + i, 18), color).save(tmp_path / c / f"{i}.png")
    ds = load_dataset("imagefolder", tmp_path)
    assert ds.num_classes == 2 and len(ds.train) + len(ds.test) == 10 and len(ds.test) == 2
    assert ds.train.x.shape[1:] == (3, 32, 32)
    # red images are class 0 ("cat"): the red channel is above the blue one after normalization
    red = ds.train.x[ds.train.y == 0]
    assert bool((red[:, 0].mean() > red[:, 2].mean()).item())


def test_missing_paths_and_names() -> None:
    with pytest.raises(DatasetError, match="needs a local path"):
        load_dataset("cifar10")
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset("imagefolder", "/nonexistent/clusterwatt")
    with pytest.raises(DatasetError, match="unknown dataset"):
        load_dataset("imagenet")
