"""`clusterwatt accelerators list | show | validate`."""

from __future__ import annotations

import click

from accelerators import list_presets, load_spec, spec_to_yaml
from simulator.table import render
from studies.commands.errors import friendly_errors


@click.group()
def accelerators() -> None:
    """Inspect shipped accelerator presets and check your own spec files."""


@accelerators.command("list")
def list_cmd() -> None:
    """List the shipped presets."""
    rows = []
    for name in list_presets():
        s = load_spec(name)
        rows.append(
            [
                name,
                f"{s.pe_array.rows}x{s.pe_array.cols}",
                f"{s.glb.size_kb:g} kB",
                f"{s.arithmetic.weight_bits}/{s.arithmetic.act_bits} b",
                f"{s.clock_mhz:g} MHz",
                s.energy.unit,
                s.description,
            ]
        )
    click.echo(render(rows, ["name", "PEs", "GLB", "w/a bits", "clock", "energy", "description"], right=set()))


@accelerators.command("show")
@click.argument("name")
@friendly_errors
def show_cmd(name: str) -> None:
    """Print a preset or spec file in full (every default spelled out), as YAML."""
    click.echo(spec_to_yaml(load_spec(name)), nl=False)


@accelerators.command("validate")
@click.argument("file", type=click.Path(dir_okay=False))
@friendly_errors
def validate_cmd(file: str) -> None:
    """Check a spec file; on success print a one-line summary."""
    s = load_spec(file)
    click.echo(
        f"{file}: valid accelerator spec {s.name!r}: {s.pe_array.rows}x{s.pe_array.cols} PEs, "
        f"{s.glb.size_kb:g} kB GLB, {s.energy.unit} energies"
    )
