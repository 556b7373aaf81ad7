"""The per-kind tables of :mod:`cmdb.generator`: classes, labels, id prefixes and attributes.

Assumptions: a *kind* is a role in the generated estate (``dist_switch``, ``access_pair``), finer
than a registry class (both are ``switch`` / ``cluster``). Attributes are a pure function of
``(kind, k)``, where k is the CI's number within its class, so that they cost nothing to store.

>>> KINDS["dist_pair"][0], PREFIX["cluster"]
('cluster', 'clu')
>>> attributes("access_pair", 3)
{'technology': 'MLAG'}
"""

from __future__ import annotations

from typing import Any

__all__ = ["KINDS", "PREFIX", "attributes"]

PREFIX = {
    "application": "app",
    "application_instance": "appi",
    "appliance": "apl",
    "business_service": "bsvc",
    "cluster": "clu",
    "container": "ctr",
    "customer": "cust",
    "database": "db",
    "database_instance": "dbi",
    "desktop": "pc",
    "firewall": "fw",
    "hypervisor": "hv",
    "hypervisor_cluster": "hvc",
    "load_balancer": "lb",
    "location": "loc",
    "middleware": "mw",
    "physical_server": "srv",
    "pod": "pod",
    "printer": "prn",
    "router": "rtr",
    "sla": "sla",
    "storage": "sto",
    "supplier": "supp",
    "support_group": "grp",
    "switch": "sw",
    "technical_service": "tsvc",
    "virtual_machine": "vm",
}
"""Id prefix of each registry class: ids are ``<prefix>-<number within the class>``."""

# kind -> (class, label, criticality rank, discovered: has last_seen)
KINDS: dict[str, tuple[str, str, int, bool]] = {
    "datacenter": ("location", "Data centre", 3, False),
    "room": ("location", "Server room", 2, False),
    "branch": ("location", "Branch office", 2, False),
    "support_group": ("support_group", "Support team", 2, False),
    "supplier": ("supplier", "Supplier", 2, False),
    "sla": ("sla", "SLA", 3, False),
    "customer": ("customer", "Customer", 2, False),
    "business_service": ("business_service", "Business service", 4, False),
    "technical_service": ("technical_service", "Technical service", 3, False),
    "core_pair": ("cluster", "Core switch pair", 4, False),
    "wan_pair": ("cluster", "WAN router pair", 4, False),
    "dist_pair": ("cluster", "Distribution switch pair", 3, False),
    "access_pair": ("cluster", "Access switch pair", 2, False),
    "core_switch": ("switch", "Core switch", 4, True),
    "router": ("router", "Core router", 4, True),
    "firewall": ("firewall", "Perimeter firewall", 4, True),
    "dist_switch": ("switch", "Distribution switch", 3, True),
    "access_switch": ("switch", "Access switch", 2, True),
    "branch_router": ("router", "Branch router", 2, True),
    "load_balancer": ("load_balancer", "Load balancer", 3, True),
    "appliance": ("appliance", "HSM", 3, True),
    "storage": ("storage", "SAN array", 4, True),
    "physical_server": ("physical_server", "Server", 2, True),
    "hypervisor_cluster": ("hypervisor_cluster", "Hypervisor cluster", 3, False),
    "hypervisor": ("hypervisor", "Hypervisor host", 2, True),
    "virtual_machine": ("virtual_machine", "Virtual machine", 2, True),
    "pod": ("pod", "Pod", 2, True),
    "container": ("container", "Container", 2, True),
    "db_cluster": ("cluster", "Database cluster", 3, False),
    "database_instance": ("database_instance", "Database instance", 3, True),
    "database": ("database", "Database", 3, True),
    "mw_cluster": ("cluster", "Middleware cluster", 3, False),
    "middleware": ("middleware", "Middleware", 3, True),
    "application": ("application", "Application", 3, True),
    "app_pool": ("cluster", "Application pool", 3, False),
    "application_instance": ("application_instance", "Application instance", 2, True),
    "desktop": ("desktop", "Desktop", 1, True),
    "printer": ("printer", "Printer", 1, True),
}
"""Every kind of generated CI: (registry class, name label, criticality rank, discovered)."""

