"""Release risk: the changes of a release assessed as one, each change's share, the policy.

Assumptions:

- A release is the failure of all its changes' CIs at once for the release's window, on top of
  the CIs of open incidents: one blast radius over all of them, so a k-of-n group is counted
  once (two changes each taking one member of a pair take the pair down). The score, factors,
  level and CAB rule are :mod:`impact.change_risk`'s, for that union, with the release's type
  (an emergency release is an emergency change) or else its riskiest change's type.
- Each change's *share* is that change assessed alone in the release's window (its score,
  level, what it affects and takes down alone), and ``share`` is the part of the whole's
  affected CIs it reaches alone; ``together`` lists the CIs the release takes down that no
  change takes down alone.
- The release's own changes never collide with it; other pending changes and other open
  releases with overlapping windows do (:func:`impact.collisions.change_collisions`).
- The policy is data: a :class:`ReleasePolicy` made from a mapping (the shape of
  ``cmdb/workflows/release_policy.yaml``). A broken ``block`` rule refuses the release; a
  broken ``approve`` rule, or the CAB rule of the risk weights, sends it to its approving body
  (the CAB, or the emergency CAB for an emergency release, which always needs it).

>>> p = ReleasePolicy.from_mapping({"approval": {"normal": "CAB", "emergency": "ECAB"},
...     "rules": {"small": {"check": "max_changes", "applies_to": ["emergency"],
...                         "effect": "block", "limit": 2, "why": "keep it small"}}},
...     source="example")
>>> [(r.name, r.check, sorted(r.applies_to)) for r in p.rules]
[('small', 'max_changes', ['emergency'])]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np
from pydantic import Field

from cmdb.enums import ChangeStatus, ChangeType, Criticality, ImpactState, RecordKind
from cmdb.errors import ConfigError, ValidationError
from cmdb.filters import RecordFilter
from cmdb.model import Change, Release, utcnow
from cmdb.store.protocol import GraphStore
from impact.blast import blast_radius
from impact.change_risk import ChangeAssessment, Factor, RiskWeights, _assess
from impact.collisions import PENDING, Collision, change_collisions
from impact.propagation import DOWN, neighbours, prepare
from impact.report import slas_covering
from impact.results import Counts, Result, SupplierRef
from impact.window import FailureImpact

__all__ = [
    "ChangeShare",
    "PolicyCheck",
    "PolicyRule",
    "ReleaseAssessment",
    "ReleasePolicy",
    "assess_release",
]

CHECKS = (
    "sla_at_risk",
    "critical_service_down",
    "max_changes",
    "changes_approved",
    "max_level",
)
EFFECTS = ("block", "approve", "warn")
_LEVELS = ("low", "medium", "high", "critical")
_TYPE_RISK = (ChangeType.STANDARD, ChangeType.NORMAL, ChangeType.EMERGENCY)


@dataclass(frozen=True)
class PolicyRule:
    """One rule of the release policy (see ``release_policy.yaml``)."""

    name: str
    check: str
    applies_to: frozenset[str]
    effect: str
    why: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReleasePolicy:
    """The release policy, as data; ``source`` names where it came from."""

    source: str
    approval: Mapping[str, str]
    rules: tuple[PolicyRule, ...]
    emergency_notes: tuple[str, ...] = ()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str) -> ReleasePolicy:
        """A policy from a mapping of the policy file's shape; :class:`ConfigError` naming
        ``source`` (and the rule) if it is invalid."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"release policy {source}: expected a mapping at the top level")
        try:
            approval = {str(k): str(v) for k, v in data["approval"].items()}
            rules = []
            for name, spec in (data.get("rules") or {}).items():
                spec = dict(spec)
                check, effect = spec.pop("check"), spec.pop("effect")
                kinds = frozenset(str(t) for t in spec.pop("applies_to"))
                if check not in CHECKS:
                    raise ValueError(f"rule {name}: unknown check {check!r}")
                if effect not in EFFECTS:
                    raise ValueError(f"rule {name}: unknown effect {effect!r}")
                if not kinds or not kinds <= {"normal", "emergency"}:
                    raise ValueError(f"rule {name}: applies_to must name normal and/or emergency")
                why = str(spec.pop("why"))
                rules.append(PolicyRule(str(name), check, kinds, effect, why, spec))
                _check_params(rules[-1])
            notes = tuple(str(n) for n in data.get("emergency_notes") or ())
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"release policy {source}: invalid ({exc})") from None
        for kind in ("normal", "emergency"):
            if kind not in approval:
                raise ConfigError(f"release policy {source}: approval.{kind} is missing")
        return cls(source=source, approval=approval, rules=tuple(rules), emergency_notes=notes)


