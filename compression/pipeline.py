"""One compression job end to end: data, cached float model, compression, evaluation, checkpoint, trace, metrics."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn

from compression.base import Compressor
from compression.checkpoint import load_checkpoint, save_checkpoint
from compression.config import (
    COMPRESSIBLE,
    DeepKMeansConfig,
    DeepKMeansLayerConfig,
    DKMConfig,
    DKMLayerConfig,
    KMeansConfig,
    KMeansLayerConfig,
    UniformConfig,
    UniformLayerConfig,
)
from compression.datasets import DATASETS, FROM_PATH, Dataset, load_dataset
from compression.deep_kmeans import DeepKMeans
from compression.dkm import DKM
from compression.kmeans import KMeans, KMeansWR
from compression.models import build_model, model_fingerprint
from compression.sizes import layer_size, total_ratio
from compression.trace_export import capture_trace
from compression.training import (
    FINETUNE,
    TrainSettings,
    evaluate,
    recalibrate_batchnorm,
    resolve_device,
    seed_everything,
    train,
)
from compression.uniform import Uniform
from simulator.trace import ModelInfo

Method = Literal["kmeans", "kmeans-wr", "deep-kmeans", "dkm", "uniform"]
CACHE_VERSION = 1

# Fine-tuning defaults per method: (epochs, Adam learning rate). kmeans-wr does not train.
METHOD_DEFAULTS: dict[str, tuple[int, float]] = {
    "kmeans": (5, 1e-3),
    "kmeans-wr": (0, 0.0),
    "deep-kmeans": (20, 1e-3),
    "dkm": (5, 1e-3),
    "uniform": (5, 1e-3),
}


class CompressJob(BaseModel):
    """Everything that defines one compression run (the float model it starts from is cached separately)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    model: str = Field("lenet5", description="lenet5, resnet20, or path/to/file.py:factory")
    dataset: str = Field("mnist5k", description=f"one of {', '.join(DATASETS)}")
    dataset_path: Path | None = Field(None, description="local path for cifar10 / imagefolder")
    method: Method = "dkm"
    clusters: int = Field(16, ge=2, description="K; for uniform, 2**bits")
    epochs: int | None = Field(None, ge=0, description="compression (re-)training epochs; None = method default")
    lr: float | None = Field(None, gt=0.0, description="fine-tuning peak learning rate; None = method default")
    seed: int = Field(0, ge=0)
    split_seed: int = Field(0, ge=0, description="seed of the train/test permutation (bundled datasets)")
    lambda_: float = Field(100.0, ge=0.0, alias="lambda", description="Deep k-Means regularizer weight")
    form: Literal["hard", "svd"] = Field("hard", description="Deep k-Means F: hard indicator or SVD")
    refresh_epochs: int = Field(1, ge=1, description="Deep k-Means: refresh F every this many epochs")
    cluster_dim: int = Field(1, ge=1, description="DKM vector length d")
    temperature: float = Field(0.5, gt=0.0, description="DKM tau relative to the initial inertia per vector")
    distill: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="weight of distillation from the float model in (re-)training; None = recipe default, 0 = off",
    )
    distill_temperature: float = Field(4.0, gt=0.0, description="softmax temperature of the distillation loss")
    options: dict[str, Any] = Field(
        default_factory=dict, description="extra per-layer settings of the method's layer config (e.g. max_iter)"
    )
    act_bits: int = Field(16, ge=1, le=64)
    codebook_bits: int = Field(16, ge=1, le=64, description="hardware bits per codebook element (trace)")
    float_epochs: int = Field(30, ge=0)
    float_lr: float = Field(0.05, gt=0.0)
    batch_size: int = Field(64, ge=1)
    trace_batch: int = Field(16, ge=1, description="images in the trace's sample batch")
    device: str = "auto"
    threads: int | None = Field(None, ge=1, description="torch CPU threads; None = torch's default")
    quiet: bool = True

    @model_validator(mode="after")
    def _check(self) -> CompressJob:
        if self.dataset not in DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}; choose one of {', '.join(DATASETS)}")
        if self.dataset in FROM_PATH and self.dataset_path is None:
            raise ValueError(f"dataset {self.dataset!r} needs dataset_path (a local directory)")
        if self.method == "uniform":
            UniformLayerConfig.from_clusters(self.clusters)
        make_layer_config(self)  # options must fit the method's layer config
        return self

    @property
    def finetune(self) -> TrainSettings:
        """Compression (re-)training settings: the method's defaults unless the job overrides them."""
        epochs, lr = METHOD_DEFAULTS[self.method]
        epochs = self.epochs if self.epochs is not None else epochs
        distill = self.distill if self.distill is not None else FINETUNE.distill
        update = {
            "epochs": epochs,
            "lr": self.lr or lr or FINETUNE.lr,
            "batch_size": self.batch_size,
            "distill": distill if epochs > 0 else 0.0,  # nothing trains, nothing distills
            "distill_temperature": self.distill_temperature,
        }
        return TrainSettings.model_validate({**FINETUNE.model_dump(), **update})

    @property
    def float_training(self) -> TrainSettings:
        """Settings of the float model's training (part of its cache key)."""
        return TrainSettings(epochs=self.float_epochs, lr=self.float_lr, batch_size=self.batch_size)


