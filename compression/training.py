"""A seeded training loop with progress bars (tqdm, stderr), light augmentation and a compressor's hooks."""

from __future__ import annotations

import random
import sys
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn
from tqdm import tqdm

from compression.base import Compressor
from compression.datasets import Dataset, Split
from compression.methods import DISTILL


class TrainSettings(BaseModel):
    """How to train: epochs, optimizer, learning-rate schedule and augmentation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: int = Field(30, ge=0)
    batch_size: int = Field(64, ge=1)
    optimizer: Literal["sgd", "adam"] = "sgd"
    lr: float = Field(0.05, gt=0.0, description="peak learning rate")
    schedule: Literal["onecycle", "cosine", "constant"] = "onecycle"
    weight_decay: float = Field(5e-4, ge=0.0)
    shift: int = Field(2, ge=0, description="random translation in pixels (0 = none)")
    distill: float = Field(
        0.0, ge=0.0, le=1.0, description="weight of the distillation loss from a teacher (0 = plain cross-entropy)"
    )
    distill_temperature: float = Field(4.0, gt=0.0, description="softmax temperature of the distillation loss")


FLOAT_TRAINING = TrainSettings()
FINETUNE = TrainSettings(epochs=5, optimizer="adam", lr=1e-3, schedule="cosine", weight_decay=0.0, distill=DISTILL)


class DeviceError(ValueError):
    """A device that does not exist on this machine."""


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; return a generator for data order and augmentation."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def resolve_device(device: str = "auto") -> torch.device:
    """'auto' = CUDA when present, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise DeviceError(f"unknown device {device!r} ({exc})") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"device {device!r} requested but CUDA is not available here")
    return dev


def augment(x: Tensor, shift: int, flip: bool, generator: torch.Generator) -> Tensor:
    """Per-image random translation by up to `shift` pixels (zero padding) and optional horizontal flips."""
    n, c, h, w = x.shape
    if shift > 0:
        padded = F.pad(x, (shift, shift, shift, shift))
        dy = torch.randint(0, 2 * shift + 1, (n,), generator=generator).to(x.device)
        dx = torch.randint(0, 2 * shift + 1, (n,), generator=generator).to(x.device)
        rows = (torch.arange(h, device=x.device)[None, :] + dy[:, None])[:, None, :, None]
        cols = (torch.arange(w, device=x.device)[None, :] + dx[:, None])[:, None, None, :]
        batch = torch.arange(n, device=x.device)[:, None, None, None]
        chan = torch.arange(c, device=x.device)[None, :, None, None]
        x = padded[batch, chan, rows, cols]
    if flip:
        mask = (torch.rand(n, generator=generator) < 0.5).to(x.device)
        x = torch.where(mask[:, None, None, None], x.flip(-1), x)
    return x


@torch.no_grad()
def evaluate(model: nn.Module, split: Split, device: torch.device | str = "cpu", batch_size: int = 1000) -> float:
    """Top-1 accuracy (a fraction) of the model on a split, in eval mode."""
    was_training = model.training
    model.eval()
    correct = 0
    for start in range(0, len(split), batch_size):
        x = split.x[start : start + batch_size].to(device)
        y = split.y[start : start + batch_size].to(device)
        correct += int((model(x).argmax(1) == y).sum())
    model.train(was_training)
    return correct / max(len(split), 1)


@torch.no_grad()
def recalibrate_batchnorm(
    model: nn.Module, split: Split, device: torch.device | str = "cpu", batch_size: int = 256
) -> bool:
    """Recompute batch-norm running statistics over a split (after weights were snapped, the old statistics describe
    the unsnapped weights). Returns False when the model has no batch norm."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return False
    was_training = model.training
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the whole pass
    model.train()
    for start in range(0, len(split), batch_size):
        model(split.x[start : start + batch_size].to(device))
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
    model.train(was_training)
    return True


def distillation_loss(logits: Tensor, teacher_logits: Tensor, temperature: float) -> Tensor:
    """Hinton et al. (2015): T^2 KL(softmax(teacher / T) || softmax(student / T)), batch mean; the T^2 keeps its
    gradients on the scale of the cross-entropy's."""
    student = F.log_softmax(logits / temperature, dim=1)
    target = F.log_softmax(teacher_logits / temperature, dim=1)
    return F.kl_div(student, target, log_target=True, reduction="batchmean") * temperature**2


def _optimizer(params: list[nn.Parameter], s: TrainSettings) -> torch.optim.Optimizer:
    if s.optimizer == "adam":
        return torch.optim.Adam(params, lr=s.lr, weight_decay=s.weight_decay)
    return torch.optim.SGD(params, lr=s.lr, momentum=0.9, nesterov=True, weight_decay=s.weight_decay)


def _scheduler(opt: torch.optim.Optimizer, s: TrainSettings, total: int) -> torch.optim.lr_scheduler.LRScheduler:
    if s.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=s.lr, total_steps=max(total, 1), pct_start=0.25)
    if s.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(total, 1))
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)


def train(
    model: nn.Module,
    data: Dataset,
    settings: TrainSettings,
    seed: int = 0,
    compressor: Compressor | None = None,
    device: torch.device | str = "cpu",
    quiet: bool = False,
    desc: str = "train",
    teacher: nn.Module | None = None,
) -> list[float]:
    """Train in place with cross-entropy (+ the compressor's penalty); returns the mean loss of each epoch.

    With settings.distill = a > 0 the task loss is (1 - a) cross-entropy + a distillation loss from `teacher` (run in
    eval mode on the same augmented batch)."""
    if settings.distill > 0 and teacher is None:
        raise ValueError(f"distill = {settings.distill} needs a teacher model")
    if teacher is not None:
        teacher.to(device).eval()
    generator = seed_everything(seed)
    model.to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = _optimizer(params, settings)
    n = len(data.train)
    steps_per_epoch = (n + settings.batch_size - 1) // settings.batch_size
    sched = _scheduler(opt, settings, settings.epochs * steps_per_epoch)
    losses = []
    bar = tqdm(total=settings.epochs * steps_per_epoch, desc=desc, file=sys.stderr, disable=quiet, leave=False)
    for epoch in range(settings.epochs):
        order = torch.randperm(n, generator=generator)
        total = 0.0
        for start in range(0, n, settings.batch_size):
            idx = order[start : start + settings.batch_size]
            x = augment(data.train.x[idx], settings.shift, data.flip, generator).to(device)
            y = data.train.y[idx].to(device)
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            if teacher is not None and settings.distill > 0:
                with torch.no_grad():
                    teacher_logits = teacher(x)
                soft = distillation_loss(logits, teacher_logits, settings.distill_temperature)
                loss = (1.0 - settings.distill) * loss + settings.distill * soft
            if compressor is not None:
                loss = loss + compressor.penalty()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if compressor is not None:
                compressor.step()
            total += float(loss.detach()) * len(idx)
            bar.update(1)
        losses.append(total / n)
        bar.set_postfix(epoch=epoch + 1, loss=f"{losses[-1]:.4f}")
        if compressor is not None:
            compressor.end_epoch(epoch)
    bar.close()
    return losses
