"""``videopipe list``: every registered plugin of every kind."""

from __future__ import annotations

import typer

from videopipe.cli.common import print_json


def list_plugins(
    json_out: bool = typer.Option(False, "--json", help="Print JSON {kind: [names]}."),
) -> None:
    """List the registered decoders, samplers, compressors, models, embedders and executors."""
    from videopipe.registry import ALL_REGISTRIES

    if json_out:
        print_json({kind: reg.names() for kind, reg in ALL_REGISTRIES.items()})
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="videopipe plugins")
    table.add_column("kind")
    table.add_column("name")
    table.add_column("what it does")
    for kind, reg in ALL_REGISTRIES.items():
        for entry in reg.entries():
            table.add_row(kind, entry.name, entry.summary)
    Console().print(table)
