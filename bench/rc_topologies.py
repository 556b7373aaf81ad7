"""Small real-world-shaped topologies for the root-cause benchmark, modelled on public
microservice demos: a shop (Online Boutique: front end, cart with a cache, catalogue, checkout
calling payment, shipping and e-mail), Sock Shop (services each with its own database, a queue)
and a hotel reservation system (DeathStarBench: services with a cache and a database each).

Each service is an application on a Kubernetes node (a virtual machine); nodes run on two
hypervisors behind one access switch and the core; the front end runs as two replicas (a 1-of-2
pool). A business service is provided by the front end, consumed by a customer, covered by an
SLA. Calls are ``depends_on`` (hard), hosting ``runs_on`` / ``hosted_on``.

>>> t = shop()
>>> t.n > 20, "frontend" in t
(True, True)
"""

from __future__ import annotations

from collections.abc import Callable

from cmdb.registry import load_registry
from cmdb.topology import Topology

__all__ = ["TOPOLOGIES", "hotel", "shop", "sockshop"]

Calls = dict[str, list[str]]


def _build(name: str, calls: Calls, stores: dict[str, str], nodes: int = 4) -> Topology:
    """``calls``: service -> the services and stores it calls; ``stores``: store -> class."""
    reg = load_registry()
    cis: dict[str, str] = {}
    edges: list[tuple[str, str, str]] = []
    cis.update(
        {"core-sw": "switch", "acc-sw": "switch", "hv-1": "hypervisor", "hv-2": "hypervisor"}
    )
    edges += [("acc-sw", "depends_on", "core-sw")]
    edges += [(h, "depends_on", "acc-sw") for h in ("hv-1", "hv-2")]
    for k in range(nodes):
        cis[f"node-{k + 1}"] = "virtual_machine"
        edges.append((f"node-{k + 1}", "hosted_on", f"hv-{k % 2 + 1}"))
    placed = 0
    for svc in [*calls, *stores]:
        cis[svc] = stores.get(svc, "application")
        if svc == "frontend":
            cis["frontend-pool"] = "cluster"
            edges.append(("frontend", "runs_on", "frontend-pool"))
            for r in (1, 2):
                pod = f"frontend-{r}"
                cis[pod] = "application_instance"
                edges += [(pod, "member_of", "frontend-pool"), (pod, "runs_on", f"node-{r}")]
            continue
        edges.append((svc, "runs_on", f"node-{placed % nodes + 1}"))
        placed += 1
    for svc, callees in calls.items():
        edges += [(svc, "depends_on", c) for c in callees]
    cis.update({f"bs-{name}": "business_service", "customers": "customer", "sla": "sla"})
    edges += [
        ("frontend", "provides", f"bs-{name}"),
        ("customers", "consumes", f"bs-{name}"),
        (f"bs-{name}", "covered_by", "sla"),
    ]
    ids = list(cis)
    at = {ci: i for i, ci in enumerate(ids)}
    names = reg.class_names
    return Topology.build(
        version=0,
        class_names=names,
        class_categories=[reg.classes[c].category for c in names],
        rel_type_names=reg.rel_type_names,
        propagation=[reg.rel_type(t).propagation.value for t in reg.rel_type_names],
        ids=ids,
        class_code=[names.index(cis[ci]) for ci in ids],
        is_group=[reg.is_group(cis[ci]) for ci in ids],
        min_required=[1 if reg.is_group(cis[ci]) else 0 for ci in ids],
        src=[at[s] for s, _, _ in edges],
        dst=[at[d] for _, _, d in edges],
        rtype=[reg.rel_type_names.index(t) for _, t, _ in edges],
    )


def shop() -> Topology:
    """Online Boutique: a front end calling the shop's services; checkout calls payment,
    shipping and e-mail; the cart keeps its state in a cache."""
    calls = {
        "frontend": [
            "cart",
            "catalogue",
            "currency",
            "recommendation",
            "ad",
            "checkout",
            "shipping",
        ],
        "checkout": ["payment", "shipping", "email", "currency", "cart", "catalogue"],
        "recommendation": ["catalogue"],
        "cart": ["redis-cart"],
        "catalogue": ["catalogue-db"],
        "payment": [],
        "shipping": [],
        "email": [],
        "currency": [],
        "ad": [],
    }
    return _build("shop", calls, {"redis-cart": "database", "catalogue-db": "database"})


def sockshop() -> Topology:
    """Sock Shop: services each with its own database; shipping hands work to a queue."""
    calls = {
        "frontend": ["catalogue", "carts", "orders", "user"],
        "orders": ["payment", "shipping", "user", "carts", "orders-db"],
        "catalogue": ["catalogue-db"],
        "carts": ["carts-db"],
        "user": ["user-db"],
        "shipping": ["queue"],
        "queue-master": ["queue"],
        "payment": [],
    }
    stores = {
        "catalogue-db": "database",
        "carts-db": "database",
        "orders-db": "database",
        "user-db": "database",
        "queue": "middleware",
    }
    return _build("sockshop", calls, stores)


def hotel() -> Topology:
    """DeathStarBench hotel reservation: search over geo and rate, each service with a cache
    and a database."""
    calls = {
        "frontend": ["search", "user", "recommendation", "reservation", "profile"],
        "search": ["geo", "rate"],
        "geo": ["mongo-geo"],
        "rate": ["memc-rate", "mongo-rate"],
        "profile": ["memc-profile", "mongo-profile"],
        "reservation": ["memc-reserve", "mongo-reservation"],
        "user": ["mongo-user"],
        "recommendation": ["mongo-recommendation"],
    }
    stores = {
        s: "database"
        for s in (
            "mongo-geo",
            "mongo-rate",
            "mongo-profile",
            "mongo-reservation",
            "mongo-user",
            "mongo-recommendation",
        )
    }
    stores.update({s: "middleware" for s in ("memc-rate", "memc-profile", "memc-reserve")})
    return _build("hotel", calls, stores, nodes=5)


TOPOLOGIES: dict[str, Callable[[], Topology]] = {"shop": shop, "sockshop": sockshop, "hotel": hotel}
