"""An audit as a user asks for it: rule and class names checked, optionally as of a past time,
and rendered as a document.

Assumptions: names come as the user typed them, repeated or comma-separated
(``--rule a,b --rule c``, ``?rule=a,b&rule=c``); a name that the rules ``config`` or the
registry does not know is a :class:`~cmdb.errors.ValidationError` naming the field (``rule``,
``skip_rule`` or ``class``), never an empty audit. ``at`` audits the graph as it was then
(:func:`cmdb.asof.as_of`: CIs and relationships from history, records as they are now), with
``at`` as the audit's "now" (staleness, the look-back of unauthorized changes).

>>> AuditScope(rules=["a, b", "c", ""], classes=None).rules
('a', 'b', 'c')
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from cmdb.asof import as_of
from cmdb.audit_config import AuditConfig
from cmdb.errors import ValidationError
from cmdb.model import utcnow
from cmdb.store.protocol import GraphStore
from impact.audit import AuditResult, run_audit
from impact.audit_render import to_html, to_junit, to_report_markdown

__all__ = ["AuditScope", "ReportFormat", "audit_document", "checked_audit"]

ReportFormat = Literal["html", "md", "junit"]


class AuditScope(BaseModel):
    """What to audit: only ``rules`` (default: the enabled ones), never ``skip``, the CIs of
    ``classes`` (default all), the graph as of ``at`` (default now), and unauthorized changes
    since ``since`` (default: the configured look-back before ``at``)."""

    model_config = ConfigDict(frozen=True)

    rules: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    since: datetime | None = None
    at: datetime | None = None

    @field_validator("rules", "skip", "classes", mode="before")
    @classmethod
    def _split(cls, values: Any) -> tuple[str, ...]:
        """Names given repeated or comma-separated, stripped, blanks dropped."""
        if isinstance(values, str):
            values = [values]
        return tuple(v.strip() for text in values or () for v in text.split(",") if v.strip())

    @field_validator("since", "at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        """A time without an offset is UTC, as on the command line."""
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def checked_audit(
    store: GraphStore, config: AuditConfig, scope: AuditScope | None = None
) -> AuditResult:
    """:func:`~impact.audit.run_audit` on ``store`` within ``scope``, after checking every
    rule and class name, that ``at`` is not in the future and ``since`` not after it."""
    scope = scope or AuditScope()
    named = [(r, "rule") for r in scope.rules] + [(r, "skip_rule") for r in scope.skip]
    for name, field in named:
        if name not in config.rules:
            known = ", ".join(sorted(config.rules))
            raise ValidationError(f"unknown audit rule '{name}' (known: {known})", field=field)
    for name in scope.classes:
        store.registry.class_(name, field="class")
    if scope.at is not None and scope.at > utcnow():
        raise ValidationError("is in the future: audit the present without it", field="at")
    if scope.since is not None and scope.at is not None and scope.since > scope.at:
        raise ValidationError("'since' is after 'at'", field="since")
    return run_audit(
        as_of(store, scope.at),
        config,
        rules=scope.rules,
        skip=scope.skip,
        classes=scope.classes,
        now=scope.at,
        since=scope.since,
    )


def audit_document(
    store: GraphStore,
    config: AuditConfig,
    scope: AuditScope | None = None,
    *,
    format: ReportFormat = "html",
    fail_under: float | None = None,
) -> str:
    """The audit within ``scope`` as the evidence report (stand-alone ``html``, or ``md``) or
    as ``junit`` XML (one suite per dimension; with ``fail_under`` a ``score`` case fails
    below it)."""
    if format not in ("html", "md", "junit"):
        raise ValidationError(
            f"unknown report format '{format}': use html, md or junit", field="format"
        )
    result = checked_audit(store, config, scope)
    if format == "html":
        return to_html(result, config)
    if format == "md":
        return to_report_markdown(result, config)
    return to_junit(result, fail_under=fail_under)
