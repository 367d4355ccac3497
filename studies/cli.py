"""The `clusterwatt` command: a thin layer over the Python API. Each subcommand lives in studies/commands/."""

from __future__ import annotations

import importlib
import sys

import click

# name -> "module:attribute"; imported on first use so that `clusterwatt simulate` never pays for torch.
COMMANDS = {
    "simulate": "studies.commands.simulate:simulate",
    "accelerators": "studies.commands.accelerators:accelerators",
    "networks": "studies.commands.networks:networks",
    "compress": "studies.commands.compress:compress",
    "study": "studies.commands.study:study",
    "demo": "studies.commands.study:demo",
    "paper-check": "studies.commands.paper_check:paper_check",
    "sweep": "studies.commands.sweep:sweep",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when invoked (or listed)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("studies.commands"):
                return None
            raise
        return getattr(module, attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="clusterwatt")
def cli() -> None:
    """clusterwatt: energy and latency of weight-clustered CNNs on spatial accelerators."""


def main() -> None:
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
