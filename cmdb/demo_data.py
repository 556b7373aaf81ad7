"""The tables behind :mod:`cmdb.demo`: the outsourced estate of a fictional city commercial bank.

The story follows chapter 1 of an ISO/IEC 20000 implementation guide: Chuangxin IT
(创新信息技术有限责任公司) runs the IT of banks; its IT service department has desktop, server,
network, database and application maintenance groups. Here it serves Huacheng City Commercial
Bank (华城市商业银行, "HCCB"): a head office, nine branches (one still being opened), a primary
data centre and a disaster-recovery site.

Row shapes (everything is plain data; :mod:`cmdb.demo` turns it into CIs and relationships):

* ``PROFILES``: profile -> (supplier id, attributes) shared by many CIs (hardware models, software).
* ``INFRA``: (id, class, name, support group, location, profile, criticality, extra attributes).
* ``GROUPS``: (id, class, name, support group, min_required, technology, criticality, members).
* ``LINKS``: one relationship per line, ``"source type target"``.
"""

# Tables read best as one row per line, so this module opts out of the line-length rule and
# of the formatter.
# ruff: noqa: E501
# fmt: off
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = [
    "BRANCHES",
    "CONSUMERS",
    "CONTRACTS",
    "CUSTOMERS",
    "GROUPS",
    "HQ_DEPTS",
    "INFRA",
    "LINKS",
    "LOCATIONS",
    "PROFILES",
    "SERVICES",
    "SUPPLIERS",
    "SUPPORT_GROUPS",
]

# (id, name, e-mail, on-call number, owner: the group's team lead)
SUPPORT_GROUPS = [
    ("sg-desktop", "Desktop maintenance group (桌面维护组)", "desktop@cx-it.cn", "+86-21-5550-0101", "wang.fang"),
    ("sg-server", "Server maintenance group (服务器维护组)", "server@cx-it.cn", "+86-21-5550-0102", "li.qiang"),
    ("sg-network", "Network maintenance group (网络维护组)", "network@cx-it.cn", "+86-21-5550-0103", "zhao.lei"),
    ("sg-database", "Database maintenance group (数据库维护组)", "dba@cx-it.cn", "+86-21-5550-0104", "chen.jing"),
    ("sg-application", "Application maintenance group (应用系统维护组)", "apps@cx-it.cn", "+86-21-5550-0105", "liu.yang"),
]

# (id, name, contract, contact)
SUPPLIERS = [
    ("sup-ibm", "IBM China", "CX-HW-2024-011 (Power, storage; 7x24 4h)", "ibm-support@cn.ibm.example"),
    ("sup-oracle", "Oracle China", "CX-SW-2023-007 (database premier support)", "oracle-mos@oracle.example"),
    ("sup-cisco", "Cisco Systems China", "CX-NW-2024-002 (SmartNet 8x5xNBD)", "tac@cisco.example"),
    ("sup-huawei", "Huawei Technologies", "CX-NW-2024-003 (7x24 4h onsite)", "support@huawei.example"),
    ("sup-microsoft", "Microsoft China", "CX-SW-2022-015 (Enterprise Agreement)", "premier@microsoft.example"),
    ("sup-vmware", "VMware (Broadcom)", "CX-SW-2024-021 (vSphere Enterprise Plus)", "support@vmware.example"),
    ("sup-lenovo", "Lenovo", "CX-HW-2023-030 (servers and PCs, 3y onsite)", "service@lenovo.example"),
    ("sup-hp", "HP Inc.", "CX-HW-2023-031 (printers, 1y)", "support@hp.example"),
    ("sup-f5", "F5 Networks", "CX-NW-2023-009 (premium)", "support@f5.example"),
    ("sup-sansec", "Sansec (三未信安)", "CX-SEC-2024-004 (HSM maintenance)", "support@sansec.example"),
    ("sup-hengtai", "Hengtai Banking Software (恒泰银行软件)", "CX-APP-2021-001 (core banking licence)", "pm@hengtai.example"),
    ("sup-china-telecom", "China Telecom (中国电信)", "CX-WAN-2024-001 (MPLS VPN, internet)", "noc@chinatelecom.example"),
    ("sup-china-unicom", "China Unicom (中国联通)", "CX-WAN-2024-002 (MPLS VPN, internet)", "noc@chinaunicom.example"),
]

