"""`clusterwatt sweep`: energy across cluster counts and bit widths in one command."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pandas as pd

from accelerators import load_spec, with_overrides
from simulator.simulate import resolve_layers
from simulator.table import energy_unit_label, render, si
from studies.cluster_grid import cluster_bit_grid
from studies.commands.errors import friendly_errors, parse_ints, parse_overrides


@click.command()
@click.option("--accelerator", "-a", default="eyeriss", show_default=True, help="Preset name or spec YAML file.")
@click.option("--network", "-n", default="alexnet", show_default=True, help="Built-in network.")
@click.option("--trace", "-t", type=click.Path(dir_okay=False), help="Layer trace to use instead of --network.")
@click.option("--batch", "-b", type=click.IntRange(min=1), help="Batch size [default: 1].")
@click.option("--clusters", "-k", default="2,4,8,16,32,64,128,256", show_default=True, help="Cluster counts.")
@click.option("--bits", default="4,8,16", show_default=True, help="Weight / centroid widths.")
@click.option("--act-bits", type=click.IntRange(1, 64), help="Activation width [default: native].")
@click.option("--vector-length", default="1", show_default=True, help="1, S (rows) or an integer.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a spec field.")
@click.option("--format", "fmt", default="table", show_default=True, type=click.Choice(["table", "json", "csv"]))
@click.option("--out", "-o", type=click.Path(dir_okay=False), help="Write to a file instead of stdout.")
@friendly_errors
def sweep(
    accelerator: str,
    network: str,
    trace: str | None,
    batch: int | None,
    clusters: str,
    bits: str,
    act_bits: int | None,
    vector_length: str,
    overrides: tuple[str, ...],
    fmt: str,
    out: str | None,
) -> None:
    """Total energy per MAC for every cluster count K (and unclustered) x bit width."""
    spec = load_spec(accelerator)
    if overrides:
        spec = with_overrides(spec, parse_overrides(overrides))
    name, layers = resolve_layers(Path(trace) if trace else network, batch)
    ks = parse_ints(clusters, "--clusters") or []
    bs = parse_ints(bits, "--bits") or []
    vl = vector_length if vector_length in ("S", "row") else int(vector_length)
    df = cluster_bit_grid(spec, layers, [None, *ks], bs, vector_length=vl, act_bits=act_bits, name=name)
    if fmt == "csv":
        text = df.to_csv(index=False)
    elif fmt == "json":
        text = json.dumps(df.to_dict(orient="records"), indent=2) + "\n"
    else:
        text = _grid_text(df, spec.energy.unit, name, spec.name) + "\n"
    if out:
        Path(out).write_text(text)
        click.echo(f"wrote {out}", err=True)
    else:
        click.echo(text, nl=False)


def _grid_text(df: pd.DataFrame, unit: str, network: str, accelerator: str) -> str:
    bits = sorted(df["bits"].unique())
    header = [
        "K",
        *(f"{b}-bit E/MAC" for b in bits),
        *(f"{b}-bit vs raw" for b in bits),
        *(f"{b}-bit DRAM" for b in bits),
    ]
    rows = []
    for k in sorted(df["clusters"].unique()):
        sub = df[df["clusters"] == k].set_index("bits")
        rows.append(
            [
                "raw" if k == 0 else str(k),
                *(f"{sub.loc[b, 'energy_per_mac']:.3f}" for b in bits),
                *(f"{sub.loc[b, 'energy_vs_unclustered']:.2f}x" for b in bits),
                *(si(sub.loc[b, "dram_bytes"]) + "B" for b in bits),
            ]
        )
    title = (
        f"{network} on {accelerator}: energy per MAC ({energy_unit_label(unit)}) by cluster count K and weight width; "
        "'raw' = unclustered weights of that width"
    )
    return title + "\n" + render(rows, header)
