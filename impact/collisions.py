"""Change windows in time: collisions between changes, and agreed maintenance windows.

Assumptions:

- Two changes *overlap* when their windows ``[start, end)`` intersect; a change without a window
  never overlaps. Only changes still to be done (``requested`` or ``approved``) are considered.
- Each change is treated as the failure of its CIs for the length of its window. Two
  overlapping changes *collide* when their impact sets (the changed CIs plus their blast radius)
  intersect.
- The case no single change shows: the combined failure (a blast radius with both changes' CIs)
  may take down a CI that neither change takes down alone, typically a k-of-n group when each
  change removes one member. Those CIs are reported as ``down_together``, with the groups and
  services among them picked out.
- ``assume_down`` (CIs already out, e.g. open incidents) applies to every blast radius.
- A maintenance window spec reads ``"sat,sun 00:00-06:00; mon-fri 22:00-02:00"``: days
  (``mon``..``sun``, ranges, ``daily``) then a local time range; an end at or before the start
  wraps past midnight. A change fits when its whole window lies inside the union of the spec's
  windows, read in the spec's timezone.

>>> from datetime import UTC, datetime
>>> from cmdb.model import Change
>>> from cmdb.topology import Topology
>>> t = Topology.build(version=1, class_names=("application", "cluster", "switch"),
...     rel_type_names=("depends_on", "member_of"), propagation=("to_source", "membership"),
...     ids=["app", "pair", "sw-a", "sw-b"], class_code=[0, 1, 2, 2],
...     is_group=[False, True, False, False], min_required=[0, 1, 0, 0],
...     src=[0, 2, 3], dst=[1, 1, 1], rtype=[0, 1, 1])
>>> at = lambda h: datetime(2026, 1, 3, h, tzinfo=UTC)
>>> other = Change(id="c2", ci_ids=["sw-b"], window_start=at(1), window_end=at(3))
>>> [c.down_together for c in change_collisions(t, ["sw-a"], at(2), at(4), [other])]
[('app', 'pair')]
>>> in_maintenance_window(at(1), at(5), "sat,sun 00:00-06:00"), at(1).strftime("%a")
(True, 'Sat')
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from pydantic import computed_field

from cmdb.enums import ChangeStatus
from cmdb.errors import ValidationError
from cmdb.model import Change
from cmdb.topology import Topology
from impact.blast import BlastRadius, blast_radius
from impact.propagation import AGREEMENT, DOWN, prepare
from impact.results import Result

__all__ = [
    "Collision",
    "change_collisions",
    "freeze_overlaps",
    "in_maintenance_window",
    "overlaps_windows",
    "parse_freeze",
    "parse_service_hours",
    "parse_windows",
]

PENDING = (ChangeStatus.REQUESTED, ChangeStatus.APPROVED)


class Collision(Result):
    """Another change that overlaps this one in time and whose impact meets this one's.

    ``shared`` counts the CIs in both impact sets (``shared_sample``: the first few ids);
    ``down_together`` lists the CIs that the two changes take down together but neither alone,
    with ``groups``, ``services`` and ``customers`` the redundancy groups, services and
    customers among them, and ``slas`` the agreements covering those services and customers:
    the pair's risk read as one change.
    """

    change_id: str
    title: str
    status: str
    overlap_start: datetime
    overlap_end: datetime
    shared: int
    shared_sample: tuple[str, ...]
    down_together: tuple[str, ...]
    groups: tuple[str, ...]
    services: tuple[str, ...]
    customers: tuple[str, ...] = ()
    slas: tuple[str, ...] = ()

    @computed_field  # type: ignore[prop-decorator]
    @property
    def combined_outage(self) -> bool:
        """Whether the two changes take down together something neither does alone."""
        return bool(self.down_together)


def _reach(br: BlastRadius, topo: Topology) -> np.ndarray:
    failed = np.asarray([topo.index(c) for c in br.failed], dtype=np.int32)
    return np.union1d(failed, br.nodes)


def _down(br: BlastRadius, topo: Topology) -> set[int]:
    out = {topo.index(c) for c in br.failed}
    out.update(br.nodes[br.codes == DOWN].tolist())
    return out


def change_collisions(
    topo: Topology,
    ci_ids: Iterable[str],
    window_start: datetime,
    window_end: datetime,
    others: Iterable[Change],
    *,
    assume_down: Iterable[str] = (),
    exclude: str | None = None,
) -> tuple[Collision, ...]:
    """The changes among ``others`` that collide with a change of ``ci_ids`` in the window
    ``[window_start, window_end)``; ``exclude`` names this change's own id, if it has one.
    Changes on CIs missing from ``topo`` (retired since) are skipped; CIs not in service
    (planned) are never among what goes down together."""
    ours = [c for c in dict.fromkeys(ci_ids)]
    assumed = [c for c in dict.fromkeys(assume_down) if c not in ours]
    br_ours = blast_radius(topo, ours, assume_down=assumed)
    reach_ours, down_ours = _reach(br_ours, topo), _down(br_ours, topo)
    p = prepare(topo)
    service, customer = p.service_mask, p.customer_mask
    not_live = set(np.flatnonzero(~topo.in_service).tolist())
    found = []
    for other in others:
        if other.id == exclude or other.status not in PENDING:
            continue
        if other.window_start is None or other.window_end is None:
            continue
        start, end = max(window_start, other.window_start), min(window_end, other.window_end)
        theirs = [c for c in other.ci_ids if c in topo]
        if start >= end or not theirs:
            continue
        base = [c for c in assumed if c not in theirs]
        br_theirs = blast_radius(topo, theirs, assume_down=base)
        shared = np.intersect1d(reach_ours, _reach(br_theirs, topo))
        if shared.size == 0:
            continue
        both = blast_radius(topo, [*ours, *theirs], assume_down=[c for c in base if c not in ours])
        together = _down(both, topo) - down_ours - _down(br_theirs, topo) - not_live
        ids = sorted(topo.ids[i] for i in together)
        found.append(
            Collision(
                change_id=other.id,
                title=other.title,
                status=other.status.value,
                overlap_start=start,
                overlap_end=end,
                shared=int(shared.size),
                shared_sample=tuple(topo.ids[i] for i in shared[:10].tolist()),
                down_together=tuple(ids),
                groups=tuple(c for c in ids if topo.is_group[topo.index(c)]),
                services=tuple(c for c in ids if service[topo.index(c)]),
                customers=tuple(c for c in ids if customer[topo.index(c)]),
                slas=_slas(topo, [i for i in together if service[i] or customer[i]]),
            )
        )
    return tuple(sorted(found, key=lambda c: (not c.combined_outage, c.change_id)))


def _slas(topo: Topology, nodes: list[int]) -> tuple[str, ...]:
    """Ids of the agreements (category ``agreement``) that ``nodes`` are ``covered_by``."""
    if not nodes:
        return ()
    wanted = np.zeros(topo.n, dtype=bool)
    wanted[nodes] = True
    sel = (
        np.isin(topo.rtype, topo.type_codes(["covered_by"]))
        & wanted[topo.src]
        & topo.category_mask(AGREEMENT)[topo.dst]
    )
    return tuple(sorted({topo.ids[i] for i in topo.dst[sel].tolist()}))


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPEC = re.compile(r"^\s*([a-z,\-]+)\s+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def _days(text: str) -> set[int]:
    out: set[int] = set()
    for part in text.split(","):
        if part == "daily":
            out.update(range(7))
            continue
        lo, _, hi = part.partition("-")
        if lo not in _DAYS or (hi and hi not in _DAYS):
            raise ValueError(part)
        a, b = _DAYS.index(lo), _DAYS.index(hi or lo)
        out.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(b + 1)])
    return out


def parse_windows(
    spec: str, *, field: str = "maintenance_window"
) -> tuple[tuple[frozenset[int], time, time], ...]:
    """``"sat,sun 00:00-06:00; mon 22:00-02:00"`` as (weekdays, start, end) triples (Monday 0).

    >>> parse_windows("fri-mon 23:00-01:30")[0][0]
    frozenset({0, 4, 5, 6})
    """
    out = []
    for part in filter(str.strip, spec.lower().split(";")):
        m = _SPEC.match(part)
        try:
            if not m:
                raise ValueError(part)
            h1, m1, h2, m2 = (int(x) for x in m.groups()[1:])
            out.append((frozenset(_days(m.group(1))), time(h1, m1), time(h2, m2)))
        except ValueError:
            raise ValidationError(
                f"bad maintenance window {part.strip()!r}: expected e.g. 'sat,sun 00:00-06:00'",
                field=field,
            ) from None
    return tuple(out)


def zone(name: str) -> ZoneInfo:
    """The timezone ``name``; :class:`ValidationError` for an unknown one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"unknown timezone {name!r}", field="timezone") from None


