"""What a discovery scanner hands to the reconciler: a :class:`ScanResult`.

Assumptions: a scanner (in ``discovery/``) reads a source and returns one ``ScanResult``; it
never writes to a store. Everything in it is *as the source saw it*: CIs and relationships are
named by the scanner's own keys (``"k8s:Deployment/shop/cart"``), not by CMDB ids, because
only the reconciler (:mod:`cmdb.reconcile`) decides which stored CI a sighting is, by the
registry's identification rules. ``scope`` says what the run covered (``"namespace:shop"``,
``"file:deploy/app.yaml"``) and ``complete`` whether it covered all of it: only a complete run
may mark what it no longer sees as stale, and only within its scope. A sighting's ``scope`` says
which element of the run's scope it falls under (needed when the run covers several: a later
complete run marks it stale only if that run covers the same element); by default it is the
run's only scope element, or the run's whole scope.

>>> r = ScanResult(source="compose", scope=["file:docker-compose.yml"], complete=True,
...                cis=[SeenCI(key="compose:web", ci_class="application", name="web"),
...                     SeenCI(key="compose:db", ci_class="database", name="db")],
...                relationships=[SeenRelationship(source="compose:web", type="depends_on",
...                                                target="compose:db")])
>>> [c.key for c in r.cis], r.relationships[0].target
(['compose:web', 'compose:db'], 'compose:db')
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cmdb.model import AwareDatetime, Identifiers, utcnow

__all__ = ["ScanResult", "SeenCI", "SeenRelationship"]


class _Seen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SeenCI(_Seen):
    """A CI as one source saw it. ``key`` is unique within the scan; ``parent`` is the key of
    the CI it lives in (a namespace, a compose project), for "name within its parent" matching;
    ``unresolved`` marks a reference to something the input names but does not describe."""

    key: str = Field(min_length=1)
    ci_class: str = Field(min_length=1)
    name: str = Field(min_length=1)
    identifiers: Identifiers = Field(default_factory=Identifiers)
    attributes: dict[str, Any] = Field(default_factory=dict)
    parent: str | None = None
    owner: str | None = None
    support_group: str | None = None
    description: str | None = None
    unresolved: bool = False
    origin: str | None = None
    """Where in the input it was seen (``"deploy/app.yaml#3"``), for messages."""
    scope: str | None = None
    """The element of :attr:`ScanResult.scope` this sighting falls under."""


class SeenRelationship(_Seen):
    """A relationship between two sightings of the same scan, by their keys."""

    source: str
    type: str
    target: str
    attributes: dict[str, Any] = Field(default_factory=dict)
    origin: str | None = None


class ScanResult(_Seen):
    """One run of one scanner: what it saw, what it covered, whether it finished."""

    source: str = Field(min_length=1, pattern=r"^[a-z][a-z0-9_-]*$")
    scope: list[str] = Field(default_factory=list)
    complete: bool
    started_at: AwareDatetime = Field(default_factory=utcnow)
    finished_at: AwareDatetime | None = None
    cis: list[SeenCI] = Field(default_factory=list)
    relationships: list[SeenRelationship] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _keys(self) -> ScanResult:
        keys = [c.key for c in self.cis]
        if len(set(keys)) != len(keys):
            dup = next(k for k in keys if keys.count(k) > 1)
            raise ValueError(f"scan result has two CIs with key '{dup}'")
        known = set(keys)
        scopes = set(self.scope)
        for c in self.cis:
            if c.parent is not None and c.parent not in known:
                raise ValueError(f"CI '{c.key}': parent '{c.parent}' is not a CI of the scan")
            if c.scope is not None and c.scope not in scopes:
                raise ValueError(f"CI '{c.key}': scope '{c.scope}' is not in the scan's scope")
        for r in self.relationships:
            for end in (r.source, r.target):
                if end not in known:
                    raise ValueError(
                        f"relationship {r.source} -[{r.type}]-> {r.target}: "
                        f"no CI with key '{end}' in the scan"
                    )
        return self

    def finished(self, at: datetime | None = None) -> ScanResult:
        """This result with ``finished_at`` set (now by default)."""
        return self.model_copy(update={"finished_at": at or utcnow()})
