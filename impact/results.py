"""Typed, frozen results: what the store-level entry points return, the CLI renders and the
API returns as response models.

Assumptions: every result is a pydantic model with ``ConfigDict(frozen=True)``; its JSON form is
``model_dump(mode="json", by_alias=True)``, which :meth:`Result.to_json` returns, so the CLI's
``--format json`` and the API's response bodies are one shape. A CI's class is the field
``ci_class``, written ``class`` in JSON. Snapshot-level results that hold numpy arrays and build
their per-CI objects on demand (:class:`~impact.blast.BlastRadius`,
:class:`~impact.depends.Dependencies`) stay frozen dataclasses; the reports here are made from
them.

>>> AffectedCI(id="app", ci_class="application", state="down", path=("app", "db")).to_json()
{'id': 'app', 'class': 'application', 'state': 'down', 'path': ['app', 'db'], 'last_seen': None, 'stale': False}

The names mean one thing across every result (``docs/json.md``): ``services`` and
``customers`` are sorted lists of ids, ``assume_down`` the CIs taken as already out,
``store_version`` the store version a snapshot was read at (``version`` is only ever an
entity's own version), and times are ISO 8601 with an offset.
"""  # noqa: E501

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cmdb.enums import ImpactState

__all__ = [
    "AffectedCI",
    "AvailabilityPart",
    "AvailabilityReport",
    "BlastCounts",
    "BlastRadiusReport",
    "ContractRef",
    "Counts",
    "DependencyItem",
    "DependsOnReport",
    "Result",
    "RolledUpCI",
    "SLARef",
    "SLAVerdict",
    "SinglePointItem",
    "SpofReport",
    "SupplierRef",
    "WeakComponent",
]


