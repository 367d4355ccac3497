"""Training loop pieces: seeded augmentation, reproducible training, distillation, batch-norm recalibration,
evaluation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from compression.datasets import Dataset, Split
from compression.training import (
    FINETUNE,
    TrainSettings,
    augment,
    distillation_loss,
    evaluate,
    recalibrate_batchnorm,
    train,
)


def _toy(n: int = 64) -> Dataset:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 1, 6, 6, generator=g)
    y = (x.mean(dim=(1, 2, 3)) > 0).long()
    return Dataset("toy", Split(x, y), Split(x[:16], y[:16]), num_classes=2)


def test_augment_shifts_content_and_is_seeded() -> None:
    x = torch.zeros(3, 1, 5, 5)
    x[:, :, 2, 2] = 1.0
    a = augment(x, 1, False, torch.Generator().manual_seed(1))
    b = augment(x, 1, False, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert torch.equal(a.sum(dim=(1, 2, 3)), torch.ones(3))  # a one-pixel shift keeps the centre dot
    assert augment(x, 0, False, torch.Generator()) is x
    flipped = augment(
        torch.arange(4.0).reshape(1, 1, 1, 4).repeat(64, 1, 1, 1), 0, True, torch.Generator().manual_seed(0)
    )
    assert 0 < int((flipped[:, 0, 0, 0] == 3).sum()) < 64


def test_training_is_reproducible_and_learns() -> None:
    data = _toy()
    settings = TrainSettings(epochs=3, batch_size=16, optimizer="adam", lr=1e-2, schedule="constant", shift=0)

    def run() -> nn.Module:
        torch.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Linear(36, 2))
        train(model, data, settings, seed=3, quiet=True)
        return model

    m1, m2 = run(), run()
    assert torch.equal(m1[1].weight, m2[1].weight)
    assert evaluate(m1, data.train) > 0.8


def test_batchnorm_recalibration_matches_the_split_statistics() -> None:
    data = _toy()
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3))
    bn = model[1]
    bn.running_mean.fill_(5.0)
    assert recalibrate_batchnorm(model, data.train, batch_size=16)
    with torch.no_grad():
        feats = model[0](data.train.x)
    assert torch.allclose(bn.running_mean, feats.mean(dim=(0, 2, 3)), atol=1e-5)
    assert bn.momentum == 0.1
    assert not recalibrate_batchnorm(nn.Linear(2, 2), data.train)


def test_distillation_loss_is_the_scaled_kl_divergence() -> None:
    g = torch.Generator().manual_seed(0)
    student, teacher = torch.randn(8, 5, generator=g), torch.randn(8, 5, generator=g)
    assert float(distillation_loss(teacher, teacher, 4.0)) == pytest.approx(0.0, abs=1e-6)
    t = 2.0
    p = F.softmax(teacher / t, dim=1)
    expected = (p * (p.log() - F.log_softmax(student / t, dim=1))).sum(1).mean() * t**2
    assert float(distillation_loss(student, teacher, t)) == pytest.approx(float(expected), rel=1e-5)
    assert float(distillation_loss(student, teacher, t)) > 0


def test_distillation_pulls_the_student_toward_the_teacher() -> None:
    """With distill = 1 the labels are ignored: a student trained on a teacher that predicts the opposite class
    learns the teacher's answers, not the labels'."""
    data = _toy()
    torch.manual_seed(1)
    teacher = nn.Sequential(nn.Flatten(), nn.Linear(36, 2))
    with torch.no_grad():
        teacher[1].weight.copy_(torch.stack([torch.full((36,), 1.0), torch.full((36,), -1.0)]))  # class 0 if mean > 0
        teacher[1].bias.zero_()
    settings = TrainSettings(
        epochs=5, batch_size=16, optimizer="adam", lr=5e-2, schedule="constant", shift=0, distill=1.0
    )
    student = nn.Sequential(nn.Flatten(), nn.Linear(36, 2))
    train(student, data, settings, seed=0, quiet=True, teacher=teacher)
    assert evaluate(student, data.train) < 0.2  # agrees with the (inverted) teacher
    assert evaluate(teacher, data.train) < 0.2
    with pytest.raises(ValueError, match="needs a teacher"):
        train(student, data, settings, quiet=True)
    assert FINETUNE.distill == 0.5
