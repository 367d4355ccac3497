"""`clusterwatt compress`: train (or reuse) a float model, compress it, and write model.pt, trace.json, metrics.json."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from compression.methods import BUILTIN_MODELS, DATASETS, DISTILL, METHODS, PATH_DATASETS


def default_cache_dir() -> Path:
    """$CLUSTERWATT_CACHE, else ~/.cache/clusterwatt."""
    env = os.environ.get("CLUSTERWATT_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "clusterwatt"


def _parse_options(values: tuple[str, ...]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--option")
        try:
            options[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            options[key.strip()] = raw
    return options


def _check_model(spec: str) -> None:
    if spec in BUILTIN_MODELS:
        return
    path, sep, attr = spec.rpartition(":")
    if not sep or not path or not attr:
        raise click.BadParameter(
            f"{spec!r} is neither a built-in model ({', '.join(BUILTIN_MODELS)}) nor path/to/file.py:factory",
            param_hint="--model",
        )
    if not Path(path).expanduser().is_file():
        raise click.BadParameter(f"model file {path!r} not found", param_hint="--model")


@click.command("compress")
@click.option("--model", default="lenet5", show_default=True, help="lenet5, resnet20, or path/to/file.py:factory")
@click.option("--dataset", type=click.Choice(DATASETS), default="mnist5k", show_default=True)
@click.option(
    "--dataset-path",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="local directory for cifar10 (python batches) or imagefolder",
)
@click.option("--method", type=click.Choice(METHODS), required=True, help="compression method")
@click.option(
    "--clusters", "-k", type=click.IntRange(min=2), default=16, show_default=True, help="K (uniform: 2**bits)"
)
@click.option("--epochs", type=click.IntRange(min=0), help="compression (re-)training epochs [method default]")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), help="fine-tuning learning rate [method default]")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--split-seed", type=click.IntRange(min=0), default=0, show_default=True, help="train/test split seed")
@click.option("--lambda", "lambda_", type=float, default=100.0, show_default=True, help="Deep k-Means lambda")
@click.option("--form", type=click.Choice(["hard", "svd"]), default="hard", show_default=True, help="Deep k-Means F")
@click.option("--cluster-dim", type=click.IntRange(min=1), default=1, show_default=True, help="DKM vector length")
@click.option("--temperature", type=float, default=0.5, show_default=True, help="DKM tau / initial inertia")
@click.option(
    "--distill",
    type=click.FloatRange(0, 1),
    help=f"weight of distillation from the float model while (re-)training; 0 = plain cross-entropy [{DISTILL}]",
)
@click.option(
    "--distill-temperature",
    type=click.FloatRange(min=0, min_open=True),
    default=4.0,
    show_default=True,
    help="softmax temperature T of the distillation loss",
)
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="extra per-layer setting (repeatable)")
@click.option("--act-bits", type=click.IntRange(1, 64), default=16, show_default=True)
@click.option("--codebook-bits", type=click.IntRange(1, 64), default=16, show_default=True)
@click.option("--float-epochs", type=click.IntRange(min=0), default=30, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto (CUDA when present), cpu, cuda, ...")
@click.option("--threads", type=click.IntRange(min=1), help="torch CPU threads")
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="where trained float models are cached [$CLUSTERWATT_CACHE or ~/.cache/clusterwatt]",
)
@click.option("--no-cache", is_flag=True, help="always train the float model, cache nothing")
@click.option("--quiet", "-q", is_flag=True, help="no progress bars")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True)
def compress(
    model: str,
    dataset: str,
    dataset_path: Path | None,
    method: str,
    clusters: int,
    epochs: int | None,
    lr: float | None,
    seed: int,
    split_seed: int,
    lambda_: float,
    form: str,
    cluster_dim: int,
    temperature: float,
    distill: float | None,
    distill_temperature: float,
    options: tuple[str, ...],
    act_bits: int,
    codebook_bits: int,
    float_epochs: int,
    device: str,
    threads: int | None,
    cache_dir: Path | None,
    no_cache: bool,
    quiet: bool,
    out_dir: Path,
) -> None:
    """Compress a model on a dataset; writes OUT/model.pt (+ model.json), trace.json and metrics.json.

    \b
    Example: clusterwatt compress --model lenet5 --dataset mnist5k --method dkm --clusters 16 --out runs/dkm16
    The trace feeds straight into: clusterwatt simulate --trace runs/dkm16/trace.json
    """
    _check_model(model)
    if dataset in PATH_DATASETS and dataset_path is None:
        raise click.UsageError(f"--dataset {dataset} needs --dataset-path DIR (a local copy; nothing is downloaded)")
    if method == "uniform" and clusters & (clusters - 1):
        raise click.BadParameter(
            f"uniform quantization uses bits = log2 K, so K must be a power of two; got {clusters}",
            param_hint="--clusters",
        )

    from pydantic import ValidationError

    from compression.datasets import DatasetError
    from compression.models import ModelError
    from compression.pipeline import CompressJob, run_compression
    from compression.training import DeviceError

    try:
        job = CompressJob(
            model=model,
            dataset=dataset,
            dataset_path=dataset_path,
            method=method,  # type: ignore[arg-type]
            clusters=clusters,
            epochs=epochs,
            lr=lr,
            seed=seed,
            split_seed=split_seed,
            lambda_=lambda_,
            form=form,  # type: ignore[arg-type]
            cluster_dim=cluster_dim,
            temperature=temperature,
            distill=distill,
            distill_temperature=distill_temperature,
            options=_parse_options(options),
            act_bits=act_bits,
            codebook_bits=codebook_bits,
            float_epochs=float_epochs,
            device=device,
            threads=threads,
            quiet=quiet,
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(x) for x in e['loc']) or 'job'}: {e['msg']}" for e in exc.errors())
        raise click.UsageError(problems) from None
    cache = None if no_cache else (cache_dir or default_cache_dir())
    try:
        metrics = run_compression(job, out_dir, cache)
    except DatasetError as exc:
        raise click.BadParameter(str(exc), param_hint="--dataset/--dataset-path") from None
    except ModelError as exc:
        raise click.BadParameter(str(exc), param_hint="--model") from None
    except DeviceError as exc:
        raise click.BadParameter(str(exc), param_hint="--device") from None
    _print_summary(metrics, out_dir)


def _print_summary(m: dict[str, Any], out_dir: Path) -> None:
    click.echo(
        f"{m['method']} K={m['clusters']} on {m['model']}/{m['dataset']} "
        f"({m['epochs']} epochs{', distillation ' + format(m['distill'], 'g') if m.get('distill') else ''}, "
        f"seed {m['seed']}{', cached float model' if m['float_cached'] else ''})"
    )
    click.echo(f"  float accuracy       {m['float_accuracy']:.4f}")
    click.echo(f"  compressed accuracy  {m['compressed_accuracy']:.4f}")
    click.echo(f"  compression ratio    {m['compression_ratio']:.2f}x  (32-bit weights / indices + 32-bit codebooks)")
    click.echo(f"  {'layer':<24}{'K':>5}{'vec':>5}{'distinct':>10}{'idx bits':>10}{'ratio':>9}")
    for row in m["layers"]:
        click.echo(
            f"  {row['name']:<24}{row['K']:>5}{row['vector_length']:>5}{row['distinct']:>10}"
            f"{row['index_bits']:>10}{row['compression_ratio']:>8.2f}x"
        )
    click.echo(f"  wrote {out_dir / 'model.pt'}, {out_dir / 'trace.json'}, {out_dir / 'metrics.json'}")
    click.echo(f"  wall {m['wall_s']:.1f} s; next: clusterwatt simulate --trace {out_dir / 'trace.json'}")
