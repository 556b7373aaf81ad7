"""Who may call what: the role each route needs, declared here and nowhere else.

Keys have one role (:class:`~cmdb.enums.Role`): ``reader`` may call every ``reader`` route;
``analyst`` and ``change_manager`` add their own; ``admin`` may call everything. Every route
under ``/api/v1`` except :data:`PUBLIC` must have an entry (``create_app`` refuses to start
otherwise), and the OpenAPI lists each operation's role as ``x-required-role``.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.routing import APIRoute

from api.deps import Caller, CallerDep
from api.problems import RESPONSES, ProblemError
from cmdb.enums import Role

__all__ = ["POLICY", "PUBLIC", "Authorized", "apply_policy", "router"]

R, A, C, ADMIN = Role.READER, Role.ANALYST, Role.CHANGE_MANAGER, Role.ADMIN

POLICY: dict[str, Role] = {
    # CIs, relationships and the registry
    "list_cis": R,
    "get_ci": R,
    "get_ci_page": R,
    "search": R,
    "create_ci": ADMIN,
    "patch_ci": ADMIN,
    "retire_ci": ADMIN,
    "list_relationships": R,
    "create_relationship": ADMIN,
    "retire_relationship": ADMIN,
    "list_classes": R,
    "list_relationship_types": R,
    # ITSM records
    "list_incidents": R,
    "get_incident": R,
    "open_incident": A,
    "resolve_incident": A,
    "incident_priority": R,
    "list_problems": R,
    "get_problem": R,
    "open_problem": A,
    "list_changes": R,
    "get_change": R,
    "record_change": C,
    "assess_change": C,
    "assess_proposed_change": C,
    # impact analysis
    "blast_radius": R,
    "depends_on": R,
    "impact_graph": R,
    "spof": R,
    "availability": R,
    "root_cause": A,
    # import and export
    "export_cmdb": R,
    "import_cmdb": ADMIN,
    # audit, history, baselines, discovery runs
    "audit_report": R,
    "list_history": R,
    "list_baselines": R,
    "take_baseline": ADMIN,
    "diff_baseline": R,
    "get_baseline": R,
    "audit_document": R,
    "list_discovery_runs": R,
    "discovery_diff": R,
    # releases and suppliers
    "create_release": C,
    "list_releases": R,
    "get_release": R,
    "assess_release": C,
    "impact_suppliers": R,
    # API keys
    "whoami": R,
    "list_api_keys": ADMIN,
    "create_api_key": ADMIN,
    "revoke_api_key": ADMIN,
}

PUBLIC = frozenset({"health"})
"""Routes that need no key."""


def _authorize(request: Request, caller: CallerDep) -> Caller:
    route = request.scope.get("route")
    needed = POLICY.get(getattr(route, "name", ""), Role.ADMIN)
    if not caller.role.allows(needed):
        raise ProblemError(
            403,
            f"this needs a key with the role {needed.value}"
            + ("" if needed is Role.ADMIN else " (or admin)")
            + "; "
            f"key {caller.key_id} has the role {caller.role.value}",
        )
    return caller


Authorized = Annotated[Caller, Depends(_authorize)]
"""The caller, checked against :data:`POLICY` for the route being called."""


def router(*, tags: list[str]) -> APIRouter:
    """A router whose every route needs a key allowed by :data:`POLICY`."""
    return APIRouter(
        tags=list[str | Enum](tags), dependencies=[Depends(_authorize)], responses=RESPONSES
    )


def apply_policy(routers: Sequence[APIRouter]) -> None:
    """Check that every route of ``routers`` has a policy entry (or is public) and a unique
    name, and write each one's role into its OpenAPI operation. Called on the routers before
    they are mounted (an app's own route list is not a stable thing to walk: FastAPI >= 0.165
    keeps included routers as lazy objects)."""
    names: set[str] = set()
    for module_router in routers:
        for route in module_router.routes:
            if not isinstance(route, APIRoute):
                continue
            if route.name in names:
                raise RuntimeError(f"two routes are named {route.name!r}: names must be unique")
            names.add(route.name)
            if route.name in PUBLIC:
                continue
            if route.name not in POLICY:
                raise RuntimeError(f"route {route.name!r} ({route.path}) has no entry in POLICY")
            role = POLICY[route.name].value
            if (route.openapi_extra or {}).get("x-required-role") == role:
                continue  # already applied (an app built twice in one process)
            route.openapi_extra = {**(route.openapi_extra or {}), "x-required-role": role}
            note = f"Needs a key with the role `{role}`" + (
                "" if role == "admin" else " or `admin`"
            )
            route.description = (
                f"{route.description}\n\n{note}." if route.description else note + "."
            )
    unused = set(POLICY) - names
    if unused:
        raise RuntimeError(f"POLICY names routes that do not exist: {sorted(unused)}")