def _check_params(rule: PolicyRule) -> None:
    p = rule.params
    if rule.check == "max_changes" and not (isinstance(p.get("limit"), int) and p["limit"] >= 1):
        raise ValueError(f"rule {rule.name}: limit must be a whole number >= 1")
    if rule.check == "max_level" and p.get("level") not in _LEVELS:
        raise ValueError(f"rule {rule.name}: level must be one of {', '.join(_LEVELS)}")
    if rule.check == "critical_service_down":
        Criticality(p.get("min_criticality", "critical"))
    if rule.check == "sla_at_risk":
        for s in p.get("states", ["down", "degraded", "at_risk"]):
            ImpactState(s)


class PolicyCheck(Result):
    """One policy rule applied to the release: ``passed``, and what was found."""

    rule: str
    check: str
    effect: str
    passed: bool
    why: str
    detail: str


class ChangeShare(Result):
    """One change of a release assessed alone in the release's window: its score and level,
    how many CIs it affects (``affected``) and takes down (``down``) alone, ``share`` the part
    of the whole release's affected CIs it reaches alone, and the services it affects and
    takes down alone."""

    change_id: str
    title: str
    change_type: str
    status: str
    ci_ids: tuple[str, ...]
    score: float
    level: str
    affected: int
    down: int
    share: float
    services: tuple[str, ...]
    services_down: tuple[str, ...]


Decision = Literal["refused", "approval", "no_approval"]


class ReleaseAssessment(Result):
    """The risk of a release as a whole (see the module docstring).

    ``headline`` is the decisive sentence; ``decision`` is ``refused`` (a ``block`` rule is
    broken), ``approval`` (its approving body, ``approver``, must decide) or ``no_approval``;
    ``decision_reasons`` say why. ``score``, ``level``, ``factors``, ``counts``, ``services``,
    ``customers`` and ``impact`` are the whole's; ``together`` the CIs down only with all the
    changes at once (``together_groups`` and ``together_services`` among them); ``shares`` each
    change alone; ``collisions`` other pending changes and ``release_collisions`` other open
    releases (their ``change_id`` is the release's id) overlapping in time with intersecting
    impact; ``emergency_notes`` explain an emergency release's risk."""

    release_id: str
    title: str
    release_type: str
    emergency: bool
    status: str
    change_ids: tuple[str, ...]
    ci_ids: tuple[str, ...]
    window_start: datetime | None
    window_end: datetime | None
    headline: str
    decision: Decision
    approver: str
    decision_reasons: tuple[str, ...]
    score: float
    level: str
    level_reasons: tuple[str, ...]
    factors: tuple[Factor, ...]
    counts: Counts
    services: tuple[str, ...]
    customers: tuple[str, ...]
    together: tuple[str, ...]
    together_groups: tuple[str, ...]
    together_services: tuple[str, ...]
    shares: tuple[ChangeShare, ...]
    collisions: tuple[Collision, ...]
    release_collisions: tuple[Collision, ...]
    policy: tuple[PolicyCheck, ...]
    policy_source: str
    emergency_notes: tuple[str, ...]
    weights_source: str = Field(alias="weights")
    impact: FailureImpact | None = None
    suppliers: tuple[SupplierRef, ...] = ()


def _down_nodes(topo, ci_ids: Sequence[str]) -> set[int]:
    br = blast_radius(topo, list(ci_ids))
    out = {topo.index(c) for c in br.failed}
    out.update(br.nodes[br.codes == DOWN].tolist())
    return out


def _groups_of(topo, ci_ids: Sequence[str]) -> set[str]:
    """The redundancy groups that the CIs ``ci_ids`` are members of."""
    nodes = np.asarray([topo.index(c) for c in ci_ids], dtype=np.int32)
    return {topo.ids[i] for i in neighbours(prepare(topo).groups, nodes).tolist()}


