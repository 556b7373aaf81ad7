"""Audit rules of compliance: ownership, SLAs, single points of failure, impact orphans and
unauthorized changes; one function per rule, as in :mod:`impact.audit_rules`.

Assumptions:

- *Impact orphan*: a live CI of the configured categories whose failure reaches no CI of
  category ``service`` or ``customer`` along the snapshot's impact edges (hard and soft) and
  from a member into its group. Reaching counts even where k-of-n redundancy absorbs it (the
  blast radius lists such a service as degraded or at risk): the CI matters to the service.
- *Unauthorized change*: a CI or relationship history entry (of the configured actions)
  since the look-back whose field-level diff, without the store's own fields and discovery
  noise (``last_seen``, ``provenance``, ``stale_since``), is not empty, and that no change
  record of an authorizing status covers: window ``[window_start, window_end]`` containing the
  entry's time, and scope (``ci_ids``) containing the CI (for a relationship, either end).
  Naming a change id on the write does not authorize it by itself: the change must cover it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING

import numpy as np

from cmdb.diff import iter_changes
from cmdb.filters import HistoryFilter
from cmdb.history import iter_history
from cmdb.model import Change, HistoryEntry
from cmdb.topology import CSR, Topology
from impact.spof import single_points_of_failure

if TYPE_CHECKING:
    from impact.audit import AuditData, Hit

__all__ = ["RULES"]

_PAGE = 20_000
"""History entries read at a time: fewer, larger pages than the default (memory stays bounded)."""


def missing_owner(data: AuditData) -> Iterator[Hit]:
    statuses = set(data.config.ownership.statuses)
    exempt = data.classes_of(data.config.ownership.exempt)
    for ci in data.cis:
        if ci.status in statuses and not ci.owner and ci.ci_class not in exempt:
            yield ci.id, None, f"{ci.status.value} CI without an owner"


def missing_support_group(data: AuditData) -> Iterator[Hit]:
    statuses = set(data.config.ownership.statuses)
    exempt = data.classes_of(data.config.ownership.exempt)
    for ci in data.cis:
        if ci.status in statuses and not ci.support_group and ci.ci_class not in exempt:
            yield ci.id, None, f"{ci.status.value} CI without a support group"


def service_without_sla(data: AuditData) -> Iterator[Hit]:
    spec, topo = data.config.sla, data.topology
    cats = topo.class_categories
    agreements = np.asarray(
        [c in spec.agreements or cats[i] in spec.agreements for i, c in enumerate(topo.class_names)]
    )
    covered = np.isin(topo.rtype, topo.type_codes(["covered_by"]))
    covered &= agreements[topo.class_code[topo.dst]] if agreements.size else covered
    has = np.zeros(topo.n, dtype=bool)
    has[topo.src[covered]] = True
    services = data.classes_of(spec.services)
    for ci in data.cis:
        if ci.ci_class in services and not has[topo.index(ci.id)]:
            yield ci.id, None, "covered by no SLA (no covered_by to an agreement)"


def sla_without_target(data: AuditData) -> Iterator[Hit]:
    spec = data.config.sla
    agreements = data.classes_of(spec.agreements)
    for ci in data.cis:
        if ci.ci_class in agreements:
            value = ci.attributes.get(spec.target)
            if not isinstance(value, int | float) or isinstance(value, bool):
                yield ci.id, None, f"no {spec.target}"


def critical_service_spof(data: AuditData) -> Iterator[Hit]:
    topo = data.topology
    floor = data.config.spof.min_criticality.rank
    services = {c for c in data.live_classes if data.category(c) == "service"}
    for ci in data.cis:
        if ci.ci_class not in services or ci.criticality.rank < floor:
            continue
        points = single_points_of_failure(topo, ci.id)
        if points:
            shown = ", ".join(p.id for p in points)
            yield (
                ci.id,
                None,
                (
                    f"{ci.criticality.value} service with {len(points)} single points of "
                    f"failure: {shown}"
                ),
            )


def _reaches(topo: Topology, targets: np.ndarray) -> np.ndarray:
    """Nodes whose failure reaches a node of ``targets``: a backward breadth-first search
    over hard and soft impact edges and member -> group edges."""
    frm, to = topo.impact_edges()
    sf, st = topo.soft_edges()
    member, group = topo.membership_edges()
    frm = np.concatenate([frm, sf, member])
    to = np.concatenate([to, st, group])
    back = CSR.from_edges(topo.n, to, frm)  # row i: the nodes whose failure impacts i
    seen = targets.copy()
    frontier = np.flatnonzero(seen)
    while frontier.size:
        _, nxt = back.gather(frontier)
        nxt = np.unique(nxt)
        nxt = nxt[~seen[nxt]]
        seen[nxt] = True
        frontier = nxt
    return seen


def impact_orphan(data: AuditData) -> Iterator[Hit]:
    spec, topo = data.config.impact_orphan, data.topology
    reached = _reaches(topo, topo.category_mask("service", "customer"))
    wanted = set(spec.categories)
    statuses = set(spec.statuses)
    checked = {c for c in data.live_classes if data.category(c) in wanted}
    for ci in data.cis:
        if ci.status not in statuses or ci.ci_class not in checked:
            continue
        if not reached[topo.index(ci.id)]:
            yield ci.id, None, "its failure reaches no service and no customer"


def _cis_of(entry: HistoryEntry) -> tuple[str, ...]:
    if entry.entity == "relationship":
        source, _, target = entry.entity_id.split("|")
        return (source, target)
    return (entry.entity_id,)


Windows = dict[str, list[tuple[datetime, datetime]]]
"""The windows of the authorizing changes, by CI in their scope."""


def _windows(changes: Iterable[Change]) -> Windows:
    by_ci: Windows = defaultdict(list)
    for c in changes:
        if c.window_start is not None and c.window_end is not None:
            for ci_id in set(c.ci_ids):
                by_ci[ci_id].append((c.window_start, c.window_end))
    return by_ci


def _covered(at: datetime, cis: tuple[str, ...], windows: Windows) -> bool:
    return any(start <= at <= end for ci in cis for start, end in windows.get(ci, ()))


def unauthorized_change(data: AuditData) -> Iterator[Hit]:
    spec = data.config.unauthorized_change
    actions = set(spec.actions)
    ignore = frozenset(spec.ignore_fields)
    authorizing = set(spec.authorizing_statuses)
    windows = _windows(c for c in data.changes if c.status in authorizing)
    for entity in ("ci", "relationship"):
        flt = HistoryFilter(
            entity=entity, since=data.since, until=data.now, actions=tuple(sorted(actions))
        )
        for entry in iter_history(data.store, flt, page=_PAGE):
            cis = _cis_of(entry)
            if windows and _covered(entry.at, cis, windows):  # decided first: the rest is diffed
                continue
            paths = [
                p for p, _, _ in islice(iter_changes(entry.before, entry.after, ignore=ignore), 5)
            ]
            if not paths:
                continue
            fields = ", ".join(paths[:4]) + (", ..." if len(paths) > 4 else "")
            record = f" naming {entry.change_id}" if entry.change_id else ""
            rel = entry.entity_id if entity == "relationship" else None
            yield (
                cis[0],
                rel,
                (
                    f"{entry.action.value} of {fields} at {entry.at:%Y-%m-%d %H:%M} by "
                    f"{entry.actor}{record}, outside every approved change covering it"
                ),
            )


RULES: dict[str, Callable[[AuditData], Iterator[Hit]]] = {
    "missing_owner": missing_owner,
    "missing_support_group": missing_support_group,
    "service_without_sla": service_without_sla,
    "sla_without_target": sla_without_target,
    "critical_service_spof": critical_service_spof,
    "impact_orphan": impact_orphan,
    "unauthorized_change": unauthorized_change,
}
