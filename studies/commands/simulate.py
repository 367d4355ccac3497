"""`clusterwatt simulate`: energy (and latency) of a network or a trace on an accelerator."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import click

from accelerators import load_spec, with_overrides
from simulator.mapper import DATAFLOWS
from simulator.row_stationary import RSMapping
from simulator.simulate import simulate as run_simulation
from simulator.table import network_table
from studies.commands.errors import friendly_errors, parse_floats, parse_overrides


def load_mappings(path: str) -> dict[str, Any]:
    """Mappings by layer name from a JSON file written by `simulate --format json`."""
    data = json.loads(Path(path).read_text())
    layers = data.get("layers") if isinstance(data, dict) else None
    if not isinstance(layers, list):
        raise ValueError(f"{path}: expected the JSON output of `clusterwatt simulate --format json`")
    out = {}
    for entry in layers:
        m = entry.get("mapping")
        if isinstance(m, dict) and m.get("dataflow") == "rs":
            out[entry["name"]] = RSMapping.from_dict(m)
    return out


@click.command()
@click.option("--accelerator", "-a", default="eyeriss", show_default=True, help="Preset name or spec YAML file.")
@click.option("--network", "-n", default=None, help="Built-in network (see `clusterwatt networks list`).")
@click.option("--trace", "-t", "trace", type=click.Path(dir_okay=False), help="Layer-trace JSON to replay.")
@click.option("--batch", "-b", type=click.IntRange(min=1), help="Batch size [default: 1, or the trace's].")
@click.option("--dataflow", "-d", default="rs", show_default=True, type=click.Choice(sorted(DATAFLOWS)))
@click.option("--ifmap-sparsity", help="Share of zero input activations: one value, or one per layer (a,b,...).")
@click.option(
    "--objective",
    default="energy",
    show_default=True,
    type=click.Choice(["energy", "latency", "edp"]),
    help="What the mapper minimises.",
)
@click.option("--exhaustive", is_flag=True, help="Search every loop order and blocking (slower).")
@click.option(
    "--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a spec field, e.g. glb__size_kb=256."
)
@click.option(
    "--mappings", type=click.Path(exists=True, dir_okay=False), help="Re-evaluate the mappings of a JSON result."
)
@click.option("--format", "fmt", default="table", show_default=True, type=click.Choice(["table", "json", "csv"]))
@click.option("--out", "-o", type=click.Path(dir_okay=False), help="Write the output to a file instead of stdout.")
@click.option("--show-mapping", is_flag=True, help="Print each layer's chosen mapping under the table.")
@friendly_errors
def simulate(
    accelerator: str,
    network: str | None,
    trace: str | None,
    batch: int | None,
    dataflow: str,
    ifmap_sparsity: str | None,
    objective: str,
    exhaustive: bool,
    overrides: tuple[str, ...],
    mappings: str | None,
    fmt: str,
    out: str | None,
    show_mapping: bool,
) -> None:
    """Map every layer onto the accelerator and report energy by level and data type."""
    if network and trace:
        raise click.UsageError("give --network or --trace, not both")
    spec = load_spec(accelerator)
    if overrides:
        spec = with_overrides(spec, parse_overrides(overrides))
    source: Any = Path(trace) if trace else (network or "alexnet")
    result = run_simulation(
        spec,
        source,
        batch=batch,
        dataflow=dataflow,
        ifmap_sparsity=parse_floats(ifmap_sparsity, "--ifmap-sparsity"),
        objective=objective,  # type: ignore[arg-type]
        exhaustive=exhaustive,
        mappings=load_mappings(mappings) if mappings else None,
        progress=out is not None,
    )
    if fmt == "json":
        text = json.dumps(result.to_dict(), indent=2) + "\n"
    elif fmt == "csv":
        buf = io.StringIO()
        df = result.to_dataframe()
        df.to_csv(buf, index=False, quoting=csv.QUOTE_MINIMAL)
        text = buf.getvalue()
    else:
        text = network_table(result, show_mapping=show_mapping) + "\n"
    if out:
        Path(out).write_text(text)
        click.echo(f"wrote {out}", err=True)
    else:
        click.echo(text, nl=False)