def in_maintenance_window(
    start: datetime, end: datetime, spec: str, *, timezone: str = "UTC"
) -> bool:
    """Whether ``[start, end)`` lies wholly inside the windows of ``spec`` (local time in
    ``timezone``). An empty spec allows any time."""
    windows = parse_windows(spec)
    if not windows:
        return True
    tz = zone(timezone)
    first, last = start.astimezone(tz).date(), end.astimezone(tz).date()
    spans = []
    day = first - timedelta(days=1)
    while day <= last:
        for days, t0, t1 in windows:
            if day.weekday() in days:
                a = datetime.combine(day, t0, tz)
                b = datetime.combine(day + timedelta(days=1) if t1 <= t0 else day, t1, tz)
                spans.append((a, b))
        day += timedelta(days=1)
    covered = start
    for a, b in sorted(spans):
        if a <= covered < b:
            covered = b
        if covered >= end:
            return True
    return False


def _spans(
    start: datetime, end: datetime, spec: str, tz: ZoneInfo
) -> list[tuple[datetime, datetime]]:
    """The windows of ``spec`` (local time in ``tz``) that could meet ``[start, end)``."""
    spans = []
    first, last = start.astimezone(tz).date(), end.astimezone(tz).date()
    day = first - timedelta(days=1)
    while day <= last:
        for days, t0, t1 in parse_windows(spec):
            if day.weekday() in days:
                a = datetime.combine(day, t0, tz)
                b = datetime.combine(day + timedelta(days=1) if t1 <= t0 else day, t1, tz)
                spans.append((a, b))
        day += timedelta(days=1)
    return spans


