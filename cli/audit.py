"""Audit: findings and scores of the CMDB's completeness, correctness and compliance.

Exit codes: 0 pass, 1 the overall score is below ``--fail-under``, 2 usage error (an unknown
rule or class, a bad config file), 3 store unreachable.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cli import output
from cli.options import parse_time
from cli.state import get_state
from cmdb.audit_config import AuditConfig, load_audit_config
from cmdb.errors import ConfigError, ValidationError
from impact.audit import AuditResult
from impact.audit_query import AuditScope, checked_audit
from impact.audit_render import to_html, to_junit, to_markdown, to_report_markdown

app = typer.Typer(no_args_is_help=False, invoke_without_command=True)


class AuditFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    MARKDOWN = "markdown"
    JUNIT = "junit"


class ReportFormat(StrEnum):
    HTML = "html"
    MD = "md"


RuleOpt = Annotated[
    list[str] | None, typer.Option("--rule", "-r", help="Run only this rule (repeat).")
]
SkipOpt = Annotated[list[str] | None, typer.Option("--skip-rule", help="Skip a rule (repeat).")]
ClassOpt = Annotated[
    list[str] | None, typer.Option("--class", "-c", help="Audit only CIs of this class (repeat).")
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", envvar="CMDB_AUDIT_RULES", help="Audit rules YAML to tune."),
]
SinceOpt = Annotated[
    datetime | None,
    typer.Option(
        parser=parse_time,
        metavar="TIME",
        help="Look for unauthorized changes since (default: the configured look-back).",
    ),
]


_HINTS = {"rule": "--rule", "skip_rule": "--skip-rule", "class": "--class", "since": "--since"}


def _audit(
    ctx: typer.Context,
    rule: list[str] | None,
    skip_rule: list[str] | None,
    ci_class: list[str] | None,
    config: Path | None,
    since: datetime | None,
) -> tuple[AuditResult, AuditConfig]:
    state = get_state(ctx)
    try:
        cfg = load_audit_config(config)
    except ConfigError as exc:
        raise typer.BadParameter(str(exc), param_hint="--config") from None
    scope = AuditScope(rules=rule or (), skip=skip_rule or (), classes=ci_class or (), since=since)
    try:
        return checked_audit(state.store, cfg, scope), cfg
    except ValidationError as exc:
        if exc.field not in _HINTS:
            raise
        # an unknown name is a usage error (exit 2), as for any bad option value
        raise typer.BadParameter(exc.detail, param_hint=_HINTS[exc.field]) from None


@app.callback()
def audit(
    ctx: typer.Context,
    fmt: Annotated[AuditFormat, typer.Option("--format", "-f", help="Output format.")] = (
        AuditFormat.TABLE
    ),
    fail_under: Annotated[
        float | None,
        typer.Option(min=0, max=100, help="Exit 1 when the overall score is below SCORE."),
    ] = None,
    rule: RuleOpt = None,
    skip_rule: SkipOpt = None,
    ci_class: ClassOpt = None,
    config: ConfigOpt = None,
    since: SinceOpt = None,
    limit: Annotated[
        int,
        typer.Option(
            min=0,
            help="Findings listed per rule in the table (0: all; the other formats list all).",
        ),
    ] = 20,
) -> None:
    """Audit the CMDB: findings (CI, rule, why) and scores per dimension, class and overall."""
    if ctx.invoked_subcommand is not None:
        return
    result, _ = _audit(ctx, rule, skip_rule, ci_class, config, since)
    if fmt is AuditFormat.JSON:
        output.emit_model(result)
    elif fmt is AuditFormat.MARKDOWN:
        output.emit_text(to_markdown(result))
    elif fmt is AuditFormat.JUNIT:
        output.emit_text(to_junit(result, fail_under=fail_under))
    else:
        _table(result, limit)
    if fail_under is not None and result.scores.overall < fail_under:
        raise typer.Exit(1)


def _table(result: AuditResult, limit: int) -> None:
    s = result.scores
    output.emit_line(
        f"overall {s.overall:.1f} / 100 ("
        + ", ".join(f"{d} {v:.1f}" for d, v in s.dimensions.items())
        + f"); {result.checked} CIs, {len(result.findings)} findings"
    )
    output.emit_table(
        [
            {"rule": r, "dimension": result.rule_dimensions.get(r), "findings": n}
            for r, n in result.counts.items()
        ],
        ["rule", "dimension", "findings"],
        title="Rules",
    )
    if not result.findings:
        return
    # findings come grouped by rule: the first ``limit`` of each (a table of 300k rows would
    # take minutes to lay out and nobody reads it; JSON, Markdown and JUnit list them all)
    listed: list[dict] = []
    seen: dict[str, int] = {}
    for f in result.findings:
        seen[f.rule] = seen.get(f.rule, 0) + 1
        if not limit or seen[f.rule] <= limit:
            listed.append(
                {"rule": f.rule, "ci": f.relationship or f.ci, "class": f.ci_class, "why": f.why}
            )
    shown = len(listed)
    caption = f"{len(result.findings)} findings"
    if shown < len(result.findings):
        caption = (
            f"{shown} of {len(result.findings)} findings, the first {limit} of each rule "
            "(--limit 0 lists all; --format json gives every finding)"
        )
    output.emit_table(listed, ["rule", "ci", "class", "why"], title="Findings", caption=caption)


@app.command("report")
def report(
    ctx: typer.Context,
    fmt: Annotated[ReportFormat, typer.Option("--format", "-f", help="Report format.")] = (
        ReportFormat.HTML
    ),
    rule: RuleOpt = None,
    skip_rule: SkipOpt = None,
    ci_class: ClassOpt = None,
    config: ConfigOpt = None,
    since: SinceOpt = None,
) -> None:
    """The evidence report for an external auditor: scores (with a chart), findings, and the
    ISO/IEC 20000-1 requirements they bear on; HTML stands alone (inline CSS and SVG)."""
    result, cfg = _audit(ctx, rule, skip_rule, ci_class, config, since)
    text = to_html(result, cfg) if fmt is ReportFormat.HTML else to_report_markdown(result, cfg)
    output.emit_text(text)
