"""Every enumeration of the project, in one place.

All are ``StrEnum`` so that they serialise as their plain value in JSON, SQLite and Cypher
parameters.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

__all__ = [
    "ChangeStatus",
    "ChangeType",
    "Criticality",
    "HistoryAction",
    "HistoryEntity",
    "ImpactState",
    "IncidentStatus",
    "Lifecycle",
    "Propagation",
    "RecordKind",
    "ReleaseStatus",
    "ReleaseType",
    "Role",
    "Urgency",
]


class Lifecycle(StrEnum):
    """Lifecycle status of a CI (ITIL: planned → build → live ⇄ maintenance → retired)."""

    PLANNED = "planned"
    BUILD = "build"
    LIVE = "live"
    MAINTENANCE = "maintenance"
    RETIRED = "retired"


class Criticality(StrEnum):
    """Business criticality of a CI; ``rank`` orders them for scoring."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _CRIT_RANK[self]


_CRIT_RANK = {
    Criticality.LOW: 1,
    Criticality.MEDIUM: 2,
    Criticality.HIGH: 3,
    Criticality.CRITICAL: 4,
}


class Propagation(StrEnum):
    """How a relationship type carries impact.

    ``to_source``: a failure of the target impacts the source (``app depends_on db``).
    ``to_target``: a failure of the source impacts the target (``app provides service``).
    ``membership``: the source is a member of the redundancy group named by the target.
    ``soft``: like ``to_source``, but the source is only *degraded* when the target is down
    (a desktop ``accesses`` an application: the desktop works, its user cannot).
    ``none``: no impact travels along it (``located_in``, ``supported_by``).
    """

    TO_SOURCE = "to_source"
    SOFT = "soft"
    TO_TARGET = "to_target"
    MEMBERSHIP = "membership"
    NONE = "none"


class ImpactState(StrEnum):
    """States of an affected CI, worst first."""

    DOWN = "down"
    DEGRADED = "degraded"
    AT_RISK = "at_risk"
    OK = "ok"


class Urgency(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class IncidentStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"


class ChangeType(StrEnum):
    STANDARD = "standard"
    NORMAL = "normal"
    EMERGENCY = "emergency"


class ChangeStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    IMPLEMENTED = "implemented"
    FAILED = "failed"
    CANCELLED = "cancelled"


class RecordKind(StrEnum):
    """Kinds of record: ITSM records linked to CIs, and the log of discovery runs."""

    INCIDENT = "incident"
    PROBLEM = "problem"
    CHANGE = "change"
    DISCOVERY_RUN = "discovery_run"
    BASELINE = "baseline"
    API_KEY = "api_key"
    RELEASE = "release"


class ReleaseType(StrEnum):
    """A release is deployed on the normal path or, to restore service, as an emergency."""

    NORMAL = "normal"
    EMERGENCY = "emergency"


class ReleaseStatus(StrEnum):
    """Lifecycle of a release: planned, approved (by the CAB or the emergency CAB), then
    deployed, failed or cancelled."""

    PLANNED = "planned"
    APPROVED = "approved"
    DEPLOYED = "deployed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class HistoryAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    RETIRE = "retire"


class Role(StrEnum):
    """What an API key may do. ``reader`` reads everything (auditors); ``analyst`` also opens
    and resolves incidents and problems and ranks root causes; ``change_manager`` also records
    changes and assesses their risk; ``admin`` may do everything, CIs, imports and keys included.

    >>> Role.ADMIN.allows(Role.ANALYST), Role.ANALYST.allows(Role.CHANGE_MANAGER)
    (True, False)
    """

    READER = "reader"
    ANALYST = "analyst"
    CHANGE_MANAGER = "change_manager"
    ADMIN = "admin"

    def allows(self, needed: Role) -> bool:
        """Whether a key with this role may call a route that needs ``needed``."""
        return needed is Role.READER or self is Role.ADMIN or self is needed


HistoryEntity = Literal[
    "ci",
    "relationship",
    "incident",
    "problem",
    "change",
    "discovery_run",
    "baseline",
    "api_key",
    "release",
]
"""What a history entry is about: a CI, a relationship, or a record of one kind."""
