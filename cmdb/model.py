"""The domain model: configuration items, relationships, ITSM records and history entries.

Assumptions: every timestamp is timezone-aware UTC; CI ids are stable strings chosen by the user
or the discovery source; a new ITSM record may leave its id to the store (``id=None``), which
allocates it inside the write transaction. The registry decides which classes and relationship
types exist, and :mod:`cmdb.validation` checks text and sizes on every write, so these models
only check shape (they also read back whatever an older store holds).

>>> ci = CI(id="srv-01", ci_class="physical_server", name="Core banking DB host 1")
>>> ci.status.value, ci.criticality.value
('live', 'medium')
>>> Relationship(source="app-1", type="runs_on", target="srv-01").key
('app-1', 'runs_on', 'srv-01')
"""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from cmdb.enums import (
    ChangeStatus,
    ChangeType,
    Criticality,
    HistoryAction,
    HistoryEntity,
    IncidentStatus,
    Lifecycle,
    ReleaseStatus,
    ReleaseType,
    Role,
    Urgency,
)

__all__ = [
    "CI",
    "MAX_CI_BYTES",
    "MAX_VALUE_BYTES",
    "RECORD_PREFIX",
    "ApiKey",
    "Baseline",
    "Batch",
    "BatchResult",
    "Change",
    "DiscoveryRun",
    "Expected",
    "HistoryEntry",
    "Identifiers",
    "Incident",
    "Problem",
    "Record",
    "RelKey",
    "Relationship",
    "Release",
    "merge_last_seen",
    "utcnow",
]

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@/\-]{0,199}$"
MAX_VALUE_BYTES = 64 * 1024
"""The largest attribute value, as JSON: a value is a fact about a CI, not a document store."""
MAX_CI_BYTES = 1024 * 1024
"""The largest CI document, as JSON, attributes and identifiers included."""
RECORD_PREFIX = {
    "incident": "INC",
    "problem": "PRB",
    "change": "CHG",
    "discovery_run": "RUN",
    "baseline": "BL",
    "api_key": "KEY",
    "release": "REL",
}
"""The prefix of the ids that a store allocates to new records: ``INC-000042``."""
_MAC_RE = re.compile(r"^[0-9a-f]{2}([:-]?[0-9a-f]{2}){5}$")


def utcnow() -> datetime:
    """The current time in UTC, to the microsecond."""
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC) if value is not None else None


def _ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise ValueError(f"'{value}' is not an IP address") from None


_IP_SCHEMA = {"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}
_MAC_SCHEMA = {"type": "string", "pattern": r"^[0-9A-Fa-f]{2}([:-]?[0-9A-Fa-f]{2}){5}$"}
"""What the OpenAPI says of identifiers' addresses (the validators above decide)."""


def _mac(value: str) -> str:
    v = value.strip().lower()
    if not _MAC_RE.match(v):
        raise ValueError(f"'{value}' is not a MAC address")
    hexes = re.sub(r"[^0-9a-f]", "", v)
    return ":".join(hexes[i : i + 2] for i in range(0, 12, 2))


CIId = Annotated[str, Field(pattern=ID_PATTERN)]
AwareDatetime = Annotated[datetime, AfterValidator(_aware)]
RelKey = tuple[str, str, str]


class _Model(BaseModel):
    # defer_build: a model's validator is built when first used, so a command that reads a
    # CI does not build those of batches, history entries and every record kind at import
    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, validate_assignment=False, defer_build=True
    )