# Underpinning contracts: what a supplier commits to for the CIs it covers, next to the SLAs
# they underpin (`cmdb impact suppliers svc-core-banking`: Cisco's next-business-day SmartNet
# under the 2-hour core banking SLA, on the switch both RAC nodes hang off, is the gap).
# (id, name, supplier, contract number, (availability, response min, resolution h), group, covers)
CONTRACTS = [
    ("uc-cisco-smartnet", "Cisco SmartNet 8x5xNBD: DC network", "sup-cisco", "CX-NW-2024-002", (0.999, 240, 24.0), "sg-network",
     ["sw-core-01", "sw-dc-acc-01", "sw-dc-acc-02", "sw-dc-acc-05", "rt-wan-01", "rt-wan-02", "rt-cup-01", "rt-cup-02", "fw-dmz-01", "fw-dmz-02"]),
    ("uc-ibm-power", "IBM Power and storage maintenance, 7x24 4-hour fix", "sup-ibm", "CX-HW-2024-011", (0.9999, 15, 4.0), "sg-server",
     ["pm-core-db-01", "pm-core-db-02", "pm-core-app-01", "pm-core-app-02", "stor-san-01", "sw-san-01", "sw-san-02"]),
    ("uc-oracle-support", "Oracle premier support: databases and middleware", "sup-oracle", "CX-SW-2023-007", (0.9995, 60, 24.0), "sg-database",
     ["db-core", "dbi-core-rac-1", "dbi-core-rac-2", "db-ob", "dbi-ob-1", "dbi-ob-2", "mw-core-tux-01", "mw-core-tux-02"]),
    ("uc-telecom-mpls", "China Telecom MPLS VPN lines, 7x24 2-hour restore", "sup-china-telecom", "CX-WAN-2024-001", (0.9995, 15, 2.0), "sg-network",
     ["rt-wan-01", "rt-br01", "rt-br03", "rt-br04", "rt-br06", "rt-br08"]),
]

# (id, name, kind, address, status)
LOCATIONS = [
    ("loc-dc-main", "Primary data centre, Zhangjiang (张江主数据中心)", "datacenter", "88 Keyuan Rd, Huacheng", "live"),
    ("loc-dc-dr", "Disaster-recovery site, Songjiang (松江灾备中心)", "datacenter", "12 Xinqiao Rd, Huacheng", "live"),
    ("loc-hq", "HCCB head office tower (总行大楼)", "office", "1 Renmin Ave, Huacheng", "live"),
]

# (nn, name, desktops, printers, router vendor, carrier, status)
BRANCHES = [
    (1, "Zhongshan Road Branch (中山路支行)", 14, 2, "cisco", "sup-china-telecom", "live"),
    (2, "Binhai Branch (滨海支行)", 12, 2, "huawei", "sup-china-unicom", "live"),
    (3, "High-tech Zone Branch (高新区支行)", 13, 2, "cisco", "sup-china-telecom", "live"),
    (4, "Old Town Branch (老城支行)", 10, 1, "huawei", "sup-china-telecom", "live"),
    (5, "Airport Road Branch (机场路支行)", 11, 2, "cisco", "sup-china-unicom", "live"),
    (6, "University Town Branch (大学城支行)", 9, 2, "huawei", "sup-china-telecom", "live"),
    (7, "Port Branch (港区支行)", 10, 2, "cisco", "sup-china-unicom", "live"),
    (8, "Xinhu Branch (新湖支行)", 12, 2, "huawei", "sup-china-telecom", "live"),
    (9, "Eastern New District Branch (东部新区支行)", 4, 1, "huawei", "sup-china-unicom", "planned"),
]

# Head office departments: (slug, name, desktops, contact)
HQ_DEPTS = [
    ("retail", "Retail Banking Dept (零售银行部)", 6, "sun.li@hccb.example"),
    ("corporate", "Corporate Banking Dept (公司银行部)", 6, "qian.hao@hccb.example"),
    ("finance", "Planning & Finance Dept (计划财务部)", 5, "zhou.min@hccb.example"),
    ("risk", "Risk Management Dept (风险管理部)", 4, "wu.tao@hccb.example"),
    ("card", "Bank Card Centre (银行卡中心)", 4, "zheng.yu@hccb.example"),
    ("ebank", "E-banking Dept (电子银行部)", 5, "feng.xue@hccb.example"),
    ("office", "General Office (办公室)", 4, "chu.jun@hccb.example"),
]

CUSTOMERS = HQ_DEPTS  # head office departments; branches are added as customers by the builder

# Business and technical services:
# (id, class, name, criticality, owner, service hours, (availability, response min, resolution h))
SERVICES = [
    ("svc-core-banking", "business_service", "Core banking (核心业务系统)", "critical", "hccb.zhou.min", "7x24", (0.9995, 15, 2.0)),
    ("svc-online-banking", "business_service", "Online banking (网上银行)", "critical", "hccb.feng.xue", "7x24", (0.999, 15, 4.0)),
    ("svc-atm-pos", "business_service", "ATM/POS switching (ATM/POS 前置交换)", "critical", "hccb.zheng.yu", "7x24", (0.9995, 15, 2.0)),
    ("svc-email", "business_service", "E-mail (电子邮件)", "high", "hccb.chu.jun", "7x24", (0.995, 30, 8.0)),
    ("svc-desktop", "business_service", "Office desktop service (办公桌面服务)", "medium", "hccb.chu.jun", "Mon-Fri 08:00-18:00", (0.99, 60, 24.0)),
    ("ts-identity", "technical_service", "Directory and authentication (AD)", "high", "liu.yang", "", None),
    ("ts-branch-wan", "technical_service", "Branch WAN (MPLS VPN)", "critical", "zhao.lei", "", None),
]

