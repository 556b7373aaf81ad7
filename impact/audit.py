"""The configuration audit: findings by rule, and scores per dimension, per class and overall.

Assumptions: the rules and their parameters come in as data (an
:class:`~cmdb.audit_config.AuditConfig`, loaded by the core from YAML); this module reads the
store once (live CIs, the topology snapshot, change records and, for unauthorized changes, the
history since the look-back) and never writes. Relationships are read from the snapshot's
arrays, not as documents, which keeps a 100k-CI audit within seconds. Each rule is a function
of the :class:`AuditData` that yields ``(ci, relationship, why)``; a finding names the CI (and
the relationship, ``source|type|target``), the rule and why. How scores are computed is in
:mod:`impact.audit_scores`.

>>> from cmdb.audit_config import load_audit_config
>>> sorted(RULES) == sorted(load_audit_config().rules)
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from operator import itemgetter
from typing import Any

from pydantic import BaseModel, ConfigDict

from cmdb.audit_config import AuditConfig
from cmdb.bulk import no_gc
from cmdb.enums import RecordKind
from cmdb.errors import ConfigError
from cmdb.filters import CIFilter, RecordFilter
from cmdb.model import CI, Change, utcnow
from cmdb.registry import Registry
from cmdb.store.protocol import GraphStore
from cmdb.topology import Topology
from impact import audit_compliance, audit_rules
from impact.audit_scores import Scores, compute_scores

__all__ = ["RULES", "AuditData", "AuditResult", "Finding", "run_audit"]

Hit = tuple[str, str | None, str]
"""What a rule yields: the CI id, the relationship (``source|type|target``) or None, why."""

RULES: dict[str, Callable[[AuditData], Iterable[Hit]]] = {
    **audit_rules.RULES,
    **audit_compliance.RULES,
}


class Finding(BaseModel):
    """One finding: which CI (or relationship), which rule, and why."""

    model_config = ConfigDict(frozen=True)

    rule: str
    dimension: str
    severity: str
    ci: str
    ci_class: str
    relationship: str | None = None
    why: str


class AuditResult(BaseModel):
    """What ``cmdb audit`` prints: the findings, the counts by rule and the scores."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    store: str
    store_id: str
    store_version: int
    config: str
    rules: tuple[str, ...]
    rule_dimensions: dict[str, str] = {}
    classes: tuple[str, ...] = ()
    checked: int
    findings: tuple[Finding, ...]
    counts: dict[str, int]
    scores: Scores

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


@dataclass
class AuditData:
    """What the rules read, loaded once: the live CIs, the snapshot, the change records."""

    store: GraphStore
    config: AuditConfig
    now: datetime
    since: datetime
    cis: list[CI]
    topology: Topology
    changes: list[Change] = field(default_factory=list)

    @property
    def registry(self) -> Registry:
        return self.store.registry

    @cached_property
    def by_id(self) -> dict[str, CI]:
        return {c.id: c for c in self.cis}

    def category(self, ci_class: str) -> str:
        spec = self.registry.classes.get(ci_class)
        return spec.category if spec is not None else ""

    def is_a(self, ci_class: str, names: Iterable[str]) -> bool:
        """True when ``ci_class`` or its category is one of ``names``."""
        names = set(names)
        return ci_class in names or self.category(ci_class) in names

    def classes_of(self, names: Iterable[str]) -> frozenset[str]:
        """The classes of the live CIs that :meth:`is_a` one of ``names``: a rule tests a
        CI's class against it instead of calling :meth:`is_a` for every CI."""
        return frozenset(c for c in self.live_classes if self.is_a(c, names))

    @cached_property
    def live_classes(self) -> frozenset[str]:
        return frozenset(c.ci_class for c in self.cis)


def _select(config: AuditConfig, rules: Sequence[str], skip: Sequence[str]) -> tuple[str, ...]:
    for name in (*rules, *skip):
        if name not in config.rules or name not in RULES:
            known = ", ".join(sorted(config.rules))
            raise ConfigError(f"unknown audit rule '{name}' (known: {known})")
    chosen = rules or [r for r in config.rules if config.rules[r].enabled]
    return tuple(r for r in chosen if r not in skip)


