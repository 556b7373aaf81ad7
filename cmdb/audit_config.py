"""The configuration audit's rules as data: the packaged ``audit_rules.yaml`` and its overrides.

Assumptions: the packaged file (next to this module; its comments say what each entry means)
holds every section; an override file (``--config`` / ``CMDB_AUDIT_RULES``) has the same shape
and the top-level sections it has replace the packaged ones. :mod:`impact.audit` takes the
result, an :class:`AuditConfig`, as data and reads no file.

>>> cfg = load_audit_config()
>>> cfg.source, cfg.rules["stale"].dimension, cfg.stale.days
('audit_rules.yaml', 'correctness', 30.0)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticError

from cmdb.enums import ChangeStatus, Criticality, HistoryAction, Lifecycle
from cmdb.errors import ConfigError
from cmdb.yamlfile import read_mapping

__all__ = [
    "DEFAULT_RULES",
    "DIMENSIONS",
    "AuditConfig",
    "Clause",
    "RuleSpec",
    "load_audit_config",
]

DEFAULT_RULES = Path(__file__).with_name("audit_rules.yaml")
DIMENSIONS = ("completeness", "correctness", "compliance")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DimensionSpec(_Section):
    weight: float = Field(default=1.0, ge=0)


class RuleSpec(_Section):
    """One rule: its dimension, its weight in the dimension's score, and why it matters."""

    dimension: Literal["completeness", "correctness", "compliance"]
    weight: float = Field(default=1.0, ge=0)
    severity: Literal["low", "medium", "high"] = "medium"
    enabled: bool = True
    why: str = ""


class RequiredRelationship(_Section):
    classes: tuple[str, ...]
    types: tuple[str, ...]
    direction: Literal["out", "in"] = "out"
    to: tuple[str, ...] = ()
    label: str = "a relationship"


class StaleSpec(_Section):
    days: float = Field(default=30.0, gt=0)
    marked: bool = True


class DuplicateSpec(_Section):
    identifier_kinds: tuple[str, ...] = ()
    name_suffixes: tuple[str, ...] = ()


class OwnershipSpec(_Section):
    statuses: tuple[Lifecycle, ...] = (Lifecycle.LIVE, Lifecycle.MAINTENANCE)
    exempt: tuple[str, ...] = ()


class SlaSpec(_Section):
    services: tuple[str, ...] = ("business_service",)
    agreements: tuple[str, ...] = ("agreement",)
    target: str = "availability_target"


class SpofSpec(_Section):
    min_criticality: Criticality = Criticality.HIGH


class OrphanSpec(_Section):
    categories: tuple[str, ...] = ()
    statuses: tuple[Lifecycle, ...] = (Lifecycle.LIVE,)


class UnauthorizedSpec(_Section):
    lookback_days: float = Field(default=90.0, gt=0)
    actions: tuple[HistoryAction, ...] = (HistoryAction.UPDATE, HistoryAction.RETIRE)
    authorizing_statuses: tuple[ChangeStatus, ...] = (
        ChangeStatus.APPROVED,
        ChangeStatus.IMPLEMENTED,
    )
    ignore_fields: tuple[str, ...] = ()


class Clause(_Section):
    """A requirement of ISO/IEC 20000-1, paraphrased, and the rules that give evidence on it."""

    clause: str
    title: str
    requirement: str
    rules: tuple[str, ...] = ()


class AuditConfig(_Section):
    """Every rule and its parameters; ``source`` names the file(s) it came from."""

    dimensions: dict[str, DimensionSpec]
    rules: dict[str, RuleSpec]
    required_relationships: tuple[RequiredRelationship, ...] = ()
    stale: StaleSpec = StaleSpec()
    duplicates: DuplicateSpec = DuplicateSpec()
    ownership: OwnershipSpec = OwnershipSpec()
    sla: SlaSpec = SlaSpec()
    spof: SpofSpec = SpofSpec()
    impact_orphan: OrphanSpec = OrphanSpec()
    unauthorized_change: UnauthorizedSpec = UnauthorizedSpec()
    clauses: tuple[Clause, ...] = ()
    source: str = ""

    def enabled(self, rule: str) -> bool:
        spec = self.rules.get(rule)
        return spec is not None and spec.enabled


def _read_yaml(path: Path) -> dict[str, Any]:
    return read_mapping(path, "audit rules")


def load_audit_config(path: str | Path | None = None) -> AuditConfig:
    """The audit rules in ``path`` over the packaged defaults; :class:`ConfigError` if invalid."""
    data = _read_yaml(DEFAULT_RULES)
    source = DEFAULT_RULES.name
    if path is not None:
        data.update(_read_yaml(Path(path)))
        source = f"{source} + {path}"
    try:
        cfg = AuditConfig.model_validate({**data, "source": source})
    except PydanticError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"audit rules {source}: {where}: {first['msg']}") from None
    for clause in cfg.clauses:
        unknown = sorted(set(clause.rules) - set(cfg.rules))
        if unknown:
            raise ConfigError(f"audit rules {source}: clause {clause.clause}: unknown {unknown}")
    missing = set(DIMENSIONS) - set(cfg.dimensions)
    if missing:
        raise ConfigError(f"audit rules {source}: dimensions lack {', '.join(sorted(missing))}")
    return cfg