def _check(
    rule: PolicyRule,
    store: GraphStore,
    release: Release,
    changes: Sequence[Change],
    whole: ChangeAssessment,
) -> tuple[bool, str]:
    """Whether ``rule`` passes for the release, and what was found."""
    p, fi = rule.params, whole.impact
    assert fi is not None
    if rule.check == "max_changes":
        n, limit = len(changes), int(p["limit"])
        return n <= limit, f"{n} changes (at most {limit})"
    if rule.check == "changes_approved":
        waiting = [c.id or "" for c in changes if c.status is not ChangeStatus.APPROVED]
        return not waiting, (
            "not approved yet: " + ", ".join(waiting) if waiting else "every change approved"
        )
    if rule.check == "max_level":
        ok = _LEVELS.index(whole.level) <= _LEVELS.index(p["level"])
        return ok, f"risk level {whole.level} (at most {p['level']})"
    if rule.check == "critical_service_down":
        floor = Criticality(p.get("min_criticality", "critical")).rank
        topo = store.topology()
        down = [
            s.id
            for s in fi.services
            if s.state is ImpactState.DOWN and int(topo.criticality[topo.index(s.id)]) >= floor
        ]
        return not down, ("takes down " + ", ".join(down)) if down else "no such service down"
    # sla_at_risk
    states = {ImpactState(s) for s in p.get("states", ["down", "degraded", "at_risk"])}
    touched = {s.id for s in fi.services if s.state in states}
    at_risk: dict[str, list[str]] = {}
    for a in fi.already_affected:
        for s in a.services:
            if s.id in touched:
                at_risk.setdefault(s.id, []).append(a.record)
    slas = {svc: [x.id for x in slas_covering(store, [svc])] for svc in at_risk}
    hits = [
        f"{svc} (SLA {', '.join(slas[svc])}; open {', '.join(at_risk[svc])})"
        for svc in sorted(at_risk)
        if slas[svc]
    ]
    return not hits, ("touches " + "; ".join(hits)) if hits else "no SLA already at risk"


def _share(alone: ChangeAssessment, whole: ChangeAssessment) -> float:
    """The part of the release's down CIs that the change takes down alone (of its affected
    CIs when the release takes nothing down)."""
    if whole.counts.down:
        return alone.counts.down / whole.counts.down
    return alone.counts.total / max(whole.counts.total, 1)


def _shares(
    store, topo, release: Release, changes: Sequence[Change], whole, weights, now
) -> tuple[ChangeShare, ...]:
    own = frozenset(c.id for c in changes if c.id)
    out = []
    for c in changes:
        alone = _assess(
            store,
            c.ci_ids,
            c.type,
            release.window_start,
            release.window_end,
            change_id=c.id,
            weights=weights,
            now=now,
            own=own,
        )
        fi = alone.impact
        assert fi is not None
        out.append(
            ChangeShare(
                change_id=c.id or "",
                title=c.title,
                change_type=c.type.value,
                status=c.status.value,
                ci_ids=tuple(c.ci_ids),
                score=alone.score,
                level=alone.level,
                affected=alone.counts.total,
                down=alone.counts.down,
                share=round(min(1.0, _share(alone, whole)), 3),
                services=alone.services,
                services_down=tuple(s.id for s in fi.services if s.state is ImpactState.DOWN),
            )
        )
    return tuple(out)


