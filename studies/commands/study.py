"""`clusterwatt study run|plot|show|list` and `clusterwatt demo`: sweeps over compression and hardware settings."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from studies.commands.errors import friendly_errors

DEMO_OUT = "runs/demo"


def _run(
    file: str,
    out: Path | None,
    workers: int | None,
    resume: bool,
    overwrite: bool,
    cache_dir: Path | None,
    plots: bool,
    quiet: bool,
    retry_failed: bool = False,
) -> None:
    from studies.runner import StudyInterrupted, run_study

    echo = (lambda s: None) if quiet else (lambda s: click.echo(s, err=True))
    try:
        summary = run_study(
            file,
            out,
            workers=workers,
            resume=resume,
            overwrite=overwrite,
            retry_failed=retry_failed,
            cache_dir=cache_dir,
            plots=plots,
            progress=not quiet,
            echo=echo,
        )
    except StudyInterrupted as exc:
        click.echo(str(exc), err=True)
        sys.exit(130)
    for line in summary.lines():
        click.echo(line)
    root = summary.out_dir
    click.echo(f"results: {summary.files['results']}  (pandas: pd.read_parquet('{summary.files['results']}'))")
    if plots:
        pngs = [p for p in summary.files.get("plots", []) if p.suffix == ".png"]
        click.echo(f"plots:   {root / 'plots'}/ ({len(pngs)} PNG + SVG)")
        if any(p.stem == "energy_vs_accuracy" for p in pngs):
            click.echo(f"         start with {root / 'plots' / 'energy_vs_accuracy.png'}")
        click.echo(f"summary: {summary.files['summary_md']} and {summary.files['summary_html']}")
        if summary.files.get("recommendation"):
            click.echo(summary.files["recommendation"])


@click.group()
def study() -> None:
    """Sweep cluster counts, bit widths, methods and hardware; store, plot and summarise the results."""


@study.command("run")
@click.argument("file")
@click.option("--out", "-o", type=click.Path(file_okay=False, path_type=Path), help="Output folder [runs/<name>].")
@click.option("--workers", "-j", type=click.IntRange(min=1), help="Worker processes [all CPU cores].")
@click.option("--resume", is_flag=True, help="Skip points already in the output folder.")
@click.option("--overwrite", is_flag=True, help="Delete the folder's earlier results first.")
@click.option("--retry-failed", is_flag=True, help="With --resume: run failed points again.")
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where trained models are cached [$CLUSTERWATT_CACHE or ~/.cache/clusterwatt].",
)
@click.option("--no-plots", is_flag=True, help="Skip the plots and the summary.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@friendly_errors
def run(
    file: str,
    out: Path | None,
    workers: int | None,
    resume: bool,
    overwrite: bool,
    cache_dir: Path | None,
    no_plots: bool,
    quiet: bool,
    retry_failed: bool,
) -> None:
    """Run every point of the study FILE (a YAML path, or a shipped study name such as `demo`).

    \b
    Example: clusterwatt study run studies/hw_sweep_alexnet.yaml --out runs/hw --workers 2
    Interrupted? Rerun the same command with --resume: finished points are kept, none is written twice.
    """
    if resume and overwrite:
        raise click.UsageError("give --resume or --overwrite, not both")
    if retry_failed and not resume:
        raise click.UsageError("--retry-failed goes with --resume")
    _run(file, out, workers, resume, overwrite, cache_dir, not no_plots, quiet, retry_failed)


@study.command("plot")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@friendly_errors
def plot(directory: Path) -> None:
    """(Re)draw the plots and the summary table of a study folder."""
    from studies.report import write_outputs

    files = write_outputs(directory)
    pngs = [p for p in files["plots"] if p.suffix == ".png"]
    for p in pngs:
        click.echo(f"wrote {p} (+ .svg)")
    click.echo(f"wrote {files['summary_md']} and {files['summary_html']}")
    click.echo(files["recommendation"])


@study.command("show")
@click.argument("file")
@friendly_errors
def show(file: str) -> None:
    """Validate a study file and print what it expands to (no simulation, no training)."""
    from studies.expand import load_expansion

    exp, _ = load_expansion(file)
    st = exp.study
    s = exp.summary()
    click.echo(f"study {s['name']} ({s['mode']}): {st.description}".rstrip(": "))
    click.echo(f"  {s['points']} points = {s['workloads']} workloads x {s['hardware']} hardware variants x bit widths")
    click.echo(f"  x dataflows {st.dataflows} x batch {st.batch}")
    if s["to_train"]:
        click.echo(f"  {s['to_train']} compression jobs to train (cached after the first run)")
    click.echo("  workloads: " + ", ".join(dict.fromkeys(w.label for w in exp.workloads)))
    for h in exp.hardware[:10]:
        click.echo(f"  hardware: {h.label}")
    if len(exp.hardware) > 10:
        click.echo(f"  ... and {len(exp.hardware) - 10} more hardware variants")


@study.command("list")
def list_studies() -> None:
    """The study files shipped with clusterwatt (run one by name: clusterwatt study run demo)."""
    from studies.spec import load_study, shipped_studies

    for name in shipped_studies():
        try:
            st, _ = load_study(name)
            desc = st.description.splitlines()[0] if st.description else ""
        except ValueError as exc:
            desc = f"(invalid: {exc})"
        click.echo(f"{name:<24}{desc}")


@click.command()
@click.option("--out", "-o", type=click.Path(file_okay=False, path_type=Path), default=DEMO_OUT, show_default=True)
@click.option("--workers", "-j", type=click.IntRange(min=1), help="Worker processes [all CPU cores].")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), help="Model cache folder.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@friendly_errors
def demo(out: Path, workers: int | None, cache_dir: Path | None, quiet: bool) -> None:
    """Run the shipped demo study: LeNet-5 on the bundled MNIST subset, kmeans / deep-kmeans / dkm / uniform at
    K = 2..32 on Eyeriss. Trains 20 small models (a few minutes on 2 cores; reruns reuse them) and leaves plots
    and a summary table in OUT."""
    _run("demo", out, workers, True, False, cache_dir, True, quiet)
