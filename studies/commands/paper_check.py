"""`clusterwatt paper-check`: the Deep k-Means paper's R^2 between its metric and a hierarchy energy model."""

from __future__ import annotations

from pathlib import Path

import click

from accelerators import load_spec, with_overrides
from simulator.networks import get_network
from simulator.table import render, si
from studies.commands.errors import friendly_errors, parse_floats, parse_overrides
from studies.paper_check import PAPER_R2, PAPER_RATES, plot_paper_check
from studies.paper_check import paper_check as run_check


@click.command("paper-check")
@click.option("--network", "-n", default="alexnet", show_default=True, help="alexnet, googlenet or any built-in.")
@click.option("--accelerator", "-a", default="eyeriss", show_default=True)
@click.option("--batch", "-b", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--rates", help="Cluster rates [default: the paper's for alexnet/googlenet].")
@click.option("--vector-length", default="S", show_default=True, help="S (Deep k-Means rows) or 1.")
@click.option(
    "--decode",
    default="glb",
    show_default=True,
    type=click.Choice(["glb", "pe"]),
    help="Where indices are decoded; glb keeps every rate on one hardware configuration.",
)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a spec field.")
@click.option("--out", "-o", default="paper-check", show_default=True, type=click.Path(file_okay=False))
@friendly_errors
def paper_check(
    network: str,
    accelerator: str,
    batch: int,
    rates: str | None,
    vector_length: str,
    decode: str,
    overrides: tuple[str, ...],
    out: str,
) -> None:
    """Compute R^2 between the paper's metric and clusterwatt's energy across cluster rates; plot both."""
    spec = with_overrides(load_spec(accelerator), {"decode__location": decode, **parse_overrides(overrides)})
    rate_list = parse_floats(rates, "--rates") or list(PAPER_RATES.get(network, PAPER_RATES["alexnet"]))
    vl = vector_length if vector_length in ("S", "row") else int(vector_length)
    df, r2 = run_check(spec, get_network(network, batch), rate_list, vector_length=vl, name=network)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    df.to_csv(out_dir / f"{network}_paper_check.csv", index=False)
    files = plot_paper_check(df, r2, network, out_dir / f"{network}_paper_check")
    rows = [
        [
            f"{r.cluster_rate:g}",
            si(r.paper_total),
            f"{r.paper_per_mac:.3f}",
            si(r.hierarchy_energy),
            f"{r.hierarchy_per_mac:.3f}",
            f"{r.dram_share:.0%}",
            si(r.index_energy),
        ]
        for r in df.itertuples()
    ]
    header = ["rate", "paper total", "paper E/MAC", "hierarchy", "hier. E/MAC", "DRAM share", "index energy"]
    click.echo(f"{network} conv layers on {spec.name}, Deep k-Means row clustering (vector length {vector_length})")
    click.echo(render(rows, header))
    published = PAPER_R2.get(network)
    ref = f" (the paper, against the MIT energy tool: {published})" if published else ""
    click.echo(f"R^2 between the paper's metric and the hierarchy energy: {r2:.4f}{ref}")
    click.echo("wrote " + ", ".join(str(p) for p in [out_dir / f"{network}_paper_check.csv", *files]))
