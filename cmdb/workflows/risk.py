"""Change risk with the weights read from YAML: the packaged defaults, or an override file.

Assumptions: the packaged ``risk_weights.yaml`` (next to this module; its comments say what
each entry means) holds every section; an override file (``--weights`` / ``CMDB_RISK_WEIGHTS``)
has the same shape, and the top-level sections it lacks come from the defaults.
:mod:`impact.change_risk` takes the result as data and reads no file; :func:`assess_change`
and :func:`assess_proposed` here are its store-level questions with the weights loaded, so a
shell calls one function.

>>> w = load_risk_weights()
>>> w.source, w.level_for(60), sorted(w.weights)[:3]
('risk_weights.yaml', 'high', ['blast_radius', 'change_type', 'collisions'])
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from cmdb.store.protocol import GraphStore
from cmdb.yamlfile import read_mapping
from impact import change_risk
from impact.change_risk import ChangeAssessment, RiskWeights

__all__ = ["DEFAULT_WEIGHTS", "assess_change", "assess_proposed", "load_risk_weights"]

DEFAULT_WEIGHTS = Path(__file__).with_name("risk_weights.yaml")

Weights = RiskWeights | str | Path | None


def _read_yaml(path: Path) -> dict[str, Any]:
    return read_mapping(path, "risk weights")


def load_risk_weights(path: str | Path | None = None) -> RiskWeights:
    """The risk weights in ``path`` (default: the packaged ``risk_weights.yaml``); top-level
    sections missing from ``path`` come from the default. :class:`ConfigError` if invalid."""
    data = _read_yaml(DEFAULT_WEIGHTS)
    source = DEFAULT_WEIGHTS.name
    if path is not None:
        data.update(_read_yaml(Path(path)))
        source = str(path)
    return RiskWeights.from_mapping(data, source=source)


def _weights(weights: Weights) -> RiskWeights:
    return weights if isinstance(weights, RiskWeights) else load_risk_weights(weights)


def assess_change(
    store: GraphStore, change_id: str, *, weights: Weights = None, now: datetime | None = None
) -> ChangeAssessment:
    """:func:`impact.change_risk.assess_change` with ``weights`` loaded when given as a path
    (None: the packaged defaults)."""
    return change_risk.assess_change(store, change_id, weights=_weights(weights), now=now)


def assess_proposed(
    store: GraphStore,
    *,
    ci_ids: Iterable[str],
    change_type: str,
    window_start: datetime,
    window_end: datetime,
    weights: Weights = None,
    now: datetime | None = None,
) -> ChangeAssessment:
    """:func:`impact.change_risk.assess_proposed` with ``weights`` loaded when given as a path
    (None: the packaged defaults)."""
    return change_risk.assess_proposed(
        store,
        ci_ids=ci_ids,
        change_type=change_type,
        window_start=window_start,
        window_end=window_end,
        weights=_weights(weights),
        now=now,
    )