class Result(BaseModel):
    """Base of every result: frozen, extra fields refused, ``class`` accepted for ``ci_class``."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=True
    )

    def to_json(self) -> dict[str, Any]:
        """The JSON form (the CLI's ``--format json``, the API's response body)."""
        return self.model_dump(mode="json", by_alias=True)


class AffectedCI(Result):
    """A CI in a blast radius: its state, its explanation path (this CI first, a failed CI
    last), when discovery last saw it (epoch seconds, None: never) and whether that is stale."""

    id: str
    ci_class: str = Field(alias="class")
    state: ImpactState
    path: tuple[str, ...]
    last_seen: datetime | None = None
    stale: bool = False


class RolledUpCI(Result):
    """A service or customer in a blast radius."""

    id: str
    ci_class: str = Field(alias="class")
    state: ImpactState


class Counts(Result):
    """How many CIs a failure lists per state, in all, and how many are services and
    customers."""

    down: int
    degraded: int
    at_risk: int
    total: int
    services: int
    customers: int


class BlastCounts(Counts):
    """:class:`Counts` and how many listed CIs are stale."""

    stale: int


class SLARef(Result):
    """An SLA (a CI of category ``agreement``) covering some CIs; ``availability_target`` is a
    fraction (None when the SLA has no numeric target)."""

    id: str
    name: str
    availability_target: float | None
    covers: tuple[str, ...]


class SLAVerdict(SLARef):
    """:class:`SLARef` and whether the designed availability meets it (None: no target)."""

    meets: bool | None


class ContractRef(Result):
    """An underpinning contract (a CI of category ``agreement`` that CIs other than services
    and customers are ``covered_by``): its supplier (the contract's ``supplied_by``), its
    targets (``availability_target`` a fraction; None when it sets none) and the CIs of the
    answer it covers (the first few, failing CIs first)."""

    id: str
    name: str
    supplier: str | None = None
    availability_target: float | None = None
    response_minutes: float | None = None
    resolution_hours: float | None = None
    covers: tuple[str, ...] = ()


class SupplierRef(Result):
    """Whom to call: a supplier of CIs in an impact answer (``supplied_by``) or of a contract
    covering them. ``failing`` are the failing (or changed, or suspected) CIs among them;
    ``cis`` the first few CIs it supplies, failing first, then in the answer's order, and
    ``total`` how many it supplies in all; ``contracts`` its contracts covering CIs of the
    answer. A contract without a recorded supplier is listed under ``id`` None."""

    id: str | None
    name: str
    contact: str | None = None
    failing: tuple[str, ...] = ()
    cis: tuple[str, ...] = ()
    total: int = 0
    contracts: tuple[ContractRef, ...] = ()


class BlastRadiusReport(Result):
    """:func:`impact.report.blast_radius_report`'s answer.

    ``affected`` lists CIs worst state first, nearest first (at most ``limit``); ``services``
    and ``customers`` are every listed CI of those categories, **sorted by id**; ``rollup``
    lists the same services then customers with their class and state in listing order (at most
    ``limit`` of each); ``suppliers`` whom to call for the failing and listed CIs
    (:class:`SupplierRef`); ``stale`` the listed CIs discovery has not seen for ``stale_days``, in
    listing order; ``slas`` the SLAs covering the listed services and customers, by id;
    ``store_version`` the store version of the snapshot; ``planned`` the CIs not in service yet
    (lifecycle planned or build) that the failure reaches, by id: never counted as affected."""

    failed: tuple[str, ...]
    assume_down: tuple[str, ...]
    affected: tuple[AffectedCI, ...]
    services: tuple[str, ...]
    customers: tuple[str, ...]
    counts: BlastCounts
    rollup: tuple[RolledUpCI, ...]
    store_version: int
    stale: tuple[str, ...]
    slas: tuple[SLARef, ...]
    planned: tuple[str, ...] = ()
    suppliers: tuple[SupplierRef, ...] = ()


class DependencyItem(Result):
    """A CI the queried CI needs, with a shortest path to it (the queried CI first)."""

    id: str
    ci_class: str = Field(alias="class")
    path: tuple[str, ...]


class DependsOnReport(Result):
    """:func:`impact.report.depends_on_report`'s answer: dependencies nearest first (at most
    ``limit``), ``total`` counting them all; ``suppliers`` the suppliers and contracts of the CI
    and all its dependencies (:class:`SupplierRef`)."""

    ci: str
    dependencies: tuple[DependencyItem, ...]
    total: int
    store_version: int
    suppliers: tuple[SupplierRef, ...] = ()


class SinglePointItem(Result):
    """A CI whose failure alone takes the service down; ``path`` runs from the service to it.
    ``kind``: ``physical`` (a device: registry categories compute, storage, network, enduser,
    facility) is a single point that an engineer can remove; ``group`` is a redundancy group,
    single only as a whole (its members are redundant); ``logical`` is software, data or a
    service on the path."""

    id: str
    ci_class: str = Field(alias="class")
    path: tuple[str, ...]
    kind: str = "physical"


class SpofReport(Result):
    """:func:`impact.report.spof_report`'s answer, nearest first; ``physical`` counts the
    items of kind ``physical``."""

    service: str
    store_version: int
    single_points_of_failure: tuple[SinglePointItem, ...]
    physical: int = 0


class WeakComponent(Result):
    """A component of a service with its own availability."""

    id: str
    availability: float


class AvailabilityPart(Result):
    """A component below 1.0: its own availability and its ``source`` (``ci``: the CI's own
    ``availability`` attribute; ``class``: the registry's class default), whether it is a single
    point counted in series, and the expected downtime per year of the service it costs."""

    id: str
    ci_class: str = Field(alias="class")
    availability: float
    source: str
    in_series: bool
    cost_minutes: float


class AvailabilityReport(Result):
    """:func:`impact.report.availability_report`'s answer (see
    :func:`impact.availability.designed_availability`); ``meets_slas`` is None when no SLA
    with a target covers the service. ``single_points`` counts the service's single points of
    failure (the service itself not included), as ``cmdb impact spof`` lists them; ``parts``
    are the components below 1.0, costliest first; ``costliest`` the first of them."""

    service: str
    availability: float
    annual_downtime_minutes: float
    components: int
    single_points: int
    cycles_broken: int
    weakest: tuple[WeakComponent, ...]
    store_version: int
    slas: tuple[SLAVerdict, ...]
    meets_slas: bool | None
    parts: tuple[AvailabilityPart, ...] = ()
    costliest: str | None = None
