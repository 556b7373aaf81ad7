"""Identification: which stored CI each sighting of a scan is, by the registry's rules.

Assumptions: the rules are the registry's ``identification`` section: per class, ordered
identifier sets. For each sighting the sets are tried in order; the first set whose values the
sighting has and that finds stored CIs decides: one candidate is a match, two or more are
*ambiguous* (reported, never merged). A candidate whose value for an *earlier* set differs from
the sighting's (another serial number) is another thing and is dropped. When no set finds
anything, the CI whose id the scan key derives (:func:`discovered_id`) is the match if it
exists and does not conflict; otherwise the sighting is new.

Sets of one identifier kind (``serial_number``, ``fqdn``, ``mac``...) use the store's identifier
index as it is, so they also find CIs entered by hand or imported. Other sets (``hostname +
domain``, ``namespace + kind + name``, ``parent + name``) are *composite keys*: their value is
the components joined by ``|`` (prefixed by the class when the set holds ``name``, since names
are unique only within a class), and the reconciler stores it in ``identifiers.keys`` of the
CIs it writes, so the next run finds them through the same index. ``parent`` is the CMDB id of
the sighting's parent, so sightings are identified parent first, one bulk look-up per level of
nesting; never one query per identifier.

>>> discovered_id("compose", "compose:web"), discovered_id("inventory", "srv 01")
('compose:web', 'inventory:srv-01-3db7594167')
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from cmdb.errors import ValidationError
from cmdb.filters import CIFilter
from cmdb.model import CI, ID_PATTERN, Identifiers
from cmdb.registry import Registry, Rule
from cmdb.scan import ScanResult, SeenCI
from cmdb.store.protocol import GraphStore

__all__ = [
    "STANDARD_KINDS",
    "Identification",
    "Identified",
    "discovered_id",
    "identify",
    "rule_kind",
    "rule_values",
    "seen_in",
]

STANDARD_KINDS = ("serial_number", "fqdn", "hostname", "ip", "mac", "cloud_id", "k8s_uid")
"""Identifier kinds that :meth:`~cmdb.model.Identifiers.items` yields; sets of one of them
match across classes."""
_ID_RE = re.compile(ID_PATTERN)
_SLUG_BAD = re.compile(r"[^A-Za-z0-9._:@/\-]+")


def discovered_id(source: str, key: str, attempt: int = 0) -> str:
    """The id of a new CI discovered under scan ``key``: the key itself when it is a valid id
    and names its namespace (``k8s:Deployment/shop/cart``), else ``source:key``; when that is
    not a valid id, a slug of it plus ten hex digits of the key's SHA-256, so two keys never
    share an id. ``attempt`` > 0 gives the alternatives used when the id is taken by another
    CI."""
    base = key if ":" in key else f"{source}:{key}"
    if attempt == 0 and _ID_RE.match(base):
        return base
    slug = _SLUG_BAD.sub("-", base).lstrip("-._:@/") or "ci"
    salt = key if attempt == 0 else f"{key}#{attempt}"
    return f"{slug[:189].rstrip('-')}-{hashlib.sha256(salt.encode()).hexdigest()[:10]}"


def seen_in(source: str) -> str:
    """The ``identifiers.keys`` entry recording the scope ``source`` saw a CI in."""
    return f"seen_in:{source}"


def rule_kind(rule: Rule) -> str:
    """The index kind of an identifier set: the identifier kind, or the components joined."""
    return "+".join(rule)


def _first(identifiers: Identifiers, kind: str) -> str | None:
    return next((v for k, v in identifiers.items() if k == kind), None)


def rule_values(
    rule: Rule,
    *,
    ci_class: str,
    name: str,
    identifiers: Identifiers,
    attributes: dict[str, Any],
    parent: str | None,
) -> list[str]:
    """The normalised index values of one identifier set for a CI or a sighting; empty when
    it lacks a component. Lists (host names, MACs) give one value each for a set of one
    identifier kind, and their first value inside a composite key."""
    if len(rule) == 1 and rule[0] in STANDARD_KINDS:
        return sorted({v.strip().lower() for k, v in identifiers.items() if k == rule[0]})
    parts: list[str] = [ci_class] if "name" in rule else []
    for comp in rule:
        value: Any
        if comp == "name":
            value = name
        elif comp == "parent":
            value = parent
        elif comp in STANDARD_KINDS:
            value = _first(identifiers, comp)
        else:
            value = identifiers.keys.get(comp, attributes.get(comp))
        if value is None or isinstance(value, dict | list | bool) or str(value).strip() == "":
            return []
        parts.append(str(value).strip().lower())
    return ["|".join(parts)]


class Identified(BaseModel):
    """The outcome for one sighting: ``ci_id`` (matched or new) and ``existing`` (the stored
    CI when matched); ``rule`` is the set that matched (``"id"``: the derived id); when
    ``candidates`` has two or more, the sighting is ambiguous and ``ci_id`` is None."""

    model_config = ConfigDict(frozen=True)

    key: str
    ci_id: str | None = None
    existing: CI | None = None
    rule: str | None = None
    candidates: tuple[str, ...] = ()
    reason: str | None = None
    keys: dict[str, str] = {}

    @property
    def ambiguous(self) -> bool:
        return self.ci_id is None


class Identification(BaseModel):
    """Every sighting's outcome, by scan key, and the stored CIs read on the way."""

    model_config = ConfigDict(frozen=True)

    by_key: dict[str, Identified]
    stored: dict[str, CI]