class Identifiers(_Model):
    """The keys that discovery sources use to recognise a CI (reconciliation matches on them)."""

    serial_number: str | None = None
    hostnames: list[str] = Field(default_factory=list)
    fqdn: str | None = None
    ips: list[Annotated[str, AfterValidator(_ip), WithJsonSchema(_IP_SCHEMA)]] = Field(
        default_factory=list
    )
    macs: list[Annotated[str, AfterValidator(_mac), WithJsonSchema(_MAC_SCHEMA)]] = Field(
        default_factory=list
    )
    cloud_ids: list[str] = Field(default_factory=list)
    k8s_uids: list[str] = Field(default_factory=list)
    keys: dict[str, str] = Field(default_factory=dict)
    """Named keys that reconciliation derives and indexes (kind -> value): composite
    identification keys (``namespace+kind+name``) and, per discovery source, the scope it saw
    the CI in (``seen_in:kubernetes``). See :mod:`cmdb.reconcile_match`."""

    @field_validator("hostnames")
    @classmethod
    def _lower_hosts(cls, v: list[str]) -> list[str]:
        return [h.strip().lower() for h in v]

    @field_validator("fqdn")
    @classmethod
    def _lower_fqdn(cls, v: str | None) -> str | None:
        return v.strip().lower() if v else v

    def values(self) -> list[str]:
        """Every identifier value, for look-up indexes."""
        return [value for _, value in self.items()]

    def items(self) -> list[tuple[str, str]]:
        """Every identifier as ``(kind, value)``; the kind is the field name in the singular
        (``serial_number``, ``fqdn``, ``hostname``, ``ip``, ``mac``, ``cloud_id``, ``k8s_uid``).

        >>> Identifiers(fqdn="DB1.bank.local", ips=["10.0.0.1"]).items()
        [('fqdn', 'db1.bank.local'), ('ip', '10.0.0.1')]
        """
        out = [(k, v) for k, v in (("serial_number", self.serial_number), ("fqdn", self.fqdn)) if v]
        for kind, many in (
            ("hostname", self.hostnames),
            ("ip", self.ips),
            ("mac", self.macs),
            ("cloud_id", self.cloud_ids),
            ("k8s_uid", self.k8s_uids),
        ):
            out.extend((kind, v) for v in many)
        out.extend((kind, v) for kind, v in self.keys.items() if v)
        return out

    def index_rows(self) -> list[tuple[str, str]]:
        """``(kind, normalised value)`` pairs for a store's identifier index, without repeats."""
        return sorted({(kind, value.strip().lower()) for kind, value in self.items()})


class CI(_Model):
    """A configuration item.

    ``min_required`` (k of n) is set on redundancy groups only: classes the registry marks
    ``group: true``. ``last_seen`` maps a discovery source to when it last saw the CI, and
    ``provenance`` maps an attribute to the source that last set it (filled by reconciliation).
    ``stale_since`` maps a discovery source to when it marked the CI stale (it stopped seeing it
    in a complete run); unlike ``last_seen`` it is content: marking is a change, with history.
    The store owns ``created_at``, ``updated_at`` and ``version``.
    """

    id: CIId
    ci_class: str = Field(alias="class", min_length=1)
    name: str = Field(min_length=1, max_length=300)
    status: Lifecycle = Lifecycle.LIVE
    criticality: Criticality = Criticality.MEDIUM
    owner: str | None = None
    support_group: str | None = None
    description: str | None = None
    identifiers: Identifiers = Field(default_factory=Identifiers)
    attributes: dict[str, Any] = Field(default_factory=dict)
    min_required: int | None = Field(default=None, ge=1)
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None
    last_seen: dict[str, AwareDatetime] = Field(default_factory=dict)
    provenance: dict[str, str] = Field(default_factory=dict)
    stale_since: dict[str, AwareDatetime] = Field(default_factory=dict)
    version: int = 0

    def content(self) -> dict[str, Any]:
        """The user-owned fields, for change detection (no timestamps or version)."""
        return self.model_dump(
            mode="json",
            by_alias=True,
            exclude={"created_at", "updated_at", "version", "last_seen", "provenance"},
        )

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)

    def last_seen_epoch(self) -> float | None:
        """When any discovery source last saw this CI, in epoch seconds (None: never)."""
        return max((t.timestamp() for t in self.last_seen.values()), default=None)

    def topology_fields(self) -> tuple[Any, ...]:
        """What a topology snapshot takes from this CI: a change to anything else (name,
        owner, other attributes) leaves the snapshot as it is."""
        return (
            self.ci_class,
            self.status,
            self.criticality,
            self.min_required,
            self.own_availability(),
            self.last_seen_epoch(),
        )

    def own_availability(self) -> float | None:
        """The ``availability`` attribute when it is a number (it overrides the class's)."""
        value = self.attributes.get("availability")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        return None


def merge_last_seen(old: dict[str, datetime], new: dict[str, datetime]) -> dict[str, datetime]:
    """Per source, the later of two last-seen maps (a source never moves back in time)."""
    merged = dict(old)
    for source, at in new.items():
        if source not in merged or at > merged[source]:
            merged[source] = at
    return merged


