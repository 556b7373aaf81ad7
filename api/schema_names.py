"""The names the registry and the audit rules define, written into the OpenAPI as enums.

A class, a relationship type or an audit rule is free text to FastAPI, but only the names the
store's registry (and the server's audit rules) define are valid: a client reading the OpenAPI
should see them, and a request that the schema allows should not be refused for a misspelt
name. The lists come from the same settings the store is opened with, once, when the schema is
first built; a name outside them is still a 422 that names the field.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI

from cmdb.audit_config import load_audit_config
from cmdb.registry import load_registry
from cmdb.settings import Settings

__all__ = ["install_name_enums"]

_QUERY = {
    "class": "classes",
    "type": "types",
    "types": "types",
    "rule": "rules",
    "skip_rule": "rules",
}
"""Query parameter -> the list of names it takes."""

_BUILT: dict[tuple[str, str, str], dict[str, Any]] = {}
"""Schemas already built in this process, by (registry, audit rules, version): every app of a
process has the same routes (``api.routes.ROUTERS``)."""

_BODY = {("CICreate", "class"): "classes", ("RelationshipCreate", "type"): "types"}
"""(request model, property) -> the list of names it takes."""


def _strings(schema: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """The string schemas inside a parameter's schema (through ``anyOf`` and array items)."""
    for option in schema.get("anyOf", [schema]):
        if option.get("type") == "array":
            option = option.get("items", {})
        if option.get("type") == "string":
            yield option


def _restrict(schema: dict[str, Any], names: list[str]) -> None:
    for text in _strings(schema):
        for key in ("pattern", "minLength", "maxLength"):
            text.pop(key, None)
        text["enum"] = names


def install_name_enums(app: FastAPI, settings: Settings) -> None:
    """Make ``app.openapi()`` list the valid names of classes, relationship types and audit
    rules as enums of the parameters and body fields that take them."""
    build = app.openapi
    key = (str(settings.registry), str(settings.audit_rules), app.version)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        if key in _BUILT:  # the same routes and names: building it again takes ~0.7 s
            app.openapi_schema = copy.deepcopy(_BUILT[key])
            return app.openapi_schema
        schema = build()
        registry = load_registry(settings.registry)
        names = {
            "classes": sorted(registry.classes),
            "types": sorted(registry.rel_type_names),
            "rules": sorted(load_audit_config(settings.audit_rules).rules),
        }
        for operation in (op for ops in schema["paths"].values() for op in ops.values()):
            for param in operation.get("parameters", []):
                if param.get("in") == "query" and param["name"] in _QUERY:
                    _restrict(param["schema"], names[_QUERY[param["name"]]])
        components = schema.get("components", {}).get("schemas", {})
        for (model, prop), kind in _BODY.items():
            field = components.get(model, {}).get("properties", {}).get(prop)
            if field is not None:
                _restrict(field, names[kind])
        _BUILT[key] = copy.deepcopy(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