Applicable = list[tuple[Rule, str, list[str]]]


def _levels(cis: Sequence[SeenCI]) -> list[list[SeenCI]]:
    """Sightings grouped by nesting depth (parents first); a parent cycle is an error."""
    by_key = {c.key: c for c in cis}
    depth: dict[str, int] = {}
    for c in cis:
        chain: list[str] = []
        cur = c
        while cur.key not in depth:
            if cur.key in chain:
                raise ValidationError(
                    f"parent cycle through '{cur.key}'", location=cur.origin or cur.key
                )
            chain.append(cur.key)
            if cur.parent is None:
                break
            cur = by_key[cur.parent]
        base = depth[cur.key] + 1 if cur.key in depth else 0
        for i, key in enumerate(reversed(chain)):
            depth[key] = base + i
    levels: dict[int, list[SeenCI]] = defaultdict(list)
    for c in cis:
        levels[depth[c.key]].append(c)
    return [levels[d] for d in sorted(levels)]


def _stored_values(rule: Rule, kind: str, ci: CI) -> list[str]:
    if kind in ci.identifiers.keys:
        return [ci.identifiers.keys[kind].strip().lower()]
    return rule_values(
        rule,
        ci_class=ci.ci_class,
        name=ci.name,
        identifiers=ci.identifiers,
        attributes=ci.attributes,
        parent=None,
    )


def _conflicts(ci: CI, earlier: Applicable) -> bool:
    for rule, kind, values in earlier:
        theirs = _stored_values(rule, kind, ci)
        if theirs and not set(theirs) & set(values):
            return True
    return False


def _decide(
    seen: SeenCI,
    applicable: Applicable,
    hits: dict[tuple[str, str], list[str]],
    docs: dict[str, CI],
    derived: str,
    keys: dict[str, str],
) -> Identified:
    for i, (_, kind, values) in enumerate(applicable):
        found = sorted({c for v in values for c in hits.get((kind, v), ())})
        cands = [c for c in found if c in docs and not _conflicts(docs[c], applicable[:i])]
        if len(cands) == 1:
            return Identified(
                key=seen.key, ci_id=cands[0], existing=docs[cands[0]], rule=kind, keys=keys
            )
        if cands:
            return Identified(
                key=seen.key,
                candidates=tuple(cands),
                rule=kind,
                keys=keys,
                reason=f"{len(cands)} CIs share its {kind}",
            )
    if derived in docs and not _conflicts(docs[derived], applicable):
        return Identified(key=seen.key, ci_id=derived, existing=docs[derived], rule="id", keys=keys)
    return Identified(key=seen.key, ci_id=derived, keys=keys)


def _free_id(store: GraphStore, source: str, key: str, taken: set[str]) -> str:
    """The first alternative derived id that no stored CI and no other sighting holds."""
    attempt = 1
    while True:
        cand = discovered_id(source, key, attempt)
        if cand not in taken and not store.find_cis(CIFilter(ids=(cand,), include_retired=True)):
            return cand
        attempt += 1


def _mark_shared(by_key: dict[str, Identified], groups: Iterable[tuple[str, list[str]]]) -> None:
    for what, keys in groups:
        if len(keys) < 2:
            continue
        for key in keys:
            old = by_key[key]
            if not old.ambiguous:
                by_key[key] = Identified(
                    key=key,
                    candidates=tuple(sorted(set(keys) - {key})),
                    rule=old.rule,
                    keys=old.keys,
                    reason=f"another sighting of this scan is {what}",
                )


def identify(
    store: GraphStore,
    registry: Registry,
    scan: ScanResult,
    *,
    progress: Callable[[int], None] | None = None,
) -> Identification:
    """Identify every sighting of ``scan`` in bulk: one identifier look-up and one CI read per
    level of parent nesting. Two sightings that come to the same CI, or new sightings that
    share an identifier value, are all ambiguous."""
    by_key: dict[str, Identified] = {}
    stored: dict[str, CI] = {}
    all_facts: dict[str, Applicable] = {}
    for level in _levels(scan.cis):
        facts: dict[str, Applicable] = {}
        keys: dict[str, dict[str, str]] = {}
        pairs: set[tuple[str, str]] = set()
        for seen in level:
            parent = by_key[seen.parent].ci_id if seen.parent else None
            applicable: Applicable = []
            keys[seen.key] = {}
            for rule in registry.identification.rules(seen.ci_class):
                kind = rule_kind(rule)
                values = rule_values(
                    rule,
                    ci_class=seen.ci_class,
                    name=seen.name,
                    identifiers=seen.identifiers,
                    attributes=seen.attributes,
                    parent=parent,
                )
                if values:
                    applicable.append((rule, kind, values))
                    pairs.update((kind, v) for v in values)
                    if kind not in STANDARD_KINDS:
                        keys[seen.key][kind] = values[0]
            facts[seen.key] = all_facts[seen.key] = applicable
        hits = store.find_by_identifiers(sorted(pairs)) if pairs else {}
        derived = {seen.key: discovered_id(scan.source, seen.key) for seen in level}
        wanted = {c for ids in hits.values() for c in ids} | set(derived.values())
        wanted -= stored.keys()
        if wanted:
            found = store.find_cis(CIFilter(ids=tuple(sorted(wanted)), include_retired=True))
            stored.update((c.id, c) for c in found)
        for seen in level:
            by_key[seen.key] = _decide(
                seen, facts[seen.key], hits, stored, derived[seen.key], keys[seen.key]
            )
        if progress is not None:
            progress(len(level))
    by_id: dict[str, list[str]] = defaultdict(list)
    for key, got in by_key.items():
        if got.ci_id is not None:
            by_id[got.ci_id].append(key)
    _mark_shared(by_key, ((f"CI '{ci}'", keys) for ci, keys in by_id.items()))
    new_pairs: dict[tuple[str, str], list[str]] = defaultdict(list)
    for seen in scan.cis:
        got = by_key[seen.key]
        if got.existing is None and got.ci_id is not None:
            for _, kind, values in all_facts[seen.key]:
                for value in values:
                    new_pairs[(kind, value)].append(seen.key)
    _mark_shared(
        by_key, ((f"new with the same {k} '{v}'", keys) for (k, v), keys in new_pairs.items())
    )
    taken = {g.ci_id for g in by_key.values() if g.ci_id}
    for key, got in by_key.items():
        if got.existing is None and got.ci_id is not None and got.ci_id in stored:
            new_id = _free_id(store, scan.source, key, taken)
            taken.add(new_id)
            by_key[key] = got.model_copy(update={"ci_id": new_id})
    return Identification(by_key=by_key, stored=stored)