_ALWAYS = ("7x24", "24x7", "24/7", "7*24", "24*7", "always")


def parse_service_hours(text: str) -> str | None:
    """Service hours as a window spec: ``"7x24"`` (or ``24x7``) is every day all day,
    ``"business hours"`` is ``mon-fri 08:00-18:00``, anything else must be a window spec
    (:func:`parse_windows`, case ignored). None when empty.

    >>> parse_service_hours("7x24"), parse_service_hours("Mon-Fri 08:00-18:00")
    ('daily 00:00-00:00', 'mon-fri 08:00-18:00')
    """
    text = text.strip().lower()
    if not text:
        return None
    if text in _ALWAYS:
        return "daily 00:00-00:00"
    if text == "business hours":
        return "mon-fri 08:00-18:00"
    parse_windows(text, field="service_hours")
    return text


def overlaps_windows(start: datetime, end: datetime, spec: str, *, timezone: str = "UTC") -> bool:
    """Whether ``[start, end)`` meets any window of ``spec`` (local time in ``timezone``).

    >>> from datetime import UTC
    >>> at = lambda h: datetime(2026, 1, 7, h, tzinfo=UTC)  # a Wednesday
    >>> overlaps_windows(at(22), at(23), "mon-fri 08:00-18:00", timezone="Asia/Shanghai")
    False
    >>> overlaps_windows(at(1), at(2), "mon-fri 08:00-18:00", timezone="Asia/Shanghai")
    True
    """
    return any(a < end and start < b for a, b in _spans(start, end, spec, zone(timezone)))


def parse_freeze(text: str, *, field: str = "freeze") -> tuple[tuple[str, str, str], ...]:
    """``"2026-01-25..2026-02-05 Spring Festival; 2026-03-31 quarter end"`` as (first day,
    last day, reason) triples, days inclusive (ISO dates).

    >>> parse_freeze("2026-01-25..2026-02-05 Spring Festival")
    (('2026-01-25', '2026-02-05', 'Spring Festival'),)
    """
    out = []
    for part in filter(str.strip, text.split(";")):
        m = re.match(r"^\s*(\d{4}-\d{2}-\d{2})(?:\.\.(\d{4}-\d{2}-\d{2}))?\s*(.*)$", part)
        try:
            if not m:
                raise ValueError(part)
            first, last = m.group(1), m.group(2) or m.group(1)
            if date.fromisoformat(last) < date.fromisoformat(first):
                raise ValueError(part)
        except ValueError:
            raise ValidationError(
                f"bad freeze period {part.strip()!r}: expected e.g. '2026-01-25..2026-02-05 why'",
                field=field,
            ) from None
        out.append((first, last, m.group(3).strip()))
    return tuple(out)


def freeze_overlaps(
    start: datetime, end: datetime, text: str, *, timezone: str = "UTC"
) -> tuple[str, ...]:
    """The freeze periods of ``text`` (:func:`parse_freeze`, days in ``timezone``) that
    ``[start, end)`` meets, each as ``"first..last reason"``."""
    tz = zone(timezone)
    hits = []
    for first, last, why in parse_freeze(text):
        a = datetime.combine(date.fromisoformat(first), time(0), tz)
        b = datetime.combine(date.fromisoformat(last) + timedelta(days=1), time(0), tz)
        if a < end and start < b:
            hits.append(f"{first}..{last}" + (f" {why}" if why else ""))
    return tuple(hits)