# Which customers consume which services; "branches" and "hq" expand to all of them.
CONSUMERS = {
    "svc-core-banking": ["branches", "hq-retail", "hq-corporate", "hq-finance", "hq-risk", "hq-card"],
    "svc-online-banking": ["hq-ebank", "hq-retail", "hq-corporate"],
    "svc-atm-pos": ["branches", "hq-card"],
    "svc-email": ["branches", "hq"],
    "svc-desktop": ["branches", "hq"],
}  # fmt: skip

# profile -> (supplier, attributes)
PROFILES: dict[str, tuple[str, dict[str, Any]]] = {
    "power-e980": ("sup-ibm", {"form": "minicomputer", "vendor": "IBM", "model": "Power E980", "os": "AIX 7.2", "cpu_count": 48, "memory_gb": 1024}),
    "power-s924": ("sup-ibm", {"form": "minicomputer", "vendor": "IBM", "model": "Power S924", "os": "AIX 7.2", "cpu_count": 24, "memory_gb": 512}),
    "sr650-win": ("sup-lenovo", {"form": "pc_server", "vendor": "Lenovo", "model": "ThinkSystem SR650", "os": "Windows Server 2019", "cpu_count": 32, "memory_gb": 256}),
    "sr650-rhel": ("sup-lenovo", {"form": "pc_server", "vendor": "Lenovo", "model": "ThinkSystem SR650", "os": "RHEL 7.9", "cpu_count": 32, "memory_gb": 384}),
    "esxi": ("sup-vmware", {"product": "VMware ESXi 7.0U3", "vendor": "Lenovo", "model": "ThinkSystem SR650 V2", "cpu_count": 64, "memory_gb": 768}),
    "vm-win": ("sup-microsoft", {"os": "Windows Server 2019", "cpu_count": 8, "memory_gb": 32}),
    "vm-rhel": ("sup-vmware", {"os": "RHEL 8.8", "cpu_count": 8, "memory_gb": 32}),
    "ds8886": ("sup-ibm", {"vendor": "IBM", "model": "DS8886", "capacity_tb": 220.0}),
    "oceanstor": ("sup-huawei", {"vendor": "Huawei", "model": "OceanStor 5500 V5", "capacity_tb": 180.0}),
    "v7000": ("sup-ibm", {"vendor": "IBM", "model": "Storwize V7000", "capacity_tb": 120.0}),
    "ts4500": ("sup-ibm", {"vendor": "IBM", "model": "TS4500 tape library", "capacity_tb": 900.0}),
    "nexus7k": ("sup-cisco", {"vendor": "Cisco", "model": "Nexus 7010", "layer": "core"}),
    "ce12800": ("sup-huawei", {"vendor": "Huawei", "model": "CloudEngine 12808", "layer": "core"}),
    "nexus9k": ("sup-cisco", {"vendor": "Cisco", "model": "Nexus 93180YC-EX", "layer": "access"}),
    "ce6800": ("sup-huawei", {"vendor": "Huawei", "model": "CloudEngine 6881", "layer": "access"}),
    "brocade": ("sup-ibm", {"vendor": "Brocade", "model": "G620 SAN switch", "layer": "core"}),
    "asr1k": ("sup-cisco", {"vendor": "Cisco", "model": "ASR 1002-HX"}),
    "ne40": ("sup-huawei", {"vendor": "Huawei", "model": "NetEngine 40E"}),
    "isr4451": ("sup-cisco", {"vendor": "Cisco", "model": "ISR 4451"}),
    "firepower": ("sup-cisco", {"vendor": "Cisco", "model": "Firepower 2140"}),
    "usg6680": ("sup-huawei", {"vendor": "Huawei", "model": "USG6680"}),
    "bigip": ("sup-f5", {"vendor": "F5", "model": "BIG-IP i5800"}),
    "hsm": ("sup-sansec", {"vendor": "Sansec", "model": "SJJ1310 financial HSM"}),
    "oracle": ("sup-oracle", {"engine": "oracle", "version": "19.21"}),
    "oracle-inst": ("sup-oracle", {"engine": "oracle", "port": 1521, "version": "19.21"}),
    "mssql": ("sup-microsoft", {"engine": "sqlserver", "version": "2016 SP3"}),
    "mssql-inst": ("sup-microsoft", {"engine": "sqlserver", "port": 1433, "version": "2016 SP3"}),
    "tuxedo": ("sup-oracle", {"product": "Oracle Tuxedo", "version": "12.2.2"}),
    "weblogic": ("sup-oracle", {"product": "Oracle WebLogic Server", "version": "12.2.1.4"}),
    "cbs": ("sup-hengtai", {"vendor": "Hengtai", "version": "V6.3.2"}),
    "branch-cisco": ("sup-cisco", {"vendor": "Cisco", "model": "ISR 4331"}),
    "branch-huawei": ("sup-huawei", {"vendor": "Huawei", "model": "AR6140"}),
    "access-cisco": ("sup-cisco", {"vendor": "Cisco", "model": "Catalyst 9200-48P", "layer": "access"}),
    "access-huawei": ("sup-huawei", {"vendor": "Huawei", "model": "S5735-L48P4X", "layer": "access"}),
    "pc": ("sup-lenovo", {"os": "Windows 10 Enterprise LTSC", "vendor": "Lenovo", "model": "ThinkCentre M720t"}),
    "printer": ("sup-hp", {"model": "HP LaserJet Pro M404dn", "vendor": "HP"}),
    "ms-app": ("sup-microsoft", {"vendor": "Microsoft", "version": "2019"}),
    "own-app": ("", {}),
}  # fmt: skip

