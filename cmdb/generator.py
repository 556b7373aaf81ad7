"""A generator of realistic, layered enterprise topologies, for demos, benchmarks and tests.

Assumptions: the output is a pure function of ``(n_cis, seed)``. The whole graph is first laid out
as numpy arrays (one contiguous block of node numbers per kind of CI, then the edges); both
outputs read that one layout, so :func:`generate` (pydantic batches, for a store) and
:func:`generate_topology` (a :class:`~cmdb.topology.Topology`, without pydantic) always agree.

The estate has two data centres (about 70/30) and branch offices homed to one of them:

    customers -consumes-> business services -uses-> technical services
    applications -provides-> services; applications -uses-> databases, middleware, applications
    application -runs_on-> app pool (cluster, about 2/3 of n) <-member_of- application instances
    instances -runs_on-> VMs | containers -> pods -> VMs | physical servers
    databases -runs_on-> DB cluster (1 of 2) <-member_of- database instances -> VMs | servers
    VMs -hosted_on-> hypervisor clusters (n-1 of n) <-member_of- hypervisors
    servers, hypervisors, hypervisor clusters -depends_on-> an access switch pair
    access switches, storage, load balancers, middleware clusters -depends_on-> a distribution pair
    distribution switches, core routers, firewalls -depends_on-> the core switch pair
    branch routers -depends_on-> the WAN (core router) pair; HSMs -connected_to-> a firewall
    desktops, printers -connected_to-> one access switch; branch access -> one branch router

plus SLAs, support groups, suppliers and locations (which carry no impact), shared hubs (core
network, SAN, a few shared database and middleware clusters) and a few pairs of applications that
call each other. There are about four relationships per CI.

Redundancy is explicit. A dual-homed device has no hard link to either of its two uplinks: each
pair of core switches, WAN routers, distribution switches or access switches is a ``cluster``
(k = 1, two members via ``member_of``) and the device ``depends_on`` that pair, which devices
share (a server picks one access pair of its data centre). So one switch failure only degrades its
pair and puts what depends on the pair at risk; the loss of both members takes it all down.
Single-homed links (end-user devices, branch access switches, HSMs) stay hard ``connected_to``.

>>> topo = generate_topology(2000, seed=1)
>>> topo.n, topo.m > 3 * topo.n
(2000, True)
>>> sorted(pick_probes(topo))
['hub', 'leaf', 'mid']
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from cmdb.enums import Criticality
from cmdb.errors import RegistryError, ValidationError
from cmdb.generator_attrs import KINDS, PREFIX, attributes
from cmdb.model import CI, Batch, Relationship
from cmdb.registry import Registry, load_registry
from cmdb.topology import CSR, Topology
from cmdb.topology_ids import Ids

__all__ = ["MIN_CIS", "generate", "generate_topology", "pick_probes"]

MIN_CIS = 500
"""The smallest estate :func:`generate` can lay out (every layer needs a few CIs)."""

SOURCE = "generator"
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
_RELS = (
    "connected_to",
    "consumes",
    "covered_by",
    "depends_on",
    "hosted_on",
    "located_in",
    "member_of",
    "provides",
    "runs_on",
    "supplied_by",
    "supported_by",
    "uses",
)
_R = {name: code for code, name in enumerate(_RELS)}
_CRIT = {c.rank: c for c in Criticality}
_P_DC2 = 0.35  # share of data-centre infrastructure in the second data centre


@dataclass(frozen=True)
class _Block:
    kind: str
    start: int
    count: int
    first: int  # number of the first CI of the block within its class


@dataclass(frozen=True, eq=False)
class _Layout:
    """The generated estate as arrays; node numbers follow the block order."""

    n: int
    blocks: tuple[_Block, ...]
    criticality: np.ndarray
    last_seen: np.ndarray
    min_required: np.ndarray
    support: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    rel: np.ndarray  # codes into _RELS

    def ids(self, lo: int = 0, hi: int | None = None) -> list[str]:
        hi = self.n if hi is None else hi
        out: list[str] = []
        widths = self._widths()
        for b in self.blocks:
            a, z = max(lo, b.start), min(hi, b.start + b.count)
            if a >= z:
                continue
            cls = KINDS[b.kind][0]
            p, w = PREFIX[cls], widths[cls]
            off = b.first - b.start
            out.extend(map(f"{p}-{{:0{w}d}}".format, range(a + off, z + off)))
        return out

    def id_blob(self) -> tuple[np.ndarray, np.ndarray]:
        """``ids()`` as one UTF-8 blob and n + 1 offsets (cmdb.topology_ids), built with numpy:
        no string per CI. Every id of a block has the same length (prefix, dash, digits).

        >>> lay = _layout(600, 0)
        >>> blob, off = lay.id_blob()
        >>> [blob[off[i] : off[i + 1]].tobytes().decode() for i in (0, 599)] == lay.ids()[::599]
        True
        """
        widths = self._widths()
        parts: list[np.ndarray] = []
        lengths = np.empty(self.n, np.int64)
        for b in self.blocks:
            cls = KINDS[b.kind][0]
            head, w = np.frombuffer(f"{PREFIX[cls]}-".encode(), np.uint8), widths[cls]
            rows = np.empty((b.count, head.size + w), np.uint8)
            rows[:, : head.size] = head
            k = np.arange(b.first, b.first + b.count, dtype=np.int64)
            for j in range(w - 1, -1, -1):
                rows[:, head.size + j] = k % 10 + 48
                k //= 10
            parts.append(rows.ravel())
            lengths[b.start : b.start + b.count] = rows.shape[1]
        offsets = np.zeros(self.n + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return np.concatenate(parts) if parts else np.empty(0, np.uint8), offsets

    def _widths(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for b in self.blocks:
            cls = KINDS[b.kind][0]
            total[cls] = total.get(cls, 0) + b.count
        return {c: max(6, len(str(t - 1))) for c, t in total.items()}


class _Builder:
    def __init__(self, n: int, seed: int):
        self.n = n
        self.rng = np.random.default_rng(seed)
        self.blocks: list[_Block] = []
        self.per_class: dict[str, int] = {}
        self.min_required = np.zeros(n, np.int32)
        self.support = np.full(n, -1, np.int32)
        self.edges: list[tuple[int, np.ndarray, np.ndarray]] = []
        self.next = 0

    def add(self, kind: str, count: int) -> np.ndarray:
        cls = KINDS[kind][0]
        first = self.per_class.get(cls, 0)
        self.per_class[cls] = first + count
        self.blocks.append(_Block(kind, self.next, count, first))
        self.next += count
        return np.arange(self.next - count, self.next, dtype=np.int64)

    def link(self, rel: str, src: Any, dst: Any) -> None:
        s, d = np.broadcast_arrays(np.asarray(src, np.int64), np.asarray(dst, np.int64))
        # int32 node numbers: the edge lists are most of the generator's memory at 10M CIs
        self.edges.append((_R[rel], s.astype(np.int32).ravel(), d.astype(np.int32).ravel()))

    def pick(self, pool: np.ndarray, size: int) -> np.ndarray:
        return pool[self.rng.integers(0, len(pool), size)]

    def dc_of(self, size: int) -> np.ndarray:
        return (self.rng.random(size) < _P_DC2).astype(np.int64)

    def one_in(self, pools: list[np.ndarray], dc: np.ndarray) -> np.ndarray:
        """A random member of the pool of each item's data centre (``dc`` is 0 or 1)."""
        out = np.empty(len(dc), np.int64)
        for d, pool in enumerate(pools):
            at = np.flatnonzero(dc == d)
            out[at] = self.pick(pool, at.size)
        return out

    def group(self, members: np.ndarray, groups: np.ndarray, k: Any) -> None:
        """``members`` join ``groups`` (one group per member); k is set per member's group."""
        self.link("member_of", members, groups)
        self.min_required[groups] = np.broadcast_to(k, groups.shape)


