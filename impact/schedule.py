"""When a change may run: agreed maintenance windows, service hours and freeze periods, each
read in local time.

Assumptions: a service's own ``timezone`` attribute wins, else the zone passed in (the risk
weights' or the CMDB's). A change fits when its whole window lies inside the maintenance
windows of every affected service that has one (else the default window). It meets a service's
hours when any part of it falls inside them (``service_hours``: ``7x24``, ``business hours``
or a window spec) outside that service's own agreed window. Freeze periods are whole local days
(:func:`impact.collisions.parse_freeze`), CMDB-wide or a service's ``freeze`` attribute.
Specs are parsed by :mod:`impact.collisions`.

>>> from datetime import UTC, datetime
>>> from cmdb.model import CI
>>> svc = CI(id="svc", ci_class="business_service", name="Pay",
...          attributes={"maintenance_window": "sun 00:00-06:00", "timezone": "Asia/Shanghai"})
>>> window_fits({"svc": svc}, datetime(2026, 1, 10, 17, tzinfo=UTC),
...             datetime(2026, 1, 10, 19, tzinfo=UTC), "", "UTC")
(True, 'inside the window of svc')
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from cmdb.errors import ValidationError
from cmdb.model import CI
from impact.collisions import (
    freeze_overlaps,
    in_maintenance_window,
    overlaps_windows,
    parse_service_hours,
)
from impact.window import FailureImpact

__all__ = ["freezes_met", "service_hours_met", "window_fits"]


def _tz(ci: CI | None, default: str) -> str:
    """A service's own ``timezone`` attribute, else ``default`` (the weights' or the CMDB's)."""
    tz = ci.attributes.get("timezone") if ci is not None else None
    return tz if isinstance(tz, str) and tz.strip() else default


def window_fits(
    cis: Mapping[str, CI],
    start: datetime,
    end: datetime,
    default_window: str,
    tz: str,
) -> tuple[bool, str]:
    """Whether ``[start, end)`` fits the maintenance windows that apply to the services
    ``cis`` (each read in its own time zone, else ``tz``), and which."""
    own = {}
    for svc, ci in sorted(cis.items()):
        spec = ci.attributes.get("maintenance_window")
        if isinstance(spec, str) and spec.strip():
            own[svc] = spec
    if not own:
        if not default_window:
            return True, "no maintenance window defined"
        fits = in_maintenance_window(start, end, default_window, timezone=tz)
        where = "inside" if fits else "outside"
        return fits, f"{where} the default window {default_window} ({tz})"
    misses = [
        s
        for s, spec in own.items()
        if not in_maintenance_window(start, end, spec, timezone=_tz(cis[s], tz))
    ]
    if misses:
        return False, "outside the window of " + ", ".join(
            f"{s} ({own[s]}, {_tz(cis[s], tz)})" for s in misses
        )
    return True, "inside the window of " + ", ".join(own)


def service_hours_met(
    fi: FailureImpact,
    cis: Mapping[str, CI],
    start: datetime,
    end: datetime,
    tz: str,
    state_factor: Mapping[str, float],
) -> tuple[float, str]:
    """The services the change affects inside their service hours (and outside their own
    agreed maintenance window): the worst state factor among them, and who they are."""
    hits, value, unknown = [], 0.0, []
    for s in fi.services:
        ci = cis.get(s.id)
        raw = ci.attributes.get("service_hours") if ci is not None else None
        if not isinstance(raw, str):
            continue
        zone_name = _tz(ci, tz)
        try:
            hours = parse_service_hours(raw)
        except ValidationError:
            unknown.append(f"{s.id} ({raw!r})")
            continue
        own = ci.attributes.get("maintenance_window") if ci is not None else None
        agreed = (
            isinstance(own, str)
            and own.strip()
            and in_maintenance_window(start, end, own, timezone=zone_name)
        )
        if hours and not agreed and overlaps_windows(start, end, hours, timezone=zone_name):
            hits.append(f"{s.id} {s.state.value} ({raw}, {zone_name})")
            value = max(value, state_factor[s.state.value])
    detail = (
        "inside the service hours of "
        + ", ".join(hits[:4])
        + (f" and {len(hits) - 4} more" if len(hits) > 4 else "")
        if hits
        else "outside the service hours of every affected service"
    )
    if unknown:
        detail += "; service hours not understood: " + ", ".join(unknown)
    return value, detail


def freezes_met(
    cis: Mapping[str, CI], start: datetime, end: datetime, freeze: str, tz: str
) -> list[str]:
    """The freeze periods the window meets: the CMDB-wide ones of the weights, then each
    affected service's own ``freeze`` attribute."""
    hits = [f"freeze {h}" for h in freeze_overlaps(start, end, freeze, timezone=tz)]
    for svc, ci in sorted(cis.items()):
        spec = ci.attributes.get("freeze")
        if isinstance(spec, str) and spec.strip():
            try:
                found = freeze_overlaps(start, end, spec, timezone=_tz(ci, tz))
            except ValidationError:
                continue
            hits.extend(f"{svc} freeze {h}" for h in found)
    return hits
