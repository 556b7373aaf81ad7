"""Option types shared by the command modules.

Attribute values (``--set NAME=VALUE``) are read by :mod:`cmdb.values`, the one parser that CSV
imports use too.
"""

from __future__ import annotations

from typing import Annotated

import typer

from cli.output import Format

__all__ = ["ChangeOpt", "FormatOpt", "SetOpt"]

FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
ChangeOpt = Annotated[str | None, typer.Option("--change", help="Change record id, for history.")]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set", help="Attribute NAME=VALUE; repeat. Read as the registry types the attribute."
    ),
]