def assess_release(
    store: GraphStore,
    release_id: str,
    *,
    weights: RiskWeights,
    policy: ReleasePolicy,
    now: datetime | None = None,
) -> ReleaseAssessment:
    """The risk of the stored release ``release_id`` as a whole, each change's share, its
    collisions, the policy checks and the decision.

    :class:`~cmdb.errors.NotFoundError` if there is no such record (or one of its changes is
    gone), :class:`~cmdb.errors.ValidationError` if it is not a release."""
    now = now or utcnow()
    rel = store.get_record(release_id)
    if not isinstance(rel, Release):
        raise ValidationError(f"record '{release_id}' is a {rel.kind}, not a release")
    changes = []
    for cid in rel.change_ids:
        c = store.get_record(cid)
        if not isinstance(c, Change):
            raise ValidationError(f"record '{cid}' is a {c.kind}, not a change", field="change_ids")
        changes.append(c)
    topo = store.topology()
    ci_ids = list(dict.fromkeys(ci for c in changes for ci in c.ci_ids))
    emergency = rel.type.value == "emergency"
    kind = (
        ChangeType.EMERGENCY
        if emergency
        else max((c.type for c in changes), key=_TYPE_RISK.index, default=ChangeType.NORMAL)
    )
    own = frozenset(c.id for c in changes if c.id)
    whole = _assess(
        store,
        ci_ids,
        kind,
        rel.window_start,
        rel.window_end,
        change_id=rel.id,
        weights=weights,
        now=now,
        own=own,
        noun="the release",
    )
    fi = whole.impact
    assert fi is not None

    alone = set().union(*(_down_nodes(topo, c.ci_ids) for c in changes)) if changes else set()
    live = topo.in_service
    first = _groups_of(topo, ci_ids)
    together = sorted(
        (topo.ids[i] for i in _down_nodes(topo, ci_ids) - alone if live[i]),
        key=lambda c: (c not in first, c),
    )
    service = prepare(topo).service_mask
    shares = _shares(store, topo, rel, changes, whole, weights, now)

    release_collisions: tuple[Collision, ...] = ()
    if rel.window_start is not None and rel.window_end is not None:
        others = [
            Change(
                id=r.id,
                title=r.title,
                ci_ids=[c for c in r.ci_ids if c in topo],
                status=ChangeStatus.APPROVED if r.status.value == "approved" else PENDING[0],
                window_start=r.window_start,
                window_end=r.window_end,
            )
            for r in store.find_records(RecordFilter(kinds=(RecordKind.RELEASE,), open_only=True))
            if isinstance(r, Release) and r.id != rel.id
        ]
        release_collisions = change_collisions(
            topo,
            ci_ids,
            rel.window_start,
            rel.window_end,
            others,
            assume_down=whole.assumed_down,
        )

    checks = tuple(
        PolicyCheck(
            rule=r.name,
            check=r.check,
            effect=r.effect,
            passed=(res := _check(r, store, rel, changes, whole))[0],
            why=r.why,
            detail=res[1],
        )
        for r in policy.rules
        if rel.type.value in r.applies_to
    )
    broken = [c for c in checks if not c.passed]
    approver = policy.approval[rel.type.value]
    blocks = [c for c in broken if c.effect == "block"]
    reasons: list[str]
    decision: Decision
    if blocks:
        decision = "refused"
        reasons = [f"rule {c.rule}: {c.why} ({c.detail})" for c in blocks]
    else:
        reasons = [f"rule {c.rule}: {c.why} ({c.detail})" for c in broken if c.effect == "approve"]
        reasons += list(whole.cab_reasons)
        if emergency:
            reasons.insert(0, f"emergency release: the {approver} decides")
        if rel.window_start is not None and release_collisions:
            reasons.append(
                "overlaps releases " + ", ".join(c.change_id for c in release_collisions)
            )
        decision = "approval" if reasons else "no_approval"

    notes: tuple[str, ...] = ()
    if emergency:
        f = whole.factor("change_type")
        notes = (
            f"emergency: the change_type factor counts {f.value:g} "
            f"({f.points:g} of the {whole.score:g} points)",
            *policy.emergency_notes,
            f"{len(checks)} policy rules checked, {len(broken)} broken",
        )
    return ReleaseAssessment(
        release_id=rel.id or "",
        title=rel.title,
        release_type=rel.type.value,
        emergency=emergency,
        status=rel.status.value,
        change_ids=tuple(rel.change_ids),
        ci_ids=tuple(ci_ids),
        window_start=rel.window_start,
        window_end=rel.window_end,
        headline=_headline(decision, blocks, together, whole, topo, approver),
        decision=decision,
        approver=approver,
        decision_reasons=tuple(reasons),
        score=whole.score,
        level=whole.level,
        level_reasons=whole.level_reasons,
        factors=whole.factors,
        counts=whole.counts,
        services=whole.services,
        customers=whole.customers,
        together=tuple(together),
        together_groups=tuple(c for c in together if topo.is_group[topo.index(c)]),
        together_services=tuple(c for c in together if service[topo.index(c)]),
        shares=shares,
        collisions=whole.collisions,
        release_collisions=release_collisions,
        policy=checks,
        policy_source=policy.source,
        emergency_notes=notes,
        weights_source=whole.weights_source,
        impact=fi,
        suppliers=whole.suppliers,
    )


def _headline(decision, blocks, together, whole, topo, approver) -> str:
    parts = []
    if decision == "refused":
        parts.append(
            "REFUSED by rule " + ", ".join(c.rule for c in blocks) + f": {blocks[0].detail}"
        )
    if together:
        key = [c for c in together if topo.is_group[topo.index(c)]] or together
        parts.append(
            "together its changes take "
            + ", ".join(key[:2])
            + f" down ({len(together)} CIs in all), which no change does alone"
        )
    parts.append(whole.headline)
    if decision == "approval":
        parts.append(f"needs the {approver}")
    return "; ".join(p for p in parts if p)