_DC, _DR = "loc-dc-main", "loc-dc-dr"
_S, _N, _D, _A = "sg-server", "sg-network", "sg-database", "sg-application"

# (id, class, name, support group, location, profile, criticality, extra attributes)
INFRA: list[tuple[str, str, str, str, str, str, str, dict[str, Any]]] = [
    # network: data centre core, access, WAN, internet, UnionPay, firewalls, load balancers, SAN
    ("sw-core-01", "switch", "DC core switch A (Cisco)", _N, _DC, "nexus7k", "critical", {}),
    ("sw-core-02", "switch", "DC core switch B (Huawei)", _N, _DC, "ce12800", "critical", {}),
    ("sw-dc-acc-01", "switch", "DC access switch row A1", _N, _DC, "nexus9k", "high", {}),
    ("sw-dc-acc-02", "switch", "DC access switch row A2", _N, _DC, "nexus9k", "high", {}),
    ("sw-dc-acc-03", "switch", "DC access switch row B1", _N, _DC, "ce6800", "high", {}),
    ("sw-dc-acc-04", "switch", "DC access switch row B2", _N, _DC, "ce6800", "high", {}),
    ("sw-dc-acc-05", "switch", "DC access switch, minicomputer rack C", _N, _DC, "nexus9k", "high", {}),
    ("rt-wan-01", "router", "WAN aggregation router A (MPLS, China Telecom)", _N, _DC, "asr1k", "critical", {}),
    ("rt-wan-02", "router", "WAN aggregation router B (MPLS, China Unicom)", _N, _DC, "asr1k", "critical", {}),
    ("rt-inet-01", "router", "Internet edge router A (China Telecom)", _N, _DC, "ne40", "high", {}),
    ("rt-inet-02", "router", "Internet edge router B (China Unicom)", _N, _DC, "ne40", "high", {}),
    ("rt-cup-01", "router", "China UnionPay link router A", _N, _DC, "isr4451", "critical", {}),
    ("rt-cup-02", "router", "China UnionPay link router B", _N, _DC, "isr4451", "critical", {}),
    ("fw-dmz-01", "firewall", "DMZ firewall A", _N, _DC, "firepower", "critical", {}),
    ("fw-dmz-02", "firewall", "DMZ firewall B", _N, _DC, "firepower", "critical", {}),
    ("fw-int-01", "firewall", "Internal firewall A (branch zone)", _N, _DC, "usg6680", "critical", {}),
    ("fw-int-02", "firewall", "Internal firewall B (branch zone)", _N, _DC, "usg6680", "critical", {}),
    ("lb-web-01", "load_balancer", "Online banking load balancer A", _N, _DC, "bigip", "critical", {}),
    ("lb-web-02", "load_balancer", "Online banking load balancer B", _N, _DC, "bigip", "critical", {}),
    ("sw-san-01", "switch", "SAN fabric switch A", _S, _DC, "brocade", "critical", {}),
    ("sw-san-02", "switch", "SAN fabric switch B", _S, _DC, "brocade", "critical", {}),
    ("hsm-01", "appliance", "Payment HSM A (加密机)", _N, _DC, "hsm", "critical", {}),
    ("hsm-02", "appliance", "Payment HSM B (加密机)", _N, _DC, "hsm", "critical", {}),
    ("sw-dr-core-01", "switch", "DR core switch A", _N, _DR, "ce12800", "high", {}),
    ("sw-dr-core-02", "switch", "DR core switch B", _N, _DR, "ce12800", "high", {}),
    ("sw-dr-acc-01", "switch", "DR access switch A", _N, _DR, "ce6800", "medium", {}),
    ("sw-dr-acc-02", "switch", "DR access switch B", _N, _DR, "ce6800", "medium", {}),
    # storage
    ("stor-san-01", "storage", "Core banking SAN array (IBM DS8886)", _S, _DC, "ds8886", "critical", {}),
    ("stor-san-02a", "storage", "Virtualisation storage A (OceanStor)", _S, _DC, "oceanstor", "high", {}),
    ("stor-san-02b", "storage", "Virtualisation storage B (OceanStor)", _S, _DC, "oceanstor", "high", {}),
    ("stor-tape-01", "storage", "Backup tape library", _S, _DC, "ts4500", "medium", {}),
    ("stor-san-dr-01", "storage", "DR site storage (Storwize)", _S, _DR, "v7000", "medium", {}),
    # physical servers
    ("pm-core-db-01", "physical_server", "Core banking RAC node 1 (IBM Power)", _D, _DC, "power-e980", "critical", {"role": "oracle-rac"}),
    ("pm-core-db-02", "physical_server", "Core banking RAC node 2 (IBM Power)", _D, _DC, "power-e980", "critical", {"role": "oracle-rac"}),
    ("pm-core-app-01", "physical_server", "Core banking application server 1", _S, _DC, "power-s924", "critical", {"role": "tuxedo"}),
    ("pm-core-app-02", "physical_server", "Core banking application server 2", _S, _DC, "power-s924", "critical", {"role": "tuxedo"}),
    ("pm-atm-fep-01", "physical_server", "ATM front-end processor 1 (前置机)", _S, _DC, "sr650-rhel", "critical", {"role": "atm-fep"}),
    ("pm-atm-fep-02", "physical_server", "ATM front-end processor 2 (前置机)", _S, _DC, "sr650-rhel", "critical", {"role": "atm-fep"}),
    ("pm-atm-fep-03", "physical_server", "ATM front-end processor 3 (前置机)", _S, _DC, "sr650-rhel", "critical", {"role": "atm-fep"}),
    ("pm-ob-db-01", "physical_server", "Online banking DB server 1", _D, _DC, "sr650-rhel", "critical", {"role": "oracle"}),
    ("pm-ob-db-02", "physical_server", "Online banking DB server 2 (Data Guard standby)", _D, _DC, "sr650-rhel", "critical", {"role": "oracle"}),
    ("pm-file-01", "physical_server", "Head office file server", _S, _DC, "sr650-win", "medium", {"role": "file"}),
    ("pm-backup-01", "physical_server", "Backup master server", _S, _DC, "sr650-rhel", "medium", {"role": "backup"}),
    ("pm-ad-dc-02", "physical_server", "Domain controller 2 (DR site)", _S, _DR, "sr650-win", "high", {"role": "domain-controller"}),
    ("pm-legacy-01", "physical_server", "Old credit-card batch server (awaiting disposal)", _S, _DC, "sr650-rhel", "low", {"role": "legacy"}),
    ("nmap-host-0042", "physical_server", "Unreconciled host found by network scan", _S, _DC, "sr650-win", "medium", {}),
    # hypervisors (the hypervisor CI is the host)
    *[(f"hv-{i:02d}", "hypervisor", f"ESXi host {i:02d}", _S, _DC, "esxi", "high", {}) for i in range(1, 10)],
    *[(f"hv-dr-{i:02d}", "hypervisor", f"DR ESXi host {i:02d}", _S, _DR, "esxi", "medium", {}) for i in range(1, 5)],
    # virtual machines (no location: they live on a hypervisor cluster)
    *[(f"vm-ob-web-{i:02d}", "virtual_machine", f"Online banking web VM {i:02d}", _S, "", "vm-rhel", "critical", {"role": "web"}) for i in range(1, 5)],
    *[(f"vm-ob-app-{i:02d}", "virtual_machine", f"Online banking app VM {i:02d}", _S, "", "vm-rhel", "critical", {"role": "app"}) for i in range(1, 4)],
    ("vm-atm-sql-01", "virtual_machine", "ATM SQL Server node 1", _D, "", "vm-win", "critical", {"role": "sqlserver"}),
    ("vm-atm-sql-02", "virtual_machine", "ATM SQL Server node 2", _D, "", "vm-win", "critical", {"role": "sqlserver"}),
    ("vm-exch-01", "virtual_machine", "Exchange mailbox server 1", _S, "", "vm-win", "high", {"role": "exchange"}),
    ("vm-exch-02", "virtual_machine", "Exchange mailbox server 2", _S, "", "vm-win", "high", {"role": "exchange"}),
    ("vm-ad-dc-01", "virtual_machine", "Domain controller 1", _S, "", "vm-win", "high", {"role": "domain-controller"}),
    ("vm-print-01", "virtual_machine", "Print server", _S, "", "vm-win", "low", {"role": "print"}),
    ("vm-av-01", "virtual_machine", "Antivirus management server", _S, "", "vm-win", "medium", {"role": "antivirus"}),
    ("vm-mon-01", "virtual_machine", "Monitoring server (Zabbix)", _S, "", "vm-rhel", "medium", {"role": "monitoring"}),
    ("vm-wsus-01", "virtual_machine", "Windows update server (WSUS)", _S, "", "vm-win", "low", {"role": "wsus"}),
    ("vm-jump-01", "virtual_machine", "Administration jump host", _S, "", "vm-win", "medium", {"role": "jump"}),
    ("vm-dr-ob-web-01", "virtual_machine", "DR online banking web VM 01", _S, "", "vm-rhel", "medium", {"role": "web-standby"}),
    ("vm-dr-ob-web-02", "virtual_machine", "DR online banking web VM 02", _S, "", "vm-rhel", "medium", {"role": "web-standby"}),
    ("vm-dr-exch-01", "virtual_machine", "DR Exchange server", _S, "", "vm-win", "medium", {"role": "exchange-standby"}),
    ("vm-dr-file-01", "virtual_machine", "DR file server replica", _S, "", "vm-win", "low", {"role": "file-standby"}),
    # databases, instances, middleware, applications
    ("db-core", "database", "Core banking database CBSDB (Oracle RAC)", _D, "", "oracle", "critical", {}),
    ("dbi-core-rac-1", "database_instance", "CBSDB instance 1 (RAC)", _D, "", "oracle-inst", "critical", {}),
    ("dbi-core-rac-2", "database_instance", "CBSDB instance 2 (RAC)", _D, "", "oracle-inst", "critical", {}),
    ("db-ob", "database", "Online banking database EBKDB (Oracle)", _D, "", "oracle", "critical", {}),
    ("dbi-ob-1", "database_instance", "EBKDB primary instance", _D, "", "oracle-inst", "critical", {}),
    ("dbi-ob-2", "database_instance", "EBKDB standby instance (Data Guard)", _D, "", "oracle-inst", "critical", {}),
    ("db-atm", "database", "ATM/POS transaction database ATMP (SQL Server)", _D, "", "mssql", "critical", {}),
    ("dbi-atm-sql-1", "database_instance", "ATMP AlwaysOn replica 1", _D, "", "mssql-inst", "critical", {}),
    ("dbi-atm-sql-2", "database_instance", "ATMP AlwaysOn replica 2", _D, "", "mssql-inst", "critical", {}),
    ("mw-core-tux-01", "middleware", "Tuxedo domain on core app server 1", _A, "", "tuxedo", "critical", {}),
    ("mw-core-tux-02", "middleware", "Tuxedo domain on core app server 2", _A, "", "tuxedo", "critical", {}),
    *[(f"mw-ob-wls-{i:02d}", "middleware", f"WebLogic managed server {i:02d}", _A, "", "weblogic", "critical", {}) for i in range(1, 4)],
    ("app-core-banking", "application", "Core banking system (核心业务系统)", _A, "", "cbs", "critical", {}),
    ("app-teller", "application", "Branch teller front-end (柜面系统)", _A, "", "cbs", "critical", {}),
    ("app-ob-web", "application", "Online banking web tier", _A, "", "own-app", "critical", {"vendor": "HCCB in-house", "version": "4.8.0"}),
    ("app-ob-app", "application", "Online banking application tier", _A, "", "own-app", "critical", {"vendor": "HCCB in-house", "version": "4.8.0"}),
    ("app-atm-switch", "application", "ATM/POS switch (前置交换系统)", _A, "", "cbs", "critical", {"version": "3.2.7"}),
    ("app-exchange", "application", "Microsoft Exchange", _A, "", "ms-app", "high", {}),
    ("app-ad", "application", "Active Directory (hccb.local)", _S, "", "ms-app", "high", {}),
    ("app-fileshare", "application", "Office file shares", _S, "", "ms-app", "medium", {}),
    ("app-print", "application", "Print services", "sg-desktop", "", "ms-app", "low", {}),
    ("app-antivirus", "application", "Endpoint antivirus console", "sg-desktop", "", "own-app", "medium", {"vendor": "Symantec", "version": "14.3"}),
    ("app-monitoring", "application", "Zabbix monitoring", _S, "", "own-app", "medium", {"vendor": "Zabbix", "version": "6.0"}),
    ("app-backup", "application", "NetBackup", _S, "", "own-app", "medium", {"vendor": "Veritas", "version": "10.1"}),
    *[(f"ai-core-app-{i:02d}", "application_instance", f"Core banking instance {i:02d}", _A, "", "cbs", "critical", {"port": 9100}) for i in (1, 2)],
    *[(f"ai-ob-web-{i:02d}", "application_instance", f"Online banking web instance {i:02d}", _A, "", "own-app", "critical", {"port": 8443, "version": "4.8.0"}) for i in range(1, 5)],
    *[(f"ai-ob-app-{i:02d}", "application_instance", f"Online banking app instance {i:02d}", _A, "", "own-app", "critical", {"port": 7001, "version": "4.8.0"}) for i in range(1, 4)],
    *[(f"ai-atm-fep-{i:02d}", "application_instance", f"ATM front-end instance {i:02d}", _A, "", "cbs", "critical", {"port": 5000}) for i in range(1, 4)],
    *[(f"ai-exch-mbx-{i:02d}", "application_instance", f"Exchange mailbox role {i:02d}", _S, "", "ms-app", "high", {"port": 443}) for i in (1, 2)],
]

