"""Store administration: init, demo, generate, registry."""

from __future__ import annotations

from typing import Annotated

import typer

from cli import output
from cli.options import FormatOpt
from cli.output import Format
from cli.state import get_state
from cmdb.model import utcnow

__all__ = ["register"]

registry_app = typer.Typer(no_args_is_help=True, help="The class and relationship registry.")


def init(ctx: typer.Context, fmt: FormatOpt = Format.TABLE) -> None:
    """Create the store (if needed) and show where it is."""
    store = get_state(ctx).open(create=True)
    info = {"store": store.uri, "version": store.version()}
    if fmt is Format.JSON:
        output.emit_json(info)
    else:
        output.info(f"store ready at {info['store']} (version {info['version']})")


def demo(ctx: typer.Context, fmt: FormatOpt = Format.TABLE) -> None:
    """Load the demo CMDB: an IT outsourcer's banking estate (about 400 CIs)."""
    from cmdb.demo import build_demo

    state = get_state(ctx)
    result = state.open(create=True).apply(build_demo(now=utcnow()), actor="demo")
    summary = result.model_dump()
    if fmt is Format.JSON:
        output.emit_json({"store": state.store.uri, **summary})
        return
    output.info(
        f"demo loaded into {state.store.uri}: {result.created} created, "
        f"{result.updated} updated, {result.unchanged} unchanged"
    )
    output.info("try: cmdb impact blast-radius sw-dc-acc-05  |  cmdb change assess CHG-000101")


def generate(
    ctx: typer.Context,
    cis: Annotated[
        int, typer.Option("--cis", min=500, help="How many CIs (at least 500).")
    ] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same topology.")] = 0,
    batch_size: Annotated[int, typer.Option(min=100)] = 50_000,
    bulk: Annotated[
        bool,
        typer.Option(
            "--bulk",
            help="Neo4j: keep the history of each batch as one summary (read back as the "
            "same entries); faster for large estates. Other stores ignore it.",
        ),
    ] = False,
) -> None:
    """Generate a realistic layered enterprise topology of N CIs into the store."""
    from cmdb.generator import generate as gen

    state = get_state(ctx)
    store = state.open(create=True)
    created = made_cis = made_rels = 0
    with output.progress(f"generating {cis:,} CIs: items written", total=None) as advance:
        for batch in gen(cis, seed=seed, batch_size=batch_size, progress=advance):
            created += store.apply(batch, actor="generator", bulk=bulk).created
            made_cis += len(batch.cis)
            made_rels += len(batch.relationships)
    output.info(
        f"generated {made_cis:,} CIs and {made_rels:,} relationships into {store.uri} "
        f"({created:,} of them new)"
    )


@registry_app.command("classes")
def classes(ctx: typer.Context, fmt: FormatOpt = Format.TABLE) -> None:
    """List CI classes."""
    reg = get_state(ctx).registry
    rows = [
        {
            "class": c.name,
            "category": c.category,
            "group": c.group,
            "required": list(c.required),
            "recommended": list(c.recommended),
        }
        for c in reg.classes.values()
    ]
    if fmt is Format.JSON:
        output.emit_json(rows)
    else:
        output.emit_table(rows, ["class", "category", "group", "required", "recommended"])


@registry_app.command("types")
def types(ctx: typer.Context, fmt: FormatOpt = Format.TABLE) -> None:
    """List relationship types and how they propagate impact."""
    reg = get_state(ctx).registry
    rows = [
        {
            "type": r.name,
            "propagation": r.propagation.value,
            "inverse": r.inverse,
            "allowed": [f"{a}->{b}" for a, b in r.allowed],
        }
        for r in reg.relationships.values()
    ]
    if fmt is Format.JSON:
        output.emit_json(rows)
    else:
        output.emit_table(rows, ["type", "propagation", "inverse", "allowed"])


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("demo")(demo)
    app.command("generate")(generate)
    app.add_typer(registry_app, name="registry")
