"""`clusterwatt networks list | show`."""

from __future__ import annotations

import click

from simulator.networks import describe_network, get_network, list_networks
from simulator.table import render, si
from studies.commands.errors import friendly_errors


@click.group()
def networks() -> None:
    """Built-in shape-only networks."""


@networks.command("list")
def list_cmd() -> None:
    """List the built-in networks with their size."""
    for name in list_networks():
        click.echo(describe_network(name))


@networks.command("show")
@click.argument("name")
@click.option("--batch", "-b", default=1, show_default=True, type=click.IntRange(min=1))
@friendly_errors
def show_cmd(name: str, batch: int) -> None:
    """Print every layer's shape and MAC count."""
    rows = [[x.name, x.shape_str(), si(x.weights), si(x.macs)] for x in get_network(name, batch)]
    click.echo(render(rows, ["layer", "shape", "weights", "MACs"], right={2, 3}))
