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

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np

from cmdb.diff import diff_documents
from cmdb.filters import HistoryFilter
from cmdb.history import iter_history
from cmdb.model import Change, HistoryEntry
from cmdb.topology import CSR, Topology
from impact.spof import single_points_of_failure

if TYPE_CHECKING:
    from impact.audit import AuditData, Hit

__all__ = ["RULES"]


def missing_owner(data: AuditData) -> Iterator[Hit]:
    statuses, exempt = set(data.config.ownership.statuses), data.config.ownership.exempt
    for ci in data.cis:
        if ci.status in statuses and not ci.owner and not data.is_a(ci.ci_class, exempt):
            yield ci.id, None, f"{ci.status.value} CI without an owner"


def missing_support_group(data: AuditData) -> Iterator[Hit]:
    statuses, exempt = set(data.config.ownership.statuses), data.config.ownership.exempt
    for ci in data.cis:
        if ci.status in statuses and not ci.support_group and not data.is_a(ci.ci_class, exempt):
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
    for ci in data.cis:
        if data.is_a(ci.ci_class, spec.services) and not has[topo.index(ci.id)]:
            yield ci.id, None, "covered by no SLA (no covered_by to an agreement)"


def sla_without_target(data: AuditData) -> Iterator[Hit]:
    spec = data.config.sla
    for ci in data.cis:
        if data.is_a(ci.ci_class, spec.agreements):
            value = ci.attributes.get(spec.target)
            if not isinstance(value, int | float) or isinstance(value, bool):
                yield ci.id, None, f"no {spec.target}"


def critical_service_spof(data: AuditData) -> Iterator[Hit]:
    topo = data.topology
    floor = data.config.spof.min_criticality.rank
    for ci in data.cis:
        if data.category(ci.ci_class) != "service" or ci.criticality.rank < floor:
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
    for ci in data.cis:
        if ci.status not in statuses or data.category(ci.ci_class) not in wanted:
            continue
        if not reached[topo.index(ci.id)]:
            yield ci.id, None, "its failure reaches no service and no customer"


def _cis_of(entry: HistoryEntry) -> tuple[str, ...]:
    if entry.entity == "relationship":
        source, _, target = entry.entity_id.split("|")
        return (source, target)
    return (entry.entity_id,)


def _covered(entry: HistoryEntry, changes: list[Change]) -> bool:
    cis = set(_cis_of(entry))
    for c in changes:
        if c.window_start is None or c.window_end is None:
            continue
        if c.window_start <= entry.at <= c.window_end and cis & set(c.ci_ids):
            return True
    return False


def unauthorized_change(data: AuditData) -> Iterator[Hit]:
    spec = data.config.unauthorized_change
    actions = set(spec.actions)
    ignore = set(spec.ignore_fields)
    authorizing = set(spec.authorizing_statuses)
    changes = [c for c in data.changes if c.status in authorizing]
    for entity in ("ci", "relationship"):
        flt = HistoryFilter(
            entity=entity, since=data.since, until=data.now, actions=tuple(sorted(actions))
        )
        for entry in iter_history(data.store, flt):
            diff = diff_documents(entry.before, entry.after, ignore=ignore)
            if not diff or _covered(entry, changes):
                continue
            fields = ", ".join(c.path for c in diff[:4]) + (", ..." if len(diff) > 4 else "")
            record = f" naming {entry.change_id}" if entry.change_id else ""
            rel = entry.entity_id if entity == "relationship" else None
            yield (
                _cis_of(entry)[0],
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
