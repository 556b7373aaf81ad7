"""Alerts: symptoms with a time and a state, read from a monitoring export, and which CIs would
alert at all.

Assumptions:

- An alert names a CI (``id``), when it started (``time``, ISO 8601; a time without a zone is
  read as UTC), its ``state`` (``down`` or ``degraded``: what the monitoring saw) and an optional
  free-text ``severity``. Files are JSON (a list of objects, or ``{"alerts": [...]}``) or CSV with
  a header naming those columns; the format is taken from the suffix, else from the first
  character. Every error names the file and line (CSV) or item (JSON).
- Whether a CI would alert is data: the registry's per-class ``alerts`` flag (default true; end-
  user devices and logical CIs do not alert by themselves), overridden per CI by a boolean
  ``monitored`` attribute. :func:`monitored_mask` turns that into a mask over a snapshot, which
  the root-cause ranker takes as given.

>>> [a.ci_id for a in parse_alerts("id,time,state\\napp,2026-01-07T10:00:00Z,down\\n", "a.csv")]
['app']
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticError

from cmdb.errors import ValidationError
from cmdb.registry import Registry
from cmdb.topology import Topology

__all__ = ["Alert", "load_alerts", "monitored_mask", "parse_alerts"]


class Alert(BaseModel):
    """One symptom with its onset and state."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    ci_id: str = Field(alias="id", min_length=1)
    time: datetime
    state: Literal["down", "degraded"] = "down"
    severity: str | None = None

    def model_post_init(self, _: Any) -> None:
        if self.time.tzinfo is None:
            object.__setattr__(self, "time", self.time.replace(tzinfo=UTC))


def _one(item: object, where: str) -> Alert:
    if not isinstance(item, dict):
        raise ValidationError("an alert is an object with id, time, state", location=where)
    item = {k: v for k, v in item.items() if v not in ("", None)}
    try:
        return Alert.model_validate(item)
    except PydanticError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or None
        raise ValidationError(err["msg"], field=field, location=where) from None


def parse_alerts(text: str, name: str = "<alerts>") -> tuple[Alert, ...]:
    """The alerts in ``text`` (JSON or CSV, see the module), named ``name`` in errors."""
    is_json = name.endswith(".json") or (not name.endswith(".csv") and text.lstrip()[:1] in "[{")
    if is_json:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(exc.msg, location=f"{name}:{exc.lineno}") from None
        items = data.get("alerts") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ValidationError("expected a list of alerts", location=name)
        return tuple(_one(item, f"{name}: item {i + 1}") for i, item in enumerate(items))
    reader = csv.DictReader(io.StringIO(text))
    missing = {"id", "time"} - set(reader.fieldnames or ())
    if missing:
        raise ValidationError(
            f"CSV header lacks {', '.join(sorted(missing))}", location=f"{name}:1"
        )
    return tuple(_one(row, f"{name}:{reader.line_num}") for row in reader)


def load_alerts(path: str | Path) -> tuple[Alert, ...]:
    """:func:`parse_alerts` on a file; ValidationError if it cannot be read."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationError(f"cannot read alerts: {exc.strerror}", location=str(path)) from None
    return parse_alerts(text, str(path))


def monitored_mask(
    topo: Topology, registry: Registry, overrides: Mapping[str, bool] | Iterable = ()
) -> np.ndarray:
    """Per node of ``topo``: would it alert? The class's ``alerts`` flag (unknown classes: true),
    then ``overrides`` (CI id -> its ``monitored`` attribute) for the CIs it names."""
    table = np.asarray(
        [registry.classes[c].alerts if c in registry.classes else True for c in topo.class_names],
        dtype=bool,
    )
    mask = table[topo.class_code] if table.size else np.ones(topo.n, dtype=bool)
    for ci_id, value in dict(overrides).items():
        if ci_id in topo:
            mask[topo.index(ci_id)] = bool(value)
    return mask