# (id, class, name, support group, min_required, technology/product, criticality, members)
GROUPS = [
    ("cl-core-sw", "cluster", "DC core switch pair", _N, 1, "VSS-style dual core, Cisco + Huawei", "critical", ["sw-core-01", "sw-core-02"]),
    ("cl-dc-acc-a", "cluster", "DC access switch pair A", _N, 1, "vPC", "high", ["sw-dc-acc-01", "sw-dc-acc-02"]),
    ("cl-dc-acc-b", "cluster", "DC access switch pair B", _N, 1, "M-LAG", "high", ["sw-dc-acc-03", "sw-dc-acc-04"]),
    ("cl-wan-rt", "cluster", "WAN router pair", _N, 1, "HSRP", "critical", ["rt-wan-01", "rt-wan-02"]),
    ("cl-inet-rt", "cluster", "Internet router pair (dual carrier)", _N, 1, "BGP dual-homing", "high", ["rt-inet-01", "rt-inet-02"]),
    ("cl-cup-rt", "cluster", "UnionPay router pair", _N, 1, "HSRP", "critical", ["rt-cup-01", "rt-cup-02"]),
    ("cl-fw-dmz", "cluster", "DMZ firewall HA pair", _N, 1, "active/standby HA", "critical", ["fw-dmz-01", "fw-dmz-02"]),
    ("cl-fw-int", "cluster", "Internal firewall HA pair", _N, 1, "HRP active/standby", "critical", ["fw-int-01", "fw-int-02"]),
    ("cl-lb-web", "cluster", "Online banking load balancer pair", _N, 1, "F5 device group", "critical", ["lb-web-01", "lb-web-02"]),
    ("cl-san-fabric", "cluster", "SAN fabric (dual)", _S, 1, "dual FC fabric", "critical", ["sw-san-01", "sw-san-02"]),
    ("cl-hsm", "cluster", "Payment HSM pair", _N, 1, "HSM pair", "critical", ["hsm-01", "hsm-02"]),
    ("cl-dr-core", "cluster", "DR core switch pair", _N, 1, "CSS stack", "high", ["sw-dr-core-01", "sw-dr-core-02"]),
    ("cl-dr-acc", "cluster", "DR access switch pair", _N, 1, "M-LAG", "medium", ["sw-dr-acc-01", "sw-dr-acc-02"]),
    ("cl-stor-virt", "cluster", "Virtualisation storage (active-active)", _S, 1, "HyperMetro", "high", ["stor-san-02a", "stor-san-02b"]),
    ("cl-core-rac", "cluster", "Core banking Oracle RAC (CBSDB)", _D, 1, "Oracle RAC 19c", "critical", ["dbi-core-rac-1", "dbi-core-rac-2"]),
    ("cl-core-app", "cluster", "Core banking application cluster", _A, 1, "Tuxedo MP domain", "critical", ["ai-core-app-01", "ai-core-app-02"]),
    ("cl-ob-db", "cluster", "Online banking DB (Data Guard)", _D, 1, "Oracle Data Guard fast-start failover", "critical", ["dbi-ob-1", "dbi-ob-2"]),
    ("cl-atm-sql", "cluster", "ATM SQL Server availability group", _D, 1, "SQL Server AlwaysOn AG", "critical", ["dbi-atm-sql-1", "dbi-atm-sql-2"]),
    ("cl-exch-dag", "cluster", "Exchange database availability group", _S, 1, "Exchange DAG", "high", ["ai-exch-mbx-01", "ai-exch-mbx-02"]),
    ("cl-ad-dc", "cluster", "Active Directory domain controllers", _S, 1, "AD multi-master replication", "high", ["vm-ad-dc-01", "pm-ad-dc-02"]),
    ("pool-atm-fep", "cluster", "ATM front-end processor pool (2 of 3)", _A, 2, "active-active pool", "critical", ["ai-atm-fep-01", "ai-atm-fep-02", "ai-atm-fep-03"]),
    ("pool-ob-web", "cluster", "Online banking web pool", _A, 2, "F5 pool", "critical", [f"ai-ob-web-{i:02d}" for i in range(1, 5)]),
    ("pool-ob-app", "cluster", "Online banking app pool", _A, 2, "WebLogic cluster", "critical", [f"ai-ob-app-{i:02d}" for i in range(1, 4)]),
    ("hvc-prod", "hypervisor_cluster", "Production vSphere cluster", _S, 6, "VMware vSphere 7 HA/DRS", "high", [f"hv-{i:02d}" for i in range(1, 9)]),
    ("hvc-dr", "hypervisor_cluster", "DR vSphere cluster", _S, 3, "VMware vSphere 7 HA", "medium", [f"hv-dr-{i:02d}" for i in range(1, 5)]),
]