class Relationship(_Model):
    """A typed, directed relationship ``source -[type]-> target``; its key is the triple.
    ``last_seen`` and ``stale_since`` work per discovery source as on :class:`CI`."""

    source: CIId
    type: str = Field(min_length=1)
    target: CIId
    attributes: dict[str, Any] = Field(default_factory=dict)
    status: Literal["active", "retired"] = "active"
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None
    last_seen: dict[str, AwareDatetime] = Field(default_factory=dict)
    stale_since: dict[str, AwareDatetime] = Field(default_factory=dict)
    version: int = 0

    @model_validator(mode="after")
    def _no_self_loop(self) -> Relationship:
        if self.source == self.target:
            raise ValueError(f"a relationship cannot join '{self.source}' to itself")
        return self

    @property
    def key(self) -> RelKey:
        return (self.source, self.type, self.target)

    @property
    def id(self) -> str:
        return f"{self.source}|{self.type}|{self.target}"

    def content(self) -> dict[str, Any]:
        return self.model_dump(
            mode="json", exclude={"created_at", "updated_at", "version", "last_seen"}
        )

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class Record(_Model):
    """Common shape of ITSM records linked to CIs. ``id=None`` asks the store to allocate one
    (``INC-000042``, see :data:`RECORD_PREFIX`) when the record is written."""

    id: CIId | None = None
    title: str = ""
    ci_ids: list[CIId] = Field(default_factory=list)
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None
    version: int = 0

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class Incident(Record):
    kind: Literal["incident"] = "incident"
    urgency: Urgency = Urgency.MEDIUM
    status: IncidentStatus = IncidentStatus.OPEN
    opened_at: AwareDatetime = Field(default_factory=utcnow)
    resolved_at: AwareDatetime | None = None
    priority: int | None = Field(default=None, ge=1, le=5)
    # computed when opened (cmdb.workflows.incidents): the impact level, the tightest SLA
    # covering what it takes down or degrades, and when a response and a resolution are due
    impact: Literal["high", "medium", "low"] | None = None
    sla_id: CIId | None = None
    response_due: AwareDatetime | None = None
    resolution_due: AwareDatetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status in (IncidentStatus.OPEN, IncidentStatus.IN_PROGRESS)


class Problem(Record):
    kind: Literal["problem"] = "problem"
    incident_ids: list[CIId] = Field(default_factory=list)
    suspected_root: CIId | None = None
    confirmed_root: CIId | None = None
    known_error: bool = False
    status: Literal["open", "known_error", "resolved", "closed"] = "open"


class Change(Record):
    kind: Literal["change"] = "change"
    type: ChangeType = ChangeType.NORMAL
    status: ChangeStatus = ChangeStatus.REQUESTED
    window_start: AwareDatetime | None = None
    window_end: AwareDatetime | None = None
    outcome: str | None = None

    @model_validator(mode="after")
    def _window_order(self) -> Change:
        if self.window_start and self.window_end and self.window_end <= self.window_start:
            raise ValueError("window_end must be after window_start")
        return self


class DiscoveryRun(Record):
    """One real run of a discovery scanner through the reconciler (``RUN-000042``): what it
    covered, whether it completed, what it changed. The history entries a run causes carry
    its id as ``change_id`` (actor ``discovery:<source>``). ``status`` is ``running`` until
    its batch is applied (``applied``) or refused (``failed``, with the reason in ``errors``)."""

    kind: Literal["discovery_run"] = "discovery_run"
    source: str
    scope: list[str] = Field(default_factory=list)
    complete: bool = False
    status: Literal["running", "applied", "failed"] = "running"
    started_at: AwareDatetime = Field(default_factory=utcnow)
    finished_at: AwareDatetime | None = None
    counts: dict[str, int] = Field(default_factory=dict)
    errors: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    launched_by: str | None = None