def make_layer_config(job: CompressJob) -> BaseModel:
    """The method's per-layer config from the job's settings and its free-form options (validated)."""
    k = job.clusters
    base: dict[str, Any]
    if job.method in ("kmeans", "kmeans-wr"):
        cls: type[BaseModel] = KMeansLayerConfig
        base = {"clusters": k, "cluster_dim": "row" if job.method == "kmeans-wr" else 1}
    elif job.method == "deep-kmeans":
        cls, base = DeepKMeansLayerConfig, {"clusters": k, "lambda": job.lambda_, "form": job.form}
    elif job.method == "dkm":
        cls = DKMLayerConfig
        base = {"clusters": k, "cluster_dim": job.cluster_dim, "temperature": job.temperature}
    else:
        cls, base = UniformLayerConfig, UniformLayerConfig.from_clusters(k).model_dump()
    return cls.model_validate({**base, **job.options})


def make_compressor(job: CompressJob, model: nn.Module) -> Compressor:
    """The compressor for a job, with the job's settings as the global per-layer config."""
    layer, seed = make_layer_config(job), job.seed
    if job.method == "kmeans":
        return KMeans(model, KMeansConfig(global_config=layer, seed=seed))
    if job.method == "kmeans-wr":
        return KMeansWR(model, KMeansConfig(global_config=layer, seed=seed))
    if job.method == "deep-kmeans":
        return DeepKMeans(model, DeepKMeansConfig(global_config=layer, refresh_epochs=job.refresh_epochs, seed=seed))
    if job.method == "dkm":
        return DKM(model, DKMConfig(global_config=layer, seed=seed))
    return Uniform(model, UniformConfig(global_config=layer, seed=seed))


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:40]