def _each(fmt: str, ids: Iterable[object]) -> list[str]:
    return [fmt.format(i) for i in ids]


# One relationship per line: "source type target". Impact runs against to_source arrows
# (depends_on, runs_on, hosted_on, connected_to, uses, consumes) and along provides.
LINKS = [
    *_each("sw-dc-acc-0{} depends_on cl-core-sw", range(1, 6)),
    *_each("fw-int-0{} depends_on cl-core-sw", (1, 2)),
    *_each("fw-dmz-0{} depends_on cl-core-sw", (1, 2)),
    *_each("fw-dmz-0{} depends_on cl-inet-rt", (1, 2)),
    *_each("rt-wan-0{} depends_on cl-fw-int", (1, 2)),
    *_each("rt-cup-0{} depends_on cl-fw-int", (1, 2)),
    *_each("lb-web-0{} depends_on cl-fw-dmz", (1, 2)),
    *_each("hsm-0{} depends_on cl-dc-acc-a", (1, 2)),
    *_each("sw-dr-acc-0{} depends_on cl-dr-core", (1, 2)),
    "stor-san-01 depends_on cl-san-fabric",
    "stor-san-02a depends_on cl-san-fabric",
    "stor-san-02b depends_on cl-san-fabric",
    "stor-tape-01 depends_on cl-san-fabric",
    "stor-san-dr-01 depends_on cl-dr-acc",
    # the minicomputer rack: both RAC nodes were cabled to one access switch (the hidden SPOF)
    "pm-core-db-01 connected_to sw-dc-acc-05",
    "pm-core-db-02 connected_to sw-dc-acc-05",
    *_each("pm-core-db-0{} depends_on cl-san-fabric", (1, 2)),
    *_each("pm-core-app-0{} depends_on cl-dc-acc-b", (1, 2)),
    *_each("pm-atm-fep-0{} depends_on cl-dc-acc-a", (1, 2, 3)),
    *_each("pm-ob-db-0{} depends_on cl-dc-acc-b", (1, 2)),
    *_each("pm-ob-db-0{} depends_on cl-san-fabric", (1, 2)),
    "pm-file-01 depends_on cl-dc-acc-a",
    "pm-file-01 depends_on cl-stor-virt",
    "pm-backup-01 depends_on cl-dc-acc-a",
    "pm-backup-01 depends_on stor-tape-01",
    "pm-ad-dc-02 depends_on cl-dr-acc",
    *_each("hv-0{} depends_on cl-dc-acc-a", range(1, 5)),
    *_each("hv-0{} depends_on cl-dc-acc-b", range(5, 10)),
    *_each("hv-dr-0{} depends_on cl-dr-acc", range(1, 5)),
    "hvc-prod depends_on cl-stor-virt",
    *_each("vm-{} hosted_on hvc-prod", ["ob-web-01", "ob-web-02", "ob-web-03", "ob-web-04",
        "ob-app-01", "ob-app-02", "ob-app-03", "atm-sql-01", "atm-sql-02", "exch-01", "exch-02",
        "ad-dc-01", "print-01", "av-01", "mon-01", "wsus-01", "jump-01"]),
    *_each("vm-dr-{} hosted_on hvc-dr", ["ob-web-01", "ob-web-02", "exch-01", "file-01"]),
    *_each("vm-dr-{} hosted_on stor-san-dr-01", ["ob-web-01", "ob-web-02", "exch-01", "file-01"]),
    # core banking
    *_each("dbi-core-rac-{0} runs_on pm-core-db-0{0}", (1, 2)),
    "db-core runs_on cl-core-rac",
    "db-core hosted_on stor-san-01",
    *_each("mw-core-tux-0{0} runs_on pm-core-app-0{0}", (1, 2)),
    *_each("ai-core-app-0{0} runs_on mw-core-tux-0{0}", (1, 2)),
    "app-core-banking runs_on cl-core-app",
    "app-core-banking uses db-core",
    "app-core-banking provides svc-core-banking",
    "app-teller uses app-core-banking",
    "app-teller provides svc-core-banking",
    "svc-core-banking uses ts-branch-wan",
    "cl-wan-rt provides ts-branch-wan",
    # online banking
    *_each("ai-ob-web-0{0} runs_on vm-ob-web-0{0}", range(1, 5)),
    *_each("mw-ob-wls-0{0} runs_on vm-ob-app-0{0}", range(1, 4)),
    *_each("ai-ob-app-0{0} runs_on mw-ob-wls-0{0}", range(1, 4)),
    *_each("dbi-ob-{0} runs_on pm-ob-db-0{0}", (1, 2)),
    "db-ob runs_on cl-ob-db",
    "db-ob hosted_on stor-san-01",
    "app-ob-web runs_on pool-ob-web",
    "app-ob-web depends_on cl-lb-web",
    "app-ob-web uses app-ob-app",
    "app-ob-app runs_on pool-ob-app",
    "app-ob-app uses db-ob",
    "app-ob-app uses app-core-banking",
    "app-ob-web provides svc-online-banking",
    # ATM/POS switching
    *_each("ai-atm-fep-0{0} runs_on pm-atm-fep-0{0}", (1, 2, 3)),
    *_each("dbi-atm-sql-{0} runs_on vm-atm-sql-0{0}", (1, 2)),
    "db-atm runs_on cl-atm-sql",
    "app-atm-switch runs_on pool-atm-fep",
    "app-atm-switch uses db-atm",
    "app-atm-switch uses app-core-banking",
    "app-atm-switch depends_on cl-hsm",
    "app-atm-switch depends_on cl-cup-rt",
    "app-atm-switch provides svc-atm-pos",
    "svc-atm-pos uses ts-branch-wan",
    # mail, directory, office
    *_each("ai-exch-mbx-0{0} runs_on vm-exch-0{0}", (1, 2)),
    "app-exchange runs_on cl-exch-dag",
    "app-exchange uses app-ad",
    "app-exchange provides svc-email",
    "app-ad runs_on cl-ad-dc",
    "app-ad provides ts-identity",
    "svc-email uses ts-identity",
    "svc-desktop uses ts-identity",
    "app-fileshare runs_on pm-file-01",
    "app-fileshare uses app-ad",
    "app-fileshare provides svc-desktop",
    "app-print runs_on vm-print-01",
    "app-print provides svc-desktop",
    "app-antivirus runs_on vm-av-01",
    "app-monitoring runs_on vm-mon-01",
    "app-backup runs_on pm-backup-01",
]
# fmt: on