class Baseline(Record):
    """A named configuration baseline (``BL-000042``): the CIs and relationships as they were
    at ``taken_at``. Its content is not copied: history is append-only and holds every
    state, so the baseline is rebuilt from it (:mod:`cmdb.asof`) whenever it is compared."""

    kind: Literal["baseline"] = "baseline"
    name: str = Field(min_length=1, max_length=200)
    taken_at: AwareDatetime = Field(default_factory=utcnow)
    store_version: int = 0
    counts: dict[str, int] = Field(default_factory=dict)


class ApiKey(Record):
    """An API key (``KEY-000042``): its name, role and expiry, and the SHA-256 of its secret.
    The secret itself is shown once, when the key is created (:mod:`cmdb.apikeys`), and never
    stored; a revoked key stays, for the history, with ``revoked_at`` set."""

    kind: Literal["api_key"] = "api_key"
    name: str = Field(min_length=1, max_length=200)
    role: Role
    secret_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    expires_at: AwareDatetime | None = None
    revoked_at: AwareDatetime | None = None


class Release(Record):
    """A release (``REL-000042``): changes deployed together, assessed as one
    (:mod:`cmdb.workflows.releases`). ``ci_ids`` is the union of its changes' CIs (so the
    release is found by any of them); its window is its changes' (from the earliest start to
    the latest end) unless one was given. An ``emergency`` release follows the emergency
    policy (``cmdb/workflows/release_policy.yaml``)."""

    kind: Literal["release"] = "release"
    change_ids: list[CIId] = Field(default_factory=list)
    type: ReleaseType = ReleaseType.NORMAL
    status: ReleaseStatus = ReleaseStatus.PLANNED
    window_start: AwareDatetime | None = None
    window_end: AwareDatetime | None = None

    @model_validator(mode="after")
    def _window_order(self) -> Release:
        if self.window_start and self.window_end and self.window_end <= self.window_start:
            raise ValueError("window_end must be after window_start")
        return self


AnyRecord = Annotated[
    Incident | Problem | Change | DiscoveryRun | Baseline | ApiKey | Release,
    Field(discriminator="kind"),
]


class HistoryEntry(_Model):
    """One immutable line of history: who changed what, when, from what to what."""

    seq: int
    at: AwareDatetime
    actor: str
    change_id: str | None = None
    batch_id: int
    entity: HistoryEntity
    entity_id: str
    action: HistoryAction
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


class Expected(_Model):
    """Optimistic concurrency: the version a writer read, which the store checks inside the
    batch's transaction. ``version=0`` means the entity must not exist yet (create only).
    A relationship's ``id`` is ``source|type|target``.

    >>> Expected(entity="ci", id="srv-01", version=3).etag
    'ci:srv-01:3'
    """

    entity: Literal["ci", "relationship", "record"]
    id: str = Field(min_length=1)
    version: int = Field(ge=0)

    @property
    def etag(self) -> str:
        return f"{self.entity}:{self.id}:{self.version}"


class Batch(_Model):
    """A set of writes that a store applies completely or not at all.

    Order inside a store: expectations are checked first, then CIs, relationships,
    retirements and records are written; so a relationship may point at a CI created in the
    same batch. A stale or violated :class:`Expected` raises
    :class:`~cmdb.errors.ConflictError` and nothing is written.
    """

    cis: list[CI] = Field(default_factory=list)
    relationships: list[Relationship] = Field(default_factory=list)
    retire_cis: list[CIId] = Field(default_factory=list)
    retire_relationships: list[RelKey] = Field(default_factory=list)
    records: list[AnyRecord] = Field(default_factory=list)
    expected: list[Expected] = Field(default_factory=list)

    def __len__(self) -> int:
        return (
            len(self.cis)
            + len(self.relationships)
            + len(self.retire_cis)
            + len(self.retire_relationships)
            + len(self.records)
        )


class BatchResult(_Model):
    """What a batch did; ``unchanged`` counts upserts equal to what was stored; ``allocated``
    lists the ids the store gave to new records (``id=None``), in batch order."""

    batch_id: int
    created: int = 0
    updated: int = 0
    retired: int = 0
    unchanged: int = 0
    store_version: int = 0
    allocated: list[str] = Field(default_factory=list)

    def tally(self, action: HistoryAction) -> None:
        """Count one history entry of ``action``."""
        if action is HistoryAction.CREATE:
            self.created += 1
        elif action is HistoryAction.UPDATE:
            self.updated += 1
        else:
            self.retired += 1