_ENGINES = ("oracle", "sqlserver", "postgresql", "mysql", "db2", "postgresql", "oracle")
_MW = ("IBM MQ", "Kafka", "RabbitMQ", "Tomcat", "WebLogic", "JBoss EAP", "Tibco EMS")
_VENDORS = ("Dell", "HPE", "Lenovo", "Cisco", "Juniper", "Arista", "NetApp", "Pure")
_OS = ("RHEL 8", "RHEL 9", "Windows Server 2019", "Windows Server 2022", "Ubuntu 22.04")
_TECHNOLOGY = {
    "core_pair": "vPC",
    "wan_pair": "HSRP",
    "dist_pair": "vPC",
    "access_pair": "MLAG",
    "db_cluster": "Pacemaker",
    "mw_cluster": "active/standby",
    "app_pool": "LB pool",
}


def attributes(kind: str, k: int) -> dict[str, Any]:
    """Plausible attributes of CI number ``k`` of its class: a pure function of (kind, k)."""
    h = (k * 2654435761 >> 8) & 0xFFFF
    vendor, os_ = _VENDORS[h % len(_VENDORS)], _OS[h % len(_OS)]
    tier = h % 4
    if kind in ("datacenter", "room", "branch"):
        return {"kind": "room" if kind == "room" else kind, "address": f"{k + 1} Main Street"}
    if kind == "support_group":
        return {"email": f"team{k}@example.com", "on_call": f"+1-555-{k % 10_000:04d}"}
    if kind == "supplier":
        return {"contract": f"C-{k:05d}", "contact": f"accounts{k}@supplier.example"}
    if kind == "sla":
        return {
            "availability_target": (0.99, 0.995, 0.999, 0.9995)[tier],
            "response_minutes": (240, 60, 30, 15)[tier],
            "resolution_hours": (72.0, 24.0, 8.0, 4.0)[tier],
        }
    if kind == "customer":
        return {
            "segment": ("retail", "corporate", "public", "wholesale")[tier],
            "contact": f"customer{k}@example.com",
        }
    if kind in ("business_service", "technical_service"):
        return {"service_hours": "24x7" if tier else "business hours"}
    if kind in ("core_switch", "dist_switch", "access_switch"):
        return {
            "vendor": vendor,
            "model": f"X{9300 + tier}",
            "layer": kind.split("_")[0].replace("dist", "distribution"),
        }
    if kind in ("router", "branch_router", "firewall"):
        return {"vendor": vendor, "model": f"M{100 + tier}"}
    if kind in ("load_balancer", "appliance"):
        return {"vendor": vendor}
    if kind == "storage":
        return {"vendor": vendor, "capacity_tb": float(200 + 50 * tier)}
    if kind == "physical_server":
        return {
            "form": ("pc_server", "blade", "pc_server", "minicomputer")[tier],
            "os": os_,
            "vendor": vendor,
            "model": f"R{640 + 10 * tier}",
            "cpu_count": 16 << tier % 3,
            "memory_gb": 128 << tier % 3,
        }
    if kind in ("hypervisor", "hypervisor_cluster"):
        return {"product": "VMware ESXi 8" if tier else "KVM"}
    if kind in _TECHNOLOGY:
        return {"technology": _TECHNOLOGY[kind]}
    if kind == "virtual_machine":
        return {"os": os_, "cpu_count": 2 << tier % 3, "memory_gb": 8 << tier % 3}
    if kind == "pod":
        return {"namespace": f"ns-{h % 97:02d}"}
    if kind == "container":
        return {"image": f"registry.example/app-{h % 500}:1.{tier}"}
    if kind in ("database", "database_instance"):
        port = {"port": 1521 + tier} if kind == "database_instance" else {"version": f"{12 + tier}"}
        return {"engine": _ENGINES[h % len(_ENGINES)], **port}
    if kind == "middleware":
        return {"product": _MW[h % len(_MW)], "version": f"9.{tier}"}
    if kind == "application":
        return {"version": f"{1 + tier}.{h % 10}", "vendor": ("in-house", "SAP", "Oracle")[h % 3]}
    if kind == "application_instance":
        return {"version": f"{1 + tier}.{h % 10}", "port": 8080 + tier}
    if kind == "desktop":
        return {"os": ("Windows 11", "Windows 10", "macOS 14")[h % 3], "user": f"user{k}"}
    if kind == "printer":
        return {"model": f"LaserJet {400 + tier}"}
    return {}