def _layout(n: int, seed: int) -> _Layout:
    if n < MIN_CIS:
        raise ValidationError(f"must be at least {MIN_CIS}, got {n}", field="n_cis")
    b = _Builder(n, seed)
    rng = b.rng
    pct = lambda per_mille, lo: max(lo, n * per_mille // 1000)  # noqa: E731

    n_branch = max(2, n // 25_000)
    n_rooms = max(1, n // 100_000)
    n_app = max(8, n // 250)
    n_appi = max(n_app + 8, pct(100, 0))
    n_db = max(6, n // 100)
    n_db_cl = n_db // 2
    n_mw_cl = max(1, n // 250_000)
    n_mw = max(2 * n_mw_cl + 2, pct(6, 0))
    n_hv = pct(16, 8)
    n_hvc = -(-n_hv // 8)
    n_dist = 2 * max(1, n // 20_000)  # per data centre
    n_acc = [pct(4, 4) // 2 * 2, pct(2, 2) // 2 * 2]  # per data centre, in pairs
    n_acc_br = max(n_branch, pct(4, 0))
    # applications and their instances decide how many pools there are
    inst_app = np.concatenate(
        [np.arange(n_app), b.pick(np.flatnonzero(np.arange(n_app) % 5 != 0), n_appi - n_app)]
    )
    pool_size = np.bincount(inst_app, minlength=n_app)
    pooled = np.flatnonzero(pool_size >= 2)
    fixed = {
        "datacenter": 2,
        "room": 2 * n_rooms,
        "branch": n_branch,
        "support_group": max(4, n // 5_000),
        "supplier": max(3, n // 20_000),
        "sla": max(3, n // 2_000),
        "customer": pct(40, 10),
        "business_service": max(4, n // 1_000),
        "technical_service": max(2, n // 2_500),
        "core_pair": 2,
        "wan_pair": 2,
        "dist_pair": n_dist,
        "access_pair": sum(n_acc) // 2,
        "core_switch": 4,
        "router": 4,
        "firewall": 4,
        "dist_switch": 2 * n_dist,
        "access_switch": sum(n_acc) + n_acc_br,
        "branch_router": n_branch,
        "load_balancer": 4 + n // 50_000,
        "appliance": max(1, n // 100_000),
        "storage": 2 * max(1, n // 40_000),
        "physical_server": pct(30, 6),
        "hypervisor_cluster": n_hvc,
        "hypervisor": n_hv,
        "virtual_machine": pct(250, 20),
        "pod": pct(15, 4),
        "container": pct(25, 4),
        "db_cluster": n_db_cl,
        "database_instance": n_db + n_db_cl,
        "database": n_db,
        "mw_cluster": n_mw_cl,
        "middleware": n_mw,
        "application": n_app,
        "app_pool": len(pooled),
        "application_instance": n_appi,
        "printer": pct(15, 2),
    }
    fixed["desktop"] = n - sum(fixed.values())
    if fixed["desktop"] < 1:
        raise ValidationError(f"{n} is too small for a layered estate", field="n_cis")
    node = {kind: b.add(kind, count) for kind, count in fixed.items()}

    # locations, parties, services
    dcs, rooms = node["datacenter"], node["room"].reshape(2, n_rooms)
    groups, suppliers = node["support_group"], node["supplier"]
    bsvc, tsvc, cust, sla = (
        node[k] for k in ("business_service", "technical_service", "customer", "sla")
    )
    b.link("located_in", rooms.ravel(), np.repeat(dcs, n_rooms))
    first = np.arange(min(len(cust), len(bsvc)))
    b.link("consumes", cust[first], bsvc[first])
    b.link("consumes", cust, b.pick(bsvc, len(cust)))
    extra = cust[rng.random(len(cust)) < 0.5]
    b.link("consumes", extra, b.pick(bsvc, len(extra)))
    b.link("covered_by", bsvc, b.pick(sla, len(bsvc)))
    b.link("covered_by", tsvc, b.pick(sla, len(tsvc)))
    vip = cust[rng.random(len(cust)) < 0.3]
    b.link("covered_by", vip, b.pick(sla, len(vip)))
    some = bsvc[rng.random(len(bsvc)) < 0.6]
    b.link("uses", some, b.pick(tsvc, len(some)))

    # network: per data centre a core switch pair, a WAN router pair, distribution and access
    # switch pairs. A dual-homed device depends on its pair (a group), not on both switches.
    core_pair, wan_pair = node["core_pair"], node["wan_pair"]
    b.group(node["core_switch"], np.repeat(core_pair, 2), 1)
    b.group(node["router"], np.repeat(wan_pair, 2), 1)
    dist = node["dist_switch"].reshape(2, n_dist)
    dist_pair = node["dist_pair"].reshape(2, n_dist // 2)
    b.group(dist.ravel(), np.repeat(dist_pair.ravel(), 2), 1)
    b.link("depends_on", dist.ravel(), np.repeat(core_pair, n_dist))
    for kind in ("router", "firewall"):
        edge = node[kind].reshape(2, 2)
        b.link("depends_on", edge.ravel(), np.repeat(core_pair, 2))
        b.link("located_in", edge.ravel(), np.repeat(rooms[:, 0], 2))
    b.link("connected_to", node["appliance"], b.pick(node["firewall"], len(node["appliance"])))
    acc_all = node["access_switch"]
    acc = [acc_all[: n_acc[0]], acc_all[n_acc[0] : sum(n_acc)]]
    acc_br = acc_all[sum(n_acc) :]
    acc_pair = node["access_pair"]
    b.group(acc_all[: sum(n_acc)], np.repeat(acc_pair, 2), 1)
    acc_pairs = [acc_pair[: n_acc[0] // 2], acc_pair[n_acc[0] // 2 :]]
    dist_pairs = [dist_pair[0], dist_pair[1]]
    for d in (0, 1):
        b.link("depends_on", acc[d], b.one_in(dist_pairs, np.full(n_acc[d], d)))
    lb = node["load_balancer"]
    lb_dc = np.arange(len(lb)) % 2
    b.link("depends_on", lb, b.one_in(dist_pairs, lb_dc))
    brtr = node["branch_router"]
    b.link("depends_on", brtr, wan_pair[b.dc_of(len(brtr))])
    br_of_acc = np.concatenate(
        [np.arange(n_branch), rng.integers(0, n_branch, n_acc_br - n_branch)]
    )
    b.link("connected_to", acc_br, brtr[br_of_acc])
    branch = node["branch"]
    b.link("located_in", brtr, branch)
    b.link("located_in", acc_br, branch[br_of_acc])
    for kind in ("core_switch", "dist_switch"):
        sw = node[kind].reshape(2, -1)
        b.link("located_in", sw.ravel(), np.repeat(rooms[:, 0], sw.shape[1]))

    def place(items: np.ndarray, dc: np.ndarray) -> None:
        b.link("located_in", items, rooms[dc, rng.integers(0, n_rooms, len(items))])

    for d in (0, 1):
        place(acc[d], np.full(n_acc[d], d))
    place(lb, lb_dc)

    # storage (the SAN) and servers
    sto = node["storage"].reshape(2, -1)
    sto_pools = [sto[0], sto[1]]
    sto_dc = np.repeat([0, 1], sto.shape[1])
    b.link("depends_on", sto.ravel(), b.one_in(dist_pairs, sto_dc))
    place(sto.ravel(), sto_dc)
    srv = node["physical_server"]
    srv_dc = b.dc_of(len(srv))
    b.link("depends_on", srv, b.one_in(acc_pairs, srv_dc))
    san = rng.random(len(srv)) < 0.5
    b.link("hosted_on", srv[san], b.one_in(sto_pools, srv_dc[san]))
    place(srv, srv_dc)
    db_hosts, mw_hosts, app_hosts = np.array_split(srv[: len(srv) // 2], 3)
    hvc, hv = node["hypervisor_cluster"], node["hypervisor"]
    hvc_dc = b.dc_of(len(hvc))
    hv_cl = np.arange(len(hv)) % len(hvc)
    size = np.bincount(hv_cl, minlength=len(hvc))
    b.group(hv, hvc[hv_cl], np.maximum(size - 1, 1)[hv_cl])
    rack = b.one_in(acc_pairs, hvc_dc)
    b.link("depends_on", hvc, rack)
    b.link("depends_on", hv, rack[hv_cl])
    b.link("hosted_on", hvc, b.one_in(sto_pools, hvc_dc))
    place(hv, hvc_dc[hv_cl])
    vm = node["virtual_machine"]
    vm_cl = rng.integers(0, len(hvc), len(vm))
    b.link("hosted_on", vm, hvc[vm_cl])
    place(vm, hvc_dc[vm_cl])
    b.link("hosted_on", vm, b.one_in(sto_pools, hvc_dc[vm_cl]))
    pod, ctr = node["pod"], node["container"]
    b.link("runs_on", pod, b.pick(vm[: max(4, len(vm) // 10)], len(pod)))
    b.link("runs_on", ctr, np.concatenate([pod, b.pick(pod, len(ctr) - len(pod))]))

    # data and middleware
    dbc, dbi, db = node["db_cluster"], node["database_instance"], node["database"]
    b.group(dbi[: 2 * n_db_cl], np.repeat(dbc, 2), 1)
    b.link("runs_on", db[:n_db_cl], dbc)
    b.link("depends_on", db[n_db_cl:], dbi[2 * n_db_cl :])
    b.link("hosted_on", dbc, b.pick(sto.ravel(), len(dbc)))
    on_vm = rng.random(len(dbi)) < 0.6
    b.link("runs_on", dbi[on_vm], b.pick(vm, int(on_vm.sum())))
    b.link("runs_on", dbi[~on_vm], b.pick(db_hosts, int((~on_vm).sum())))
    mwc, mw = node["mw_cluster"], node["middleware"]
    b.group(mw[: 2 * n_mw_cl], np.repeat(mwc, 2), 1)
    b.link("depends_on", mwc, b.pick(dist_pair.ravel(), len(mwc)))
    on_vm = rng.random(len(mw)) < 0.5
    b.link("runs_on", mw[on_vm], b.pick(vm, int(on_vm.sum())))
    b.link("runs_on", mw[~on_vm], b.pick(mw_hosts, int((~on_vm).sum())))

    # applications
    app, pool, appi = node["application"], node["app_pool"], node["application_instance"]
    single = np.flatnonzero(pool_size == 1)
    b.link("runs_on", app[single], appi[single])  # instance i belongs to application i
    b.link("runs_on", app[pooled], pool)
    pool_of = np.full(n_app, -1, np.int64)
    pool_of[pooled] = pool
    in_pool = pool_of[inst_app] >= 0
    b.group(appi[in_pool], pool_of[inst_app[in_pool]], 0)
    b.min_required[pool] = np.maximum(1, (2 * pool_size[pooled]) // 3)
    fronted = pool[rng.random(len(pool)) < 0.5]
    b.link("connected_to", fronted, b.pick(lb, len(fronted)))
    host_draw = rng.random(len(appi))
    on_ctr = np.flatnonzero(host_draw < 0.2)[: len(ctr)]
    on_srv = np.flatnonzero((host_draw >= 0.2) & (host_draw < 0.3))
    in_vm = np.flatnonzero(host_draw >= 0.3)
    b.link("runs_on", appi[on_ctr], ctr[rng.permutation(len(ctr))[: len(on_ctr)]])
    b.link("runs_on", appi[on_srv], b.pick(app_hosts, len(on_srv)))
    b.link("runs_on", appi[in_vm], b.pick(vm, len(in_vm)))
    b.link("uses", app[np.arange(n_db) % n_app], db)
    shared_db, shared_mw = db[: max(2, n // 200_000)], mwc
    heavy = app[rng.random(n_app) < 0.3]
    b.link("uses", heavy, b.pick(shared_db, len(heavy)))
    heavy = app[rng.random(n_app) < 0.4]
    b.link("depends_on", heavy, b.pick(shared_mw, len(heavy)))
    own_mw = mw[2 * n_mw_cl :]
    b.link("uses", b.pick(app, len(own_mw)), own_mw)
    callers = app[1:][rng.random(n_app - 1) < 0.25]
    b.link("uses", callers, app[(rng.random(len(callers)) * (callers - app[0])).astype(np.int64)])
    loops = rng.permutation(app)[: 2 * max(1, n_app // 500)].reshape(-1, 2)
    b.link("uses", loops[:, 0], loops[:, 1])
    b.link("uses", loops[:, 1], loops[:, 0])
    first = np.arange(min(n_app, len(bsvc)))
    b.link("provides", app[first], bsvc[first])
    b.link("provides", app, b.pick(bsvc, n_app))
    some = app[rng.random(n_app) < 0.3]
    b.link("provides", some, b.pick(tsvc, len(some)))
    b.link("provides", dbc[: len(shared_db)], b.pick(tsvc, len(shared_db)))

    # end-user devices
    pc, prn = node["desktop"], node["printer"]
    for devices in (pc, prn):
        in_dc = rng.random(len(devices)) < 0.15
        up = np.where(in_dc, b.pick(acc[0], len(devices)), b.pick(acc_br, len(devices)))
        b.link("connected_to", devices, up)
        b.link("located_in", devices[in_dc], dcs[0])
        local = ~in_dc
        b.link("located_in", devices[local], branch[br_of_acc[up[local] - acc_br[0]]])
    for share in (0.5, 0.2):  # half the desktops run a registered application, some two
        some = pc[rng.random(len(pc)) < share]
        b.link("uses", some, b.pick(app, len(some)))

    # ownership: support groups and suppliers
    owned = np.concatenate(
        [
            node[k]
            for k in (
                "business_service",
                "technical_service",
                "core_pair",
                "wan_pair",
                "dist_pair",
                "access_pair",
                "core_switch",
                "router",
                "firewall",
                "dist_switch",
                "access_switch",
                "branch_router",
                "load_balancer",
                "appliance",
                "storage",
                "physical_server",
                "hypervisor_cluster",
                "hypervisor",
                "virtual_machine",
                "pod",
                "container",
                "db_cluster",
                "database_instance",
                "database",
                "mw_cluster",
                "middleware",
                "application",
                "app_pool",
                "application_instance",
                "desktop",
                "printer",
            )
        ]
    )
    team = b.pick(groups, len(owned))
    team[np.isin(owned, np.concatenate([pc, prn]))] = groups[0]  # the service desk
    b.support[owned] = team
    b.link("supported_by", owned, team)
    hardware = np.concatenate(
        [
            node[k]
            for k in (
                "core_switch",
                "router",
                "firewall",
                "dist_switch",
                "access_switch",
                "branch_router",
                "load_balancer",
                "appliance",
                "storage",
                "physical_server",
                "hypervisor",
                "desktop",
                "printer",
            )
        ]
    )
    b.link("supplied_by", hardware, b.pick(suppliers, len(hardware)))
    b.link("supplied_by", app, b.pick(suppliers, n_app))
    return _finish(b)


def _finish(b: _Builder) -> _Layout:
    m = sum(s.size for _, s, _ in b.edges)
    rel, src, dst = np.empty(m, np.int8), np.empty(m, np.int32), np.empty(m, np.int32)
    at = 0
    for code, s, d in b.edges:
        rel[at : at + s.size], src[at : at + s.size], dst[at : at + s.size] = code, s, d
        at += s.size
    b.edges.clear()  # the pieces go as soon as they are copied
    keep = _first_of_each(src, dst, rel, b.n)
    crit = np.empty(b.n, np.int8)
    seen_mask = np.zeros(b.n, bool)
    for blk in b.blocks:
        _, _, rank, seen = KINDS[blk.kind]
        crit[blk.start : blk.start + blk.count] = rank
        seen_mask[blk.start : blk.start + blk.count] = seen
    ages = b.rng.exponential(6 * 3600.0, b.n)
    seen_mask &= b.rng.random(b.n) < 0.97
    last_seen = np.where(seen_mask, _EPOCH - np.round(ages), np.nan)
    return _Layout(
        n=b.n,
        blocks=tuple(b.blocks),
        criticality=crit,
        last_seen=last_seen,
        min_required=b.min_required,
        support=b.support,
        src=src[keep],
        dst=dst[keep],
        rel=rel[keep],
    )


_CHUNK = 1 << 22


def _first_of_each(src: np.ndarray, dst: np.ndarray, rel: np.ndarray, n: int) -> np.ndarray:
    """A mask of the edges to keep: no self-loops, and of equal (src, dst, rel) only the first.

    Memory-lean (one int64 key per edge, sorted in place, then chunks): at 10M CIs the edge
    lists are 40M long, and ``np.unique(..., return_index=True)`` took 1 GB more.

    >>> _first_of_each(np.array([0, 1, 0, 2, 0]), np.array([1, 1, 1, 0, 1]),
    ...                np.array([3, 3, 3, 3, 4]), 3).tolist()
    [True, False, False, True, True]
    """

    def key(lo: int, hi: int) -> np.ndarray:
        k = src[lo:hi].astype(np.int64)
        k *= n
        k += dst[lo:hi]
        k *= len(_RELS)
        k += rel[lo:hi]
        return k

    keep = src != dst
    ordered = key(0, src.size)
    ordered.sort()
    dup = ordered[1:][ordered[1:] == ordered[:-1]]  # keys that occur more than once
    del ordered
    if dup.size == 0:
        return keep
    dup = dup[np.concatenate(([True], dup[1:] != dup[:-1]))]
    at_list, key_list = [], []
    for lo in range(0, src.size, _CHUNK):
        k = key(lo, lo + _CHUNK)
        hit = np.flatnonzero(dup[np.minimum(np.searchsorted(dup, k), dup.size - 1)] == k)
        at_list.append(hit + lo)
        key_list.append(k[hit])
    at, ks = np.concatenate(at_list), np.concatenate(key_list)
    order = np.lexsort((at, ks))  # by key, then first occurrence first
    ks, at = ks[order], at[order]
    later = np.concatenate(([False], ks[1:] == ks[:-1]))
    keep[at[later]] = False
    return keep


def generate(
    n_cis: int,
    *,
    seed: int = 0,
    batch_size: int = 50_000,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[Batch]:
    """The estate of ``n_cis`` CIs as store batches of at most ``batch_size`` items.

    CIs come first, then relationships, so that every relationship's ends were emitted in an
    earlier batch or the same one. ``progress`` is called with the number of items (CIs plus
    relationships) of each batch and the total number of items, just before it is yielded. The
    layout is computed by this call; the pydantic objects are made lazily, one batch at a time.

    >>> batches = list(generate(600, seed=3, batch_size=1_000))
    >>> sum(len(b.cis) for b in batches), batches[0].cis[0].id
    (600, 'loc-000000')
    """
    if batch_size < 1:
        raise ValidationError(f"must be at least 1, got {batch_size}", field="batch_size")
    lay = _layout(n_cis, seed)
    return _batches(lay, batch_size, progress)


def _batches(
    lay: _Layout, size: int, progress: Callable[[int, int], None] | None
) -> Iterator[Batch]:
    ids = lay.ids()
    n, total = lay.n, lay.n + lay.src.size
    for lo in range(0, total, size):
        hi = min(lo + size, total)
        batch = Batch(
            cis=_cis(lay, ids, lo, min(hi, n)),
            relationships=_rels(lay, ids, max(lo, n) - n, max(hi, n) - n),
        )
        if progress is not None:
            progress(len(batch), total)
        yield batch


def _cis(lay: _Layout, ids: list[str], lo: int, hi: int) -> list[CI]:
    out: list[CI] = []
    for blk in lay.blocks:
        a, z = max(lo, blk.start), min(hi, blk.start + blk.count)
        cls, label, _, _ = KINDS[blk.kind]
        for i in range(a, z):
            k = i - blk.start + blk.first
            seen = lay.last_seen[i]
            team = int(lay.support[i])
            out.append(
                CI(
                    id=ids[i],
                    ci_class=cls,
                    name=f"{label} {k}",
                    criticality=_CRIT[int(lay.criticality[i])],
                    support_group=ids[team] if team >= 0 else None,
                    attributes=attributes(blk.kind, k),
                    min_required=int(lay.min_required[i]) or None,
                    last_seen={} if np.isnan(seen) else {SOURCE: datetime.fromtimestamp(seen, UTC)},
                )
            )
    return out


def _rels(lay: _Layout, ids: list[str], lo: int, hi: int) -> list[Relationship]:
    return [
        Relationship(source=ids[s], type=_RELS[r], target=ids[d])
        for s, d, r in zip(
            lay.src[lo:hi].tolist(), lay.dst[lo:hi].tolist(), lay.rel[lo:hi].tolist(), strict=True
        )
    ]


def generate_topology(n_cis: int, *, seed: int = 0, registry: Registry | None = None) -> Topology:
    """The same estate as :func:`generate`, as a topology snapshot built straight from arrays.

    Class and relationship-type codes follow ``registry`` (the built-in one by default).

    >>> topo = generate_topology(1_000, seed=7)
    >>> topo.class_of(topo.index("sw-000000")), int(topo.k_required()[topo.index("clu-000000")])
    ('switch', 1)
    """
    reg = registry if registry is not None else load_registry()
    lay = _layout(n_cis, seed)
    missing = sorted({KINDS[b.kind][0] for b in lay.blocks} - set(reg.class_names))
    missing += sorted(set(_RELS) - set(reg.rel_type_names))
    if missing:
        raise RegistryError(f"the registry lacks {', '.join(missing)}, which the generator uses")
    class_code = np.empty(lay.n, np.int16)
    for blk in lay.blocks:
        class_code[blk.start : blk.start + blk.count] = reg.class_names.index(KINDS[blk.kind][0])
    rel_code = np.asarray([reg.rel_type_names.index(r) for r in _RELS], np.int16)
    group_class = np.asarray([reg.is_group(c) for c in reg.class_names], bool)
    return Topology.build(
        version=0,
        class_names=reg.class_names,
        class_categories=[reg.classes[c].category for c in reg.class_names],
        rel_type_names=reg.rel_type_names,
        propagation=[reg.rel_type(t).propagation.value for t in reg.rel_type_names],
        ids=Ids(*lay.id_blob()),  # unique by construction (a prefix per class, numbered)
        class_code=class_code,
        is_group=group_class[class_code],
        min_required=lay.min_required,
        criticality=lay.criticality,
        last_seen=lay.last_seen,
        src=lay.src,
        dst=lay.dst,
        rtype=rel_code[lay.rel],
    )


def _reach(nxt: CSR, start: int) -> int:
    """How many nodes are reachable from ``start`` along the edges of ``nxt``."""
    seen = np.zeros(nxt.indptr.size - 1, bool)
    seen[start] = True
    slot = np.empty(seen.size, np.int64)
    frontier = np.asarray([start], np.int64)
    while frontier.size:
        _, out = nxt.gather(frontier)
        out = out[~seen[out]].astype(np.int64)
        order = np.arange(out.size)
        slot[out] = order  # the last write wins: keep one copy of each node, without sorting
        frontier = out[slot[out] == order]
        seen[frontier] = True
    return int(seen.sum()) - 1


def pick_probes(topo: Topology) -> dict[str, str]:
    """Ids of three benchmark probes: ``leaf`` (affects nothing), ``mid`` (a physical server
    that affects a moderate share of the estate) and ``hub`` (the core switch that affects most).

    A failure *affects* a CI when it can change its state (down, degraded or at risk): the CIs
    reachable along hard impact edges and membership edges (member -> group) together. The hub
    is a single switch, not its pair: its failure degrades the pair and puts most of the estate
    at risk, while nothing goes down. Meant for generated estates; it runs a few dozen
    breadth-first searches.
    """
    frm, to = topo.impact_edges()
    member, group = topo.membership_edges()
    affects = CSR.from_edges(topo.n, np.concatenate([frm, member]), np.concatenate([to, group]))
    deg = affects.degree()
    feeds = topo.dependencies.degree()
    leaf = np.flatnonzero(topo.class_mask("desktop", "customer") & (deg == 0) & (feeds > 0))
    if leaf.size == 0:
        leaf = np.flatnonzero((deg == 0) & (feeds > 0))
    # the top of the network: switches that affect something and that no failure hits directly
    top = np.flatnonzero(topo.class_mask("switch") & (deg > 0) & (feeds == 0))
    servers = np.flatnonzero(topo.class_mask("physical_server") & (deg > 0))
    if leaf.size == 0 or top.size == 0 or servers.size == 0:
        raise ValueError("the topology has no leaf, no top switch or no server that affects any")
    hub = max(top.tolist(), key=lambda s: (_reach(affects, s), -s))
    # mid: of a sample of servers, the one that affects the most, under a tenth of n
    sample = servers[np.linspace(0, servers.size - 1, min(31, servers.size)).astype(np.int64)]
    reach = {int(s): _reach(affects, int(s)) for s in sample}
    modest = [s for s, r in reach.items() if r <= topo.n // 10] or list(reach)
    mid = max(modest, key=lambda s: (reach[s], -s))
    return {"leaf": topo.ids[int(leaf[0])], "mid": topo.ids[mid], "hub": topo.ids[hub]}
