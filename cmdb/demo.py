"""A deterministic demo CMDB: the outsourced estate of a city commercial bank.

Chuangxin IT (创新信息技术有限责任公司, from chapter 1 of an ISO/IEC 20000 implementation
guide) runs the IT of Huacheng City Commercial Bank: five business services with SLAs, the head
office departments and branches that consume them, and the applications, databases, servers,
storage and network under them, each supported by one of the five maintenance groups. The
tables live in :mod:`cmdb.demo_data`; this module turns them into one :class:`~cmdb.model.Batch`.

Assumptions: the output depends only on ``now`` (no randomness: serials, MACs and discovery times
are derived from a hash of the CI id). Every relationship satisfies the registry's rule table.
Redundancy is modelled with group CIs (``member_of`` + ``min_required``); a few data-quality
defects are planted on purpose and listed in :data:`DEFECTS`:

* ``missing_owner``: no ``owner``.
* ``orphan``: no relationship at all.
* ``stale``: every ``last_seen`` is :data:`STALE_DAYS` days before ``now`` (all other discovered
  CIs were seen within the last three days; CIs nobody discovers have an empty ``last_seen``).
* ``duplicate``: consecutive pairs of CIs that share an identifier (serial number or hostname).
* ``missing_recommended``: lacks recommended attributes of its class (every other CI has all).

The one hidden single point of failure is :data:`HIDDEN_SPOF`: both Oracle RAC nodes hang off the
same access switch. :data:`COLLIDING_CHANGES` overlap in time and each takes down one of the two
core switches of ``cl-core-sw``. Underpinning contracts (:data:`~cmdb.demo_data.CONTRACTS`)
cover some of the estate: one of them weaker than the SLAs it underpins, one as strong.

>>> from datetime import UTC, datetime
>>> batch = build_demo(now=datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
>>> len(batch.cis) >= 300, batch == build_demo(now=datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
(True, True)
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from cmdb.demo_data import (
    BRANCHES,
    CONSUMERS,
    CONTRACTS,
    GROUPS,
    HQ_DEPTS,
    INFRA,
    LINKS,
    LOCATIONS,
    PROFILES,
    SERVICES,
    SUPPLIERS,
    SUPPORT_GROUPS,
)
from cmdb.model import CI, Batch, Change, Identifiers, Incident, Problem, Record, Relationship

__all__ = ["COLLIDING_CHANGES", "DEFECTS", "HIDDEN_SPOF", "STALE_DAYS", "build_demo"]

STALE_DAYS = 120
HIDDEN_SPOF = "sw-dc-acc-05"
COLLIDING_CHANGES = ("CHG-000101", "CHG-000102")

# Attributes stripped from the CIs that plant the missing_recommended defect.
_STRIP = {"sw-br06-acc-01": ("vendor", "model"), "vm-mon-01": ("os",)}
# duplicate id -> (original id, which identifiers it copies)
_DUPLICATE_OF = {
    "nmap-host-0042": ("pm-file-01", "all"),
    "pc-hq-finance-003-old": ("pc-hq-finance-003", "hostname"),
}

DEFECTS: dict[str, list[str]] = {
    "missing_owner": ["pc-br04-003", "sw-br07-acc-01", "vm-jump-01"],
    "orphan": ["pm-legacy-01", "pc-hq-spare-01"],
    "stale": ["pc-br02-009", "prn-br06-02"],
    "duplicate": [x for dup, (orig, _) in _DUPLICATE_OF.items() for x in (orig, dup)],
    "missing_recommended": list(_STRIP),
}

_PHYSICAL = {"physical_server", "hypervisor", "storage", "switch", "router", "firewall",
             "load_balancer", "appliance", "desktop", "printer"}  # fmt: skip
_NETWORK = {"switch", "router", "firewall", "load_balancer", "appliance"}
_SOURCES = {
    "physical_server": ("agent", "nmap"),
    "hypervisor": ("vcenter", "nmap"),
    "virtual_machine": ("vcenter", "agent"),
    "storage": ("snmp",),
    "desktop": ("agent", "nmap"),
    "printer": ("nmap",),
    "application_instance": ("agent",),
    "middleware": ("agent",),
    "database_instance": ("agent",),
    **{cls: ("nmap", "snmp") for cls in _NETWORK},
}
_OUI = {"sup-ibm": "00:1a:64", "sup-lenovo": "6c:0b:84", "sup-cisco": "00:1b:54",
        "sup-huawei": "00:e0:fc", "sup-hp": "3c:52:82", "sup-f5": "00:23:e9"}  # fmt: skip
_SERIAL = {"sup-ibm": "78", "sup-lenovo": "J30", "sup-cisco": "FDO", "sup-huawei": "2102",
           "sup-hp": "VNB", "sup-f5": "F5-", "sup-vmware": "VMW-", "sup-sansec": "SJJ"}  # fmt: skip
_SURNAMES = "zhang wang li zhao liu chen yang huang zhou wu xu sun ma zhu hu guo he lin luo gao"
_GIVEN = "wei fang na min jing li qiang lei jun yan tao ming hui xia ping gang bin hong yu xin"
_ACCOUNT_MANAGER, _VENDOR_MANAGER, _FACILITIES = "ma.rui", "he.ping", "gao.feng"
# The bank works in Beijing time; each service's agreed change window (in its time zone).
_TIMEZONE = "Asia/Shanghai"
_CHANGE_WINDOW = {
    "svc-core-banking": "sun 00:00-06:00",
    "svc-online-banking": "sun 01:00-05:00",
    "svc-atm-pos": "sun 02:00-05:00",
    "svc-email": "sat,sun 00:00-06:00",
    "svc-desktop": "mon-fri 19:00-07:00; sat,sun 00:00-00:00",
    "ts-identity": "sat,sun 00:00-06:00",
    "ts-branch-wan": "sun 00:00-06:00",
}
_SERVICE_GROUP = {
    "svc-desktop": "sg-desktop",
    "ts-identity": "sg-server",
    "ts-branch-wan": "sg-network",
}


def _h(*parts: object) -> int:
    return int(hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:12], 16)


def _person(seed: str) -> str:
    n, s, g = _h(seed, "user"), _SURNAMES.split(), _GIVEN.split()
    return f"{s[n % len(s)]}.{g[n // len(s) % len(g)]}"


class _Builder:
    def __init__(self, now: datetime):
        self.now = now
        self.cis: dict[str, CI] = {}
        self.rels: dict[tuple[str, str, str], Relationship] = {}
        self._next_ip: dict[str, int] = {}
        self._owners = {row[0]: row[4] for row in SUPPORT_GROUPS}

    def link(self, source: str, rel_type: str, target: str) -> None:
        rel = Relationship(source=source, type=rel_type, target=target)
        self.rels.setdefault(rel.key, rel)

    def add(
        self,
        ci_id: str,
        cls: str,
        name: str,
        *,
        sg: str | None = None,
        loc: str = "",
        site: str = "",
        profile: str = "",
        crit: str = "medium",
        attrs: dict[str, Any] | None = None,
        status: str = "live",
        owner: str | None = None,
        min_required: int | None = None,
    ) -> None:
        supplier, base = PROFILES[profile] if profile else ("", {})
        attributes = {**base, **(attrs or {})}
        for key in _STRIP.get(ci_id, ()):
            attributes.pop(key, None)
        owner = owner or self._owners.get(sg or "")
        self.cis[ci_id] = CI(
            id=ci_id,
            ci_class=cls,
            name=name,
            status=status,
            criticality=crit,
            owner=None if ci_id in DEFECTS["missing_owner"] else owner,
            support_group=sg,
            identifiers=self._identifiers(ci_id, cls, site or loc, supplier),
            attributes=attributes,
            min_required=min_required,
            last_seen=self._last_seen(ci_id, cls, status),
        )
        if ci_id in DEFECTS["orphan"]:
            return
        if sg:
            self.link(ci_id, "supported_by", sg)
        if loc and (cls in _PHYSICAL or cls == "customer"):
            self.link(ci_id, "located_in", loc)
        if supplier:
            self.link(ci_id, "supplied_by", supplier)

    def _identifiers(self, ci_id: str, cls: str, site: str, supplier: str) -> Identifiers:
        if ci_id in _DUPLICATE_OF:
            orig_id, mode = _DUPLICATE_OF[ci_id]
            orig = self.cis[orig_id].identifiers
            if mode == "all":
                return orig.model_copy()
            return Identifiers(
                serial_number=self._serial(ci_id, supplier), hostnames=orig.hostnames,
                fqdn=orig.fqdn,
            )  # fmt: skip
        if cls not in _PHYSICAL and cls != "virtual_machine":
            return Identifiers()
        if not site:
            site = "loc-dc-dr" if ci_id.startswith("vm-dr-") else "loc-dc-main"
        prefix = {"loc-dc-main": "10.10", "loc-dc-dr": "10.20", "loc-hq": "10.50"}.get(site)
        prefix = prefix or f"10.{100 + int(site.removeprefix('loc-br'))}"
        kind = "0" if cls in _NETWORK else "1" if cls in ("desktop", "printer") else "10"
        subnet = f"{prefix}.{'20' if cls == 'virtual_machine' else kind}"
        host = self._next_ip.get(subnet, 11)
        self._next_ip[subnet] = host + 1
        domain = {"loc-dc-main": "dc", "loc-dc-dr": "dr"}.get(site, site.removeprefix("loc-"))
        n = _h(ci_id, "mac")
        oui = "00:50:56" if cls == "virtual_machine" else _OUI.get(supplier, "02:00:5e")
        mac = f"{oui}:{n >> 16 & 255:02x}:{n >> 8 & 255:02x}:{n & 255:02x}"
        return Identifiers(
            serial_number=self._serial(ci_id, supplier) if cls in _PHYSICAL else None,
            hostnames=[ci_id],
            fqdn=f"{ci_id}.{domain}.hccb.local",
            ips=[f"{subnet}.{host}"],
            macs=[mac],
        )

    @staticmethod
    def _serial(ci_id: str, supplier: str) -> str:
        return f"{_SERIAL.get(supplier, 'SN')}{_h(ci_id, 'serial') % 16**8:08X}"

    def _last_seen(self, ci_id: str, cls: str, status: str) -> dict[str, datetime]:
        if status == "planned" or cls not in _SOURCES:
            return {}
        back = timedelta(days=STALE_DAYS) if ci_id in DEFECTS["stale"] else timedelta()
        return {
            src: self.now - back - timedelta(minutes=_h(ci_id, src) % (3 * 24 * 60))
            for src in _SOURCES[cls]
        }


def _parties(b: _Builder) -> None:
    for sg_id, name, email, on_call, owner in SUPPORT_GROUPS:
        b.add(sg_id, "support_group", name, owner=owner, attrs={"email": email, "on_call": on_call})
    for sup_id, name, contract, contact in SUPPLIERS:
        attrs = {"contract": contract, "contact": contact}
        b.add(sup_id, "supplier", name, owner=_VENDOR_MANAGER, attrs=attrs)
    for uc_id, name, supplier, number, (target, response, resolution), sg, covers in CONTRACTS:
        uc: dict[str, Any] = {"contract": number, "availability_target": target,
                              "response_minutes": response,
                              "resolution_hours": resolution}  # fmt: skip
        b.add(uc_id, "underpinning_contract", name, sg=sg, owner=_VENDOR_MANAGER, attrs=uc)
        b.link(uc_id, "supplied_by", supplier)
        for ci_id in covers:
            b.link(ci_id, "covered_by", uc_id)
    for loc_id, name, kind, address, status in LOCATIONS:
        attrs = {"kind": kind, "address": address}
        b.add(loc_id, "location", name, owner=_FACILITIES, status=status, attrs=attrs)
    closing = (b.now + timedelta(days=6)).date(), (b.now + timedelta(days=7)).date()
    for svc_id, cls, name, crit, owner, hours, sla in SERVICES:
        sg = _SERVICE_GROUP.get(svc_id, "sg-application")
        attrs = {"service_hours": hours or "7x24", "timezone": _TIMEZONE,
                 "maintenance_window": _CHANGE_WINDOW[svc_id]}  # fmt: skip
        if svc_id == "svc-core-banking":
            attrs["freeze"] = f"{closing[0]}..{closing[1]} quarter-end closing (季末结账)"
        b.add(svc_id, cls, name, sg=sg, crit=crit, owner=owner, attrs=attrs)
        if sla:
            target, response, resolution = sla
            sla_attrs = {"availability_target": target, "response_minutes": response,
                         "resolution_hours": resolution}  # fmt: skip
            sla_id = "sla-" + svc_id.removeprefix("svc-")
            b.add(sla_id, "sla", f"SLA: {name}", sg=sg, crit=crit, owner=owner, attrs=sla_attrs)
            b.link(svc_id, "covered_by", sla_id)


def _infrastructure(b: _Builder) -> None:
    status_of = {"hv-09": "planned", "vm-dr-file-01": "maintenance"}
    for ci_id, cls, name, sg, loc, profile, crit, extra in INFRA:
        status = status_of.get(ci_id, "live")
        b.add(ci_id, cls, name, sg=sg, loc=loc, profile=profile, crit=crit, attrs=extra,
              status=status)  # fmt: skip
    for grp_id, cls, name, sg, k, tech, crit, members in GROUPS:
        attrs = {"product" if cls == "hypervisor_cluster" else "technology": tech}
        b.add(grp_id, cls, name, sg=sg, crit=crit, attrs=attrs, min_required=k)
        for member in members:
            b.link(member, "member_of", grp_id)
    for line in LINKS:
        b.link(*line.split())


def _site(b: _Builder, loc: str, slug: str, vendor: str, switches: int, status: str) -> list[str]:
    """A branch or office site: a router on the WAN and access switches behind it."""
    b.add(f"rt-{slug}", "router", f"{slug.upper()} router", sg="sg-network", loc=loc,
          profile=f"branch-{vendor}", crit="high", status=status)  # fmt: skip
    b.link(f"rt-{slug}", "depends_on", "cl-wan-rt")
    ids = [f"sw-{slug}-acc-{i:02d}" for i in range(1, switches + 1)]
    for sw in ids:
        b.add(sw, "switch", f"{slug.upper()} access switch {sw[-2:]}", sg="sg-network", loc=loc,
              profile=f"access-{vendor}", crit="medium", status=status)  # fmt: skip
        b.link(sw, "connected_to", f"rt-{slug}")
    return ids


def _end_user(b: _Builder, pc_id: str, loc: str, switch: str, status: str, apps: list[str]) -> None:
    b.add(pc_id, "desktop", f"Desktop {pc_id}", sg="sg-desktop", loc=loc, profile="pc",
          crit="low", status=status, attrs={"user": _person(pc_id)})  # fmt: skip
    b.link(pc_id, "connected_to", switch)
    for app in apps:
        b.link(pc_id, "accesses", app)


def _printer(b: _Builder, prn_id: str, loc: str, switch: str, status: str) -> None:
    b.add(prn_id, "printer", f"Printer {prn_id}", sg="sg-desktop", loc=loc, profile="printer",
          crit="low", status=status)  # fmt: skip
    b.link(prn_id, "connected_to", switch)


def _desktops(b: _Builder, slug: str, name: str, cust: str, pcs: list[str], status: str) -> None:
    """A site's desktops as a k-of-n group, which its customer depends on and which the desktop
    service is delivered through: losing one desktop degrades the site, losing its access switch
    takes it down. k is half of them, rounded up: a site works on with half its desk places."""
    grp = f"grp-{slug}-desktops"
    b.add(grp, "cluster", f"{name}: desktops", sg="sg-desktop", crit="medium", status=status,
          min_required=-(-len(pcs) // 2), attrs={"technology": "desk places"})  # fmt: skip
    for pc in pcs:
        b.link(pc, "member_of", grp)
    b.link(cust, "depends_on", grp)
    b.link("svc-desktop", "delivered_through", grp)


def _sites(b: _Builder) -> dict[str, list[str]]:
    """Branches and the head office; returns customer ids by consumer key."""
    customers: dict[str, list[str]] = {"branches": [], "hq": []}
    for nn, name, n_pc, n_prn, vendor, carrier, status in BRANCHES:
        loc, slug, cust = f"loc-br{nn:02d}", f"br{nn:02d}", f"cust-br{nn:02d}"
        b.add(loc, "location", name, owner=_FACILITIES, status=status,
              attrs={"kind": "branch", "address": f"{name.split(' (')[0]}, Huacheng"})  # fmt: skip
        b.add(cust, "customer", f"HCCB {name}", loc=loc, owner=_ACCOUNT_MANAGER, status=status,
              attrs={"segment": "branch", "contact": f"{slug}.manager@hccb.example"})  # fmt: skip
        customers["branches"].append(cust)
        (switch,) = _site(b, loc, slug, vendor, 1, status)
        b.link(f"rt-{slug}", "supplied_by", carrier)
        b.link(cust, "depends_on", f"rt-{slug}")
        pcs = [f"pc-{slug}-{i:03d}" for i in range(1, n_pc + 1)]
        for pc in pcs:
            _end_user(b, pc, loc, switch, status, ["app-teller", "app-ad"])
        _desktops(b, slug, name.split(" (")[0], cust, pcs, status)
        for i in range(1, n_prn + 1):
            st = "maintenance" if (nn, i) == (3, 2) else status
            _printer(b, f"prn-{slug}-{i:02d}", loc, switch, st)
    switches = _site(b, "loc-hq", "hq", "cisco", 3, "live")
    for k, (dept, name, n_pc, contact) in enumerate(HQ_DEPTS):
        cust, switch = f"cust-hq-{dept}", switches[k % 3]
        b.add(cust, "customer", f"HCCB head office: {name}", loc="loc-hq", owner=_ACCOUNT_MANAGER,
              attrs={"segment": "head office", "contact": contact})  # fmt: skip
        b.link(cust, "depends_on", "rt-hq")
        customers["hq"].append(cust)
        customers[f"hq-{dept}"] = [cust]
        pcs = [f"pc-hq-{dept}-{i:03d}" for i in range(1, n_pc + 1)]
        for pc in pcs:
            _end_user(b, pc, "loc-hq", switch, "live", ["app-ad"])
        _desktops(b, f"hq-{dept}", name.split(" (")[0], cust, pcs, "live")
    for i, switch in enumerate(switches, start=1):
        _printer(b, f"prn-hq-{i:02d}", "loc-hq", switch, "live")
    _end_user(b, "pc-hq-finance-003-old", "loc-hq", switches[2], "live", [])
    b.add("pc-hq-spare-01", "desktop", "Spare desktop (store room)", sg="sg-desktop", loc="loc-hq",
          profile="pc", crit="low", attrs={"user": "unassigned"})  # fmt: skip
    return customers


def _records(now: datetime) -> list[Record]:
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)

    def at(days: float, hours: float = 0) -> datetime:
        return day + timedelta(days=days, hours=hours)

    def ago(hours: float) -> datetime:
        return now - timedelta(hours=hours)

    return [
        Incident(id="INC-000001", title="CBSDB instance 1 evicted from the RAC cluster (ORA-29740)",
                 ci_ids=["pm-core-db-01", "dbi-core-rac-1"], urgency="high",
                 status="in_progress", priority=1, opened_at=ago(3), impact="high",
                 sla_id="sla-core-banking", response_due=ago(3 - 0.25), resolution_due=ago(1)),
        Incident(id="INC-000002", title="High-tech Zone branch printer offline",
                 ci_ids=["prn-br03-01"], urgency="low", priority=4, opened_at=ago(20),
                 impact="medium"),
        Incident(id="INC-000003", title="Exchange mailbox database dismounted on server 1",
                 ci_ids=["vm-exch-01", "ai-exch-mbx-01"], urgency="high", priority=2,
                 opened_at=ago(1.5), impact="medium", sla_id="sla-email",
                 response_due=ago(1.0), resolution_due=ago(1.5 - 8)),
        Incident(id="INC-000004", title="RAC interconnect packet loss, node 1 rebooted",
                 ci_ids=["pm-core-db-01"], urgency="high", status="closed", priority=1,
                 opened_at=ago(24 * 12), resolved_at=ago(24 * 12 - 2)),
        Incident(id="INC-000005", title="CRC errors and port flaps on minicomputer rack switch",
                 ci_ids=["sw-dc-acc-05", "pm-core-db-02"], urgency="medium", status="resolved",
                 priority=2, opened_at=ago(24 * 6), resolved_at=ago(24 * 6 - 5)),
        Incident(id="INC-000006", title="Teller cannot log on to the domain",
                 ci_ids=["pc-br05-004"], urgency="medium", status="closed", priority=3,
                 opened_at=ago(24 * 2), resolved_at=ago(24 * 2 - 1)),
        Incident(id="INC-000007", title="Printer drops off the network after firmware update",
                 ci_ids=["prn-br01-02"], urgency="low", status="resolved", priority=4,
                 opened_at=ago(24 * 9), resolved_at=ago(24 * 8)),
        Problem(id="PRB-000001", title="Recurring Oracle RAC node evictions on CBSDB",
                ci_ids=["pm-core-db-01", "pm-core-db-02", "sw-dc-acc-05"],
                incident_ids=["INC-000001", "INC-000004", "INC-000005"],
                suspected_root="sw-dc-acc-05"),
        Problem(id="PRB-000002", title="Branch printers lose their network after firmware 2.1",
                ci_ids=["prn-br01-02", "prn-br03-01"], incident_ids=["INC-000002", "INC-000007"],
                confirmed_root="prn-br01-02", known_error=True, status="known_error"),
        Change(id="CHG-000101", title="NX-OS upgrade on DC core switch A", ci_ids=["sw-core-01"],
               type="normal", status="approved", window_start=at(1, 22), window_end=at(2, 2)),
        Change(id="CHG-000102", title="Replace failed power supply on DC core switch B",
               ci_ids=["sw-core-02"], type="emergency", status="approved",
               window_start=at(1, 23), window_end=at(2, 1)),
        Change(id="CHG-000103", title="Monthly Windows patching of branch desktops",
               ci_ids=[f"pc-br01-{i:03d}" for i in range(1, 15)], type="standard",
               status="approved", window_start=at(3, 12), window_end=at(3, 14)),
        Change(id="CHG-000104", title="Rolling Oracle RU 19.22 on CBSDB instance 2",
               ci_ids=["dbi-core-rac-2", "pm-core-db-02"], type="normal", status="requested",
               window_start=at(5, 22), window_end=at(6, 4)),
        Change(id="CHG-000105", title="Add teller VLAN on Airport Road branch access switch",
               ci_ids=["sw-br05-acc-01"], type="standard", status="approved",
               window_start=at(2, 19), window_end=at(2, 20)),
        Change(id="CHG-000106", title="Move sw-dc-acc-05 uplinks to a second access switch",
               ci_ids=["sw-dc-acc-05", "pm-core-db-01", "pm-core-db-02"], type="normal",
               status="requested", window_start=at(8, 22), window_end=at(9, 2)),
        Change(id="CHG-000090", title="Exchange cumulative update on mailbox server 2",
               ci_ids=["vm-exch-02", "ai-exch-mbx-02"], type="normal", status="implemented",
               window_start=at(-10, 22), window_end=at(-9, 1), outcome="successful"),
        Change(id="CHG-000091", title="ATM front-end software 3.2.8 on processor 3",
               ci_ids=["ai-atm-fep-03", "pm-atm-fep-03"], type="normal", status="failed",
               window_start=at(-5, 22), window_end=at(-4, 0),
               outcome="rolled back: card-acceptor timeouts"),
        Change(id="CHG-000092", title="Firmware upgrade on DMZ firewall B", ci_ids=["fw-dmz-02"],
               type="normal", status="cancelled", window_start=at(-3, 22), window_end=at(-2, 0)),
    ]  # fmt: skip


def build_demo(*, now: datetime) -> Batch:
    """The demo estate as one batch: CIs, relationships and ITSM records relative to ``now``."""
    b = _Builder(now)
    _parties(b)
    _infrastructure(b)
    customers = _sites(b)
    for svc_id, keys in CONSUMERS.items():
        for key in keys:
            for cust in customers[key]:
                b.link(cust, "consumes", svc_id)
    return Batch(cis=list(b.cis.values()), relationships=list(b.rels.values()),
                 records=_records(now))  # fmt: skip
