"""The route modules, one per noun; :data:`ROUTERS` is what ``create_app`` mounts.

Every module has the same shape: a module docstring, ``router = policy.router(tags=[...])``,
its request bodies, then one function per route, each named as its entry in
:data:`api.policy.POLICY`, that parses, calls one function of ``cmdb/`` or ``impact/`` and
returns its typed result.
"""

from __future__ import annotations

from api.routes import (
    audit,
    cis,
    discovery,
    health,
    impact,
    keys,
    records,
    registry,
    relationships,
    releases,
    search,
    transfer,
)

__all__ = ["ROUTERS"]

ROUTERS = [
    health.router,
    cis.router,
    relationships.router,
    registry.router,
    records.router,
    impact.router,
    transfer.router,
    audit.router,
    discovery.router,
    keys.router,
    releases.router,
    search.router,
]
