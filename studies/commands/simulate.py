"""`clusterwatt simulate`: energy (and latency) of a network or a trace on an accelerator."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import click

from accelerators import load_spec, with_overrides
from simulator.clustering import cluster_layers
from simulator.mapper import DATAFLOWS
from simulator.simulate import resolve_layers
from simulator.simulate import simulate as run_simulation
from simulator.table import network_table
from studies.commands.errors import friendly_errors, parse_floats, parse_ints, parse_overrides


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise click.BadParameter(
            f"expected 1, S or a positive integer, got {text!r}", param_hint="--vector-length"
        ) from None
    if value < 1:
        raise click.BadParameter(f"must be >= 1, got {value}", param_hint="--vector-length")
    return value


def load_mappings(path: str) -> dict[str, Any]:
    """Mappings by layer name from a JSON file written by `simulate --format json`."""
    data = json.loads(Path(path).read_text())
    layers = data.get("layers") if isinstance(data, dict) else None
    if not isinstance(layers, list):
        raise ValueError(f"{path}: expected the JSON output of `clusterwatt simulate --format json`")
    classes = {name: model.MAPPING for name, model in DATAFLOWS.items()}
    out = {}
    for entry in layers:
        m = entry.get("mapping")
        if isinstance(m, dict) and m.get("dataflow") in classes:
            out[entry["name"]] = classes[m["dataflow"]].from_dict(m)
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
@click.option("--clusters", "-k", help="Clusters K for every layer, or one per layer (a,b,...).")
@click.option("--cluster-rate", type=float, help="K = ceil(rate x vectors) per layer (the Deep k-Means convention).")
@click.option(
    "--vector-length",
    default="1",
    show_default=True,
    help="Weights per clustered vector: 1 (scalar), S (filter rows, Deep k-Means) or an integer d (DKM).",
)
@click.option("--weight-bits", type=click.IntRange(1, 64), help="Weight width (unclustered layers).")
@click.option("--act-bits", type=click.IntRange(1, 64), help="Activation width.")
@click.option("--codebook-bits", type=click.IntRange(1, 64), help="Centroid width [default: the weight width].")
@click.option("--decode", type=click.Choice(["pe", "glb"]), help="Where clustered weights are decoded.")
@click.option("--row-reuse", is_flag=True, help="Reuse the 1-D convolution of shared clustered rows (vector length S).")
@click.option("--timing", is_flag=True, help="Replay each layer on the event model: latency, stalls, frames/s.")
@click.option("--overlap", is_flag=True, help="With --timing: overlap DRAM transfers with compute (double buffering).")
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
    clusters: str | None,
    cluster_rate: float | None,
    vector_length: str,
    weight_bits: int | None,
    act_bits: int | None,
    codebook_bits: int | None,
    decode: str | None,
    row_reuse: bool,
    timing: bool,
    overlap: bool,
    fmt: str,
    out: str | None,
    show_mapping: bool,
) -> None:
    """Map every layer onto the accelerator and report energy by level and data type."""
    if network and trace:
        raise click.UsageError("give --network or --trace, not both")
    spec = load_spec(accelerator)
    changes = parse_overrides(overrides)
    if decode:
        changes["decode__location"] = decode
    if row_reuse:
        changes["features__row_reuse"] = True
    if changes:
        spec = with_overrides(spec, changes)
    _, layers = resolve_layers(Path(trace) if trace else (network or "alexnet"), batch)
    layers = cluster_layers(
        layers,
        clusters=parse_ints(clusters, "--clusters"),
        cluster_rate=cluster_rate,
        vector_length=vector_length if vector_length in ("S", "row") else _positive_int(vector_length),
        weight_bits=weight_bits,
        act_bits=act_bits,
        codebook_bits=codebook_bits,
    )
    result = run_simulation(
        spec,
        layers,
        dataflow=dataflow,
        ifmap_sparsity=parse_floats(ifmap_sparsity, "--ifmap-sparsity"),
        objective=objective,  # type: ignore[arg-type]
        exhaustive=exhaustive,
        mappings=load_mappings(mappings) if mappings else None,
        progress=out is not None,
        name=(trace and Path(trace).stem) or network or "alexnet",
        timing=timing or overlap,
        overlap=overlap,
    )
    if fmt == "json":
        text = json.dumps(result.to_dict(), indent=2) + "\n"
    elif fmt == "csv":
        buf = io.StringIO()
        df = result.to_dataframe()
        df.to_csv(buf, index=False, quoting=csv.QUOTE_MINIMAL)
        text = buf.getvalue()
    else:
        extra_cols = ("latency_s", "processing_s", "stall_s", "fps") if (timing or overlap) else ()
        text = network_table(result, show_mapping=show_mapping, extra_cols=extra_cols) + "\n"
    if out:
        Path(out).write_text(text)
        click.echo(f"wrote {out}", err=True)
    else:
        click.echo(text, nl=False)