def run_audit(
    store: GraphStore,
    config: AuditConfig,
    *,
    rules: Sequence[str] = (),
    skip: Sequence[str] = (),
    classes: Sequence[str] = (),
    now: datetime | None = None,
    since: datetime | None = None,
) -> AuditResult:
    """Audit ``store`` by the rules of ``config`` (only ``rules`` when given, never ``skip``),
    for the CIs of ``classes`` (default all); ``since`` bounds the history that the
    unauthorized-change rule reads (default: the configured look-back before ``now``)."""
    for c in classes:
        store.registry.class_(c, field="--class")
    chosen = _select(config, rules, skip)
    with no_gc():  # a bulk read of every live CI and a history range: see cmdb.bulk
        return _run(store, config, chosen, classes, now or utcnow(), since)


def _run(
    store: GraphStore,
    config: AuditConfig,
    chosen: tuple[str, ...],
    classes: Sequence[str],
    now: datetime,
    since: datetime | None,
) -> AuditResult:
    data = AuditData(
        store=store,
        config=config,
        now=now,
        since=since or now - timedelta(days=config.unauthorized_change.lookback_days),
        cis=store.find_cis(CIFilter()),
        topology=store.topology(),
        changes=[
            r
            for r in store.find_records(RecordFilter(kinds=(RecordKind.CHANGE,)))
            if isinstance(r, Change)
        ],
    )
    wanted = set(classes)
    class_of = _ClassOf(store, data.cis)
    findings: list[Finding] = []
    # rule by rule in the findings' order (dimension, rule), each rule's sorted by CI and
    # relationship: the same order as sorting them all, without a key for every finding
    for name in sorted(chosen, key=lambda r: (config.rules[r].dimension, r)):
        spec = config.rules[name]
        hits = [(ci_id, rel, why, class_of[ci_id]) for ci_id, rel, why in RULES[name](data)]
        if wanted:
            hits = [h for h in hits if h[3] in wanted]
        hits.sort(key=_by_ci if any(h[1] for h in hits) else itemgetter(0))
        findings += [
            Finding(  # validating these plain strings is cheaper than model_construct
                rule=name,
                dimension=spec.dimension,
                severity=spec.severity,
                ci=ci_id,
                ci_class=ci_class,
                relationship=rel,
                why=why,
            )
            for ci_id, rel, why, ci_class in hits
        ]
    scope = [c for c in data.cis if not wanted or c.ci_class in wanted]
    counts = {name: 0 for name in chosen}
    for f in findings:
        counts[f.rule] += 1
    return AuditResult.model_construct(  # built from checked parts: no revalidation
        at=now,
        store=store.uri,
        store_id=store.store_id,
        store_version=store.version(),
        config=config.source,
        rules=chosen,
        rule_dimensions={r: config.rules[r].dimension for r in chosen},
        classes=tuple(classes),
        checked=len(scope),
        findings=tuple(findings),
        counts=counts,
        scores=compute_scores(scope, findings, config, chosen),
    )


def _by_ci(hit: tuple[str, str | None, str, str]) -> tuple[str, str]:
    """The order of a rule's findings: CI, then relationship (none first); most rules name
    no relationship, and sort by CI alone, by a key made in C."""
    return hit[0], hit[1] or ""


class _ClassOf(dict[str, str]):
    """CI id -> class: the live CIs' as read; a retired CI's (named by history) read from the
    store on first use, "" when the store does not have it."""

    def __init__(self, store: GraphStore, live: Iterable[CI]) -> None:
        super().__init__((c.id, c.ci_class) for c in live)
        self.store = store

    def __missing__(self, ci_id: str) -> str:
        try:
            found = self.store.get_ci(ci_id).ci_class
        except Exception:
            found = ""
        self[ci_id] = found
        return found