def float_cache_path(job: CompressJob, cache_dir: Path) -> Path:
    """Cache file of the float model, keyed by model definition, data, seeds and float-training settings."""
    key = {
        "version": CACHE_VERSION,
        "model": model_fingerprint(job.model),
        "dataset": job.dataset,
        "dataset_path": str(Path(job.dataset_path).expanduser().resolve()) if job.dataset_path else None,
        "split_seed": job.split_seed,
        "seed": job.seed,
        "training": job.float_training.model_dump(),
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    name = _slug(Path(job.model.rpartition(":")[0]).stem if ":" in job.model else job.model)
    return Path(cache_dir) / f"float-{name}-{job.dataset}-{digest}.pt"


def float_model(
    job: CompressJob, data: Dataset, cache_dir: Path | None, device: torch.device
) -> tuple[nn.Module, float, bool]:
    """The trained float model (from the cache when present), its test accuracy, and whether it was cached."""
    seed_everything(job.seed)
    model = build_model(job.model, data.in_channels, data.num_classes, data.image_size)
    path = float_cache_path(job, cache_dir) if cache_dir is not None else None
    if path is not None and path.is_file():
        meta = load_checkpoint(model, path)
        model.to(device)
        return model, float(meta.get("accuracy", evaluate(model, data.test, device))), True
    t0 = time.perf_counter()
    train(model, data, job.float_training, seed=job.seed, device=device, quiet=job.quiet, desc="float")
    accuracy = evaluate(model, data.test, device)
    if path is not None:
        meta = {"accuracy": accuracy, "wall_s": time.perf_counter() - t0, "job": job.model_dump(mode="json")}
        save_checkpoint(model, path, meta)
    return model, accuracy, False


def model_sizes(model: nn.Module, compressor: Compressor) -> list:
    """Sizes of every Conv2d/Linear weight: compressed layers as recorded, the others at 32 bits."""
    sizes = []
    for name, module in model.named_modules():
        if isinstance(module, COMPRESSIBLE):
            rec = compressor.layers_.get(name)
            sizes.append(rec.size() if rec is not None else layer_size(module.weight.numel()))
    return sizes


def run_compression(job: CompressJob, out_dir: str | Path, cache_dir: str | Path | None = None) -> dict[str, Any]:
    """Run one job; writes out_dir/model.pt (+ model.json), codebooks.pt, trace.json, metrics.json and returns
    the metrics dict."""
    t0 = time.perf_counter()
    if job.threads is not None:
        torch.set_num_threads(job.threads)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(job.device)
    data = load_dataset(job.dataset, job.dataset_path, job.split_seed)
    model, float_acc, cached = float_model(job, data, Path(cache_dir) if cache_dir else None, device)

    compressor = make_compressor(job, model)
    settings = job.finetune
    t1 = time.perf_counter()
    soft_acc = None
    if job.method == "kmeans-wr":
        compressor.compress()
    else:
        teacher = copy.deepcopy(model) if settings.distill > 0 else None
        compressor.prepare()
        model.to(device)
        train(
            model,
            data,
            settings,
            seed=job.seed,
            compressor=compressor,
            device=device,
            quiet=job.quiet,
            desc=job.method,
            teacher=teacher,
        )
        del teacher
        soft_acc = evaluate(model, data.test, device)
        compressor.finalize()
    recalibrate_batchnorm(model, data.train, device)
    compress_s = time.perf_counter() - t1
    accuracy = evaluate(model, data.test, device)

    report = compressor.report()
    ratio = total_ratio(model_sizes(model, compressor))
    info = ModelInfo(
        name=job.model,
        source="clusterwatt compress",
        method=job.method,
        dataset=job.dataset,
        accuracy=accuracy,
        float_accuracy=float_acc,
        extra={"clusters": job.clusters, "epochs": settings.epochs, "seed": job.seed, "compression_ratio": ratio},
    )
    sample = data.test.x[: job.trace_batch].to(device)
    trace = capture_trace(model, sample, compressor.layers_, info, job.act_bits, job.codebook_bits)
    trace.save(out / "trace.json")
    save_checkpoint(model, out / "model.pt", {"job": job.model_dump(mode="json"), "accuracy": accuracy})
    torch.save(
        {n: {"codebook": r.codebook_, "assignments": r.assignments_} for n, r in compressor.layers_.items()},
        out / "codebooks.pt",
    )
    metrics: dict[str, Any] = {
        "model": job.model,
        "dataset": job.dataset,
        "method": job.method,
        "clusters": job.clusters,
        "epochs": settings.epochs,
        "lr": settings.lr,
        "distill": settings.distill,
        "seed": job.seed,
        "float_accuracy": float_acc,
        "prefinalize_accuracy": soft_acc,
        "compressed_accuracy": accuracy,
        "accuracy_drop": float_acc - accuracy,
        "compression_ratio": ratio,
        "float_cached": cached,
        "compress_s": compress_s,
        "wall_s": time.perf_counter() - t0,
        "trace_codebook_bits": job.codebook_bits,
        "act_bits": job.act_bits,
        "layers": report.to_dict(orient="records"),
        "job": job.model_dump(mode="json", by_alias=True),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics
