"""Suppliers: whom to call for an impact answer, and whether their contracts underpin a
service's SLAs.

Assumptions:

- A CI's supplier is the target of its ``supplied_by`` relationships (any number). An
  *underpinning contract* is a CI of registry category ``agreement`` that a CI other than a
  service or a customer is ``covered_by`` (a service's or a customer's agreement is its SLA);
  the contract's own ``supplied_by`` names the supplier who signed it.
- Targets are the agreement's attributes ``availability_target`` (a fraction, or a percentage
  when above 1), ``response_minutes`` and ``resolution_hours``, on SLAs and contracts alike. A
  contract is *weaker* than an SLA it underpins when any target both set is weaker: a lower
  availability, a longer response or a longer resolution. Targets only one of them sets are
  not compared; a contract with no comparable target is neither weaker nor fine (None).
- A contract underpins a service's SLA when it covers a CI the service depends on
  (:func:`impact.depends.depends_on`) or the service itself.
- Relationships come from the snapshot, indexed once per snapshot (each CI's suppliers and
  contracts, each contract's supplier), so a query costs the size of its answer; only the few
  supplier and contract CIs are read from the store.

>>> import os, tempfile
>>> from cmdb.model import CI, Batch, Relationship as R
>>> from cmdb.settings import Settings
>>> from cmdb.store import open_store
>>> store = open_store(Settings(db=os.path.join(tempfile.mkdtemp(), "s.db")), create=True)
>>> _ = store.apply(Batch(cis=[
...     CI(id="svc", ci_class="business_service", name="Payments"),
...     CI(id="sla", ci_class="sla", name="Gold", attributes={"availability_target": 0.9995,
...        "resolution_hours": 2.0}),
...     CI(id="sw", ci_class="switch", name="Core switch"),
...     CI(id="cisco", ci_class="supplier", name="Cisco", attributes={"contact": "tac@x"}),
...     CI(id="uc", ci_class="underpinning_contract", name="SmartNet NBD",
...        attributes={"resolution_hours": 24.0})],
...     relationships=[R(source="svc", type="depends_on", target="sw"),
...        R(source="svc", type="covered_by", target="sla"),
...        R(source="sw", type="supplied_by", target="cisco"),
...        R(source="sw", type="covered_by", target="uc"),
...        R(source="uc", type="supplied_by", target="cisco")]), actor="doc")
>>> r = supplier_report(store, "svc")
>>> [(s.id, s.cis, [c.id for c in s.contracts]) for s in r.suppliers]
[('cisco', ('sw',), ['uc'])]
>>> [(c.contract, c.sla, c.weaker, c.gaps) for c in r.contracts]
[('uc', 'sla', True, ('resolution 24 h > 2 h',))]
>>> store.close()
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cmdb.filters import CIFilter
from cmdb.store.protocol import GraphStore
from cmdb.topology import CSR, Topology
from impact.depends import depends_on
from impact.propagation import AGREEMENT, CUSTOMER, SERVICE
from impact.results import ContractRef, Result, SupplierRef

__all__ = [
    "ContractCheck",
    "SupplierReport",
    "TargetsRef",
    "compare_targets",
    "supplier_report",
    "suppliers_of",
    "suppliers_of_nodes",
]

SAMPLE = 8
"""How many CIs a supplier or a contract names in an answer (``total`` counts them all)."""


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _fraction(value: Any) -> float | None:
    v = _number(value)
    return None if v is None else v / 100.0 if v > 1 else v


class TargetsRef(Result):
    """An agreement's targets: availability (a fraction), response and resolution."""

    id: str
    name: str
    availability_target: float | None = None
    response_minutes: float | None = None
    resolution_hours: float | None = None


def _targets(ci: Any) -> dict[str, Any]:
    a = ci.attributes
    return {
        "availability_target": _fraction(a.get("availability_target")),
        "response_minutes": _number(a.get("response_minutes")),
        "resolution_hours": _number(a.get("resolution_hours")),
    }


def compare_targets(contract: TargetsRef, sla: TargetsRef) -> tuple[bool | None, tuple[str, ...]]:
    """Whether ``contract`` is weaker than ``sla`` on a target both set, and the gaps in words
    (None: no target in common).

    >>> uc = TargetsRef(id="uc", name="NBD", response_minutes=240, resolution_hours=24)
    >>> sla = TargetsRef(id="sla", name="Gold", availability_target=0.9995, resolution_hours=2)
    >>> compare_targets(uc, sla)
    (True, ('resolution 24 h > 2 h',))
    >>> compare_targets(TargetsRef(id="x", name="x"), sla)
    (None, ())
    """
    gaps, compared = [], False
    pairs = (
        ("availability", contract.availability_target, sla.availability_target, -1, 100, "%"),
        ("response", contract.response_minutes, sla.response_minutes, 1, 1, " min"),
        ("resolution", contract.resolution_hours, sla.resolution_hours, 1, 1, " h"),
    )
    for name, ours, theirs, worse, scale, unit in pairs:
        if ours is None or theirs is None:
            continue
        compared = True
        if (ours - theirs) * worse > 0:
            sign = ">" if worse > 0 else "<"
            gaps.append(f"{name} {ours * scale:g}{unit} {sign} {theirs * scale:g}{unit}")
    return (bool(gaps) if compared else None), tuple(gaps)


def _edges(topo: Topology, rel_type: str, src_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sel = np.isin(topo.rtype, topo.type_codes([rel_type])) & src_mask[topo.src]
    return topo.src[sel], topo.dst[sel]


def _type_known(topo: Topology, rel_type: str) -> bool:
    return rel_type in topo.rel_type_names


@dataclass(frozen=True, eq=False)
class _Edges:
    """Edges of one kind by source: row ``i`` of ``csr`` holds the codes of ``i``'s targets,
    ``targets[code]`` the target's node number (ascending, so code order is node order)."""

    csr: CSR
    targets: np.ndarray

    @classmethod
    def build(cls, n: int, src: np.ndarray, dst: np.ndarray) -> _Edges:
        is_target = np.zeros(n, dtype=bool)
        is_target[dst] = True
        targets = np.flatnonzero(is_target)  # few: no sort of the edges
        return cls(CSR.from_edges(n, src, np.searchsorted(targets, dst)), targets)


@dataclass(frozen=True, eq=False)
class _Index:
    """What every supplier question reads of one snapshot, built once per snapshot.

    ``supplies``: the ``supplied_by`` edges. ``covers``: the ``covered_by`` edges into an
    agreement out of a CI other than a service or a customer. ``signer[c]``: the supplier of
    agreement ``c`` (the lowest-numbered target of its ``supplied_by`` edges), if it names one."""

    supplies: _Edges
    covers: _Edges
    signer: dict[int, int]


_INDEX: weakref.WeakKeyDictionary[Topology, _Index] = weakref.WeakKeyDictionary()


def _typed(topo: Topology, rel_type: str) -> tuple[np.ndarray, np.ndarray]:
    """The edges ``(src, dst)`` of one relationship type (none if the snapshot lacks it)."""
    if rel_type not in topo.rel_type_names:
        return np.empty(0, dtype=np.int32), np.empty(0, dtype=np.int32)
    sel = topo.rtype == topo.rel_type_names.index(rel_type)
    return topo.src[sel], topo.dst[sel]


def _index(topo: Topology) -> _Index:
    """The :class:`_Index` of ``topo``, cached per snapshot (a snapshot is never changed)."""
    found = _INDEX.get(topo)
    if found is not None:
        return found
    agreement = topo.category_mask(AGREEMENT)
    src, dst = _typed(topo, "supplied_by")
    supplies = _Edges.build(topo.n, src, dst)
    by_contract = agreement[src]
    uc, sup = src[by_contract], dst[by_contract]
    first = np.lexsort((sup, uc))
    uc, sup = uc[first], sup[first]
    first = np.flatnonzero(np.r_[True, uc[1:] != uc[:-1]]) if uc.size else first
    signer = dict(zip(uc[first].tolist(), sup[first].tolist(), strict=True))
    src, dst = _typed(topo, "covered_by")
    keep = ~topo.category_mask(SERVICE, CUSTOMER)[src] & agreement[dst]
    found = _INDEX[topo] = _Index(supplies, _Edges.build(topo.n, src[keep], dst[keep]), signer)
    return found


@dataclass(frozen=True)
class _Group:
    """The sources of edges into one target: the first :data:`SAMPLE` in answer order, how
    many in all, and the failing ones."""

    sample: tuple[int, ...]
    total: int
    failing: tuple[int, ...]


def _grouped(edges: _Edges, order: np.ndarray, failing: np.ndarray) -> dict[int, _Group]:
    """The edges out of the nodes ``order`` (distinct, in answer order) grouped by target,
    targets ascending, sources in answer order (vectorised: a hub's blast radius can hold a
    million supplied CIs, and there are few suppliers)."""
    if not edges.targets.size:
        return {}
    src, code = edges.csr.gather(order)  # sources in the order of ``order``
    if not src.size:
        return {}
    # a stable sort by target; on 16 bits numpy's is a radix sort
    key = code.astype(np.uint16) if edges.targets.size <= 1 << 16 else code
    src = src[np.argsort(key, kind="stable")]
    counts = np.bincount(code, minlength=edges.targets.size)
    present = np.flatnonzero(counts)
    counts = counts[present]
    ends = np.cumsum(counts)
    starts = ends - counts
    fail_at = np.flatnonzero(failing[src])
    lo = np.searchsorted(fail_at, starts).tolist()
    hi = np.searchsorted(fail_at, ends).tolist()
    out = {}
    for k, (t, start, n) in enumerate(
        zip(edges.targets[present].tolist(), starts.tolist(), counts.tolist(), strict=True)
    ):
        out[t] = _Group(
            tuple(src[start : start + min(n, SAMPLE)].tolist()),
            n,
            tuple(src[fail_at[lo[k] : hi[k]]].tolist()),
        )
    return out


def _first_places(failing: np.ndarray, nodes: np.ndarray, n: int) -> np.ndarray:
    """``failing`` then ``nodes``, each node once, at its first place. Linear when ``nodes``
    are distinct (a blast radius), a sort otherwise."""
    seen = np.zeros(n, dtype=bool)
    seen[nodes] = True
    if np.count_nonzero(seen) < nodes.size:
        order = np.concatenate([failing, nodes])
        _, first = np.unique(order, return_index=True)
        return order[np.sort(first)]
    if failing.size > 1:
        _, first = np.unique(failing, return_index=True)
        failing = failing[np.sort(first)]
    seen[failing] = False
    return np.concatenate([failing, nodes[seen[nodes]]])


def suppliers_of(
    store: GraphStore,
    topo: Topology,
    ci_ids: Sequence[str],
    *,
    failing: Iterable[str] = (),
) -> tuple[SupplierRef, ...]:
    """The suppliers of ``ci_ids`` (in the answer's order) and of the contracts covering them,
    those of ``failing`` CIs first, then by how many CIs they supply; see
    :class:`~impact.results.SupplierRef`. CIs missing from ``topo`` are skipped."""
    fail = np.fromiter((topo.index(c) for c in failing if c in topo), dtype=np.int64)
    rest = np.fromiter((topo.index(c) for c in ci_ids if c in topo), dtype=np.int64)
    return suppliers_of_nodes(store, topo, rest, failing=fail)


def suppliers_of_nodes(
    store: GraphStore, topo: Topology, nodes: np.ndarray, *, failing: np.ndarray
) -> tuple[SupplierRef, ...]:
    """:func:`suppliers_of` for node numbers (a blast radius's listing order).

    Costs the size of the answer (``nodes`` and their supplier and contract edges) once the
    snapshot's supplier index is built (:func:`_index`, once per snapshot)."""
    failing = failing.astype(np.int64, copy=False)
    nodes = nodes.astype(np.int64, copy=False)
    if not failing.size and not nodes.size:
        return ()
    order = _first_places(failing, nodes, topo.n)
    is_failing = np.zeros(topo.n, dtype=bool)
    is_failing[failing] = True
    idx = _index(topo)
    supplies = _grouped(idx.supplies, order, is_failing)
    covers = _grouped(idx.covers, order, is_failing)
    signed = {uc: idx.signer.get(uc) for uc in covers}
    party_ids = {*supplies, *(d for d in signed.values() if d is not None)}
    read = tuple(sorted(topo.ids[i] for i in {*party_ids, *covers}))
    docs = {ci.id: ci for ci in store.find_cis(CIFilter(ids=read))} if read else {}

    def name(i: int) -> str:
        ci = docs.get(topo.ids[i])
        return ci.name if ci is not None else topo.ids[i]

    contracts: dict[int | None, list[ContractRef]] = {}
    for uc, group in covers.items():
        doc = docs.get(topo.ids[uc])
        supplier = signed[uc]
        contracts.setdefault(supplier, []).append(
            ContractRef(
                id=topo.ids[uc],
                name=name(uc),
                supplier=None if supplier is None else topo.ids[supplier],
                covers=tuple(topo.ids[i] for i in group.sample),
                **(_targets(doc) if doc is not None else {}),
            )
        )
    held_failing: dict[int | None, list[int]] = {}
    for uc, group in covers.items():
        held_failing.setdefault(signed[uc], []).extend(group.failing)
    out = []
    empty = _Group((), 0, ())
    for sup in {*supplies, *contracts}:
        mine = supplies.get(sup, empty) if sup is not None else empty
        held = sorted(contracts.get(sup, []), key=lambda c: c.id)
        fail = [*mine.failing, *held_failing.get(sup, [])]
        doc = docs.get(topo.ids[sup]) if sup is not None else None
        contact = doc.attributes.get("contact") if doc is not None else None
        out.append(
            SupplierRef(
                id=None if sup is None else topo.ids[sup],
                name="(no supplier recorded)" if sup is None else name(sup),
                contact=contact if isinstance(contact, str) else None,
                failing=tuple(topo.ids[i] for i in dict.fromkeys(fail)),
                cis=tuple(topo.ids[i] for i in mine.sample),
                total=mine.total,
                contracts=tuple(held),
            )
        )
    return tuple(sorted(out, key=lambda s: (not s.failing, -s.total, s.id or "~")))


class ContractCheck(Result):
    """One underpinning contract next to one SLA of the service (``sla`` None when the
    service has none): both sets of targets, whether the contract is ``weaker`` (None: no
    target in common or no SLA) and the ``gaps`` in words."""

    contract: str
    name: str
    supplier: str | None
    covers: tuple[str, ...]
    targets: TargetsRef
    sla: str | None
    sla_targets: TargetsRef | None
    weaker: bool | None
    gaps: tuple[str, ...]


class SupplierReport(Result):
    """:func:`supplier_report`'s answer: the service's SLAs with their targets, the suppliers
    it depends on (through which CIs), each contract next to each SLA, and how many are
    ``weaker``."""

    service: str
    slas: tuple[TargetsRef, ...]
    suppliers: tuple[SupplierRef, ...]
    contracts: tuple[ContractCheck, ...]
    weaker: int
    store_version: int


def supplier_report(store: GraphStore, service: str) -> SupplierReport:
    """The suppliers ``service`` depends on, through which CIs, and each underpinning
    contract's targets next to the service's SLA targets (a weaker contract is flagged).

    :class:`~cmdb.errors.NotFoundError` for an unknown CI."""
    topo = store.topology()
    root = topo.index(service)
    deps = depends_on(topo, service)
    ids = [service, *deps.ids()]
    suppliers = suppliers_of(store, topo, ids)
    sla_ids: list[str] = []
    if _type_known(topo, "covered_by"):
        mask = np.zeros(topo.n, dtype=bool)
        mask[root] = True
        _, dst = _edges(topo, "covered_by", mask)
        agreement = topo.category_mask(AGREEMENT)
        sla_ids = sorted(topo.ids[d] for d in dst.tolist() if agreement[d])
    slas = tuple(
        TargetsRef(id=ci.id, name=ci.name, **_targets(ci))
        for ci in sorted(store.find_cis(CIFilter(ids=tuple(sla_ids))), key=lambda c: c.id)
        if sla_ids
    )
    checks = []
    for sup in suppliers:
        for c in sup.contracts:
            mine = TargetsRef(
                id=c.id,
                name=c.name,
                availability_target=c.availability_target,
                response_minutes=c.response_minutes,
                resolution_hours=c.resolution_hours,
            )
            for sla in slas or (None,):
                weaker, gaps = compare_targets(mine, sla) if sla else (None, ())
                checks.append(
                    ContractCheck(
                        contract=c.id,
                        name=c.name,
                        supplier=c.supplier,
                        covers=c.covers,
                        targets=mine,
                        sla=sla.id if sla else None,
                        sla_targets=sla,
                        weaker=weaker,
                        gaps=gaps,
                    )
                )
    checks.sort(key=lambda c: (not c.weaker, c.contract, c.sla or ""))
    return SupplierReport(
        service=service,
        slas=slas,
        suppliers=suppliers,
        contracts=tuple(checks),
        weaker=sum(1 for c in checks if c.weaker),
        store_version=topo.version,
    )
