"""Audit scores, 0-100: per dimension, per class and overall.

Assumptions: a finding counts for one CI (a relationship's for its source), and a CI counts
once per rule however many findings that rule has on it. For a set of CIs ``S`` and a
dimension ``D`` whose selected rules ``r`` have weights ``w_r``::

    score(D, S) = 100 * (1 - sum_r w_r * |CIs of S with a finding of r| / (sum_r w_r * |S|))

A dimension with no selected rule (or no weight), or an empty ``S``, scores 100. The overall
score of ``S`` is the mean of its dimension scores weighted by the dimensions' weights.
Findings about CIs outside ``S`` (retired CIs named by history) are listed but not scored.

>>> from cmdb.audit_config import load_audit_config
>>> from cmdb.model import CI
>>> cis = [CI(id=i, ci_class="application", name=i) for i in ("a", "b")]
>>> class F:  # a finding, as far as scoring cares
...     rule, ci = "missing_owner", "a"
>>> s = compute_scores(cis, [F()], load_audit_config(), ("missing_owner",))
>>> s.dimensions["compliance"], s.dimensions["completeness"], round(s.overall, 2)
(50.0, 100.0, 83.33)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from cmdb.audit_config import DIMENSIONS, AuditConfig
from cmdb.model import CI

__all__ = ["ClassScore", "Scores", "compute_scores"]


class ClassScore(BaseModel):
    model_config = ConfigDict(frozen=True)

    cis: int
    overall: float
    dimensions: dict[str, float]


class Scores(BaseModel):
    """The overall score, by dimension, and by class (with its CI count)."""

    model_config = ConfigDict(frozen=True)

    overall: float
    dimensions: dict[str, float]
    classes: dict[str, ClassScore]


def _score(
    members: set[str], hit: dict[str, set[str]], rules: Sequence[str], config: AuditConfig
) -> tuple[float, dict[str, float]]:
    dims: dict[str, float] = {}
    for dim in DIMENSIONS:
        mine = [r for r in rules if config.rules[r].dimension == dim]
        total = sum(config.rules[r].weight for r in mine) * len(members)
        bad = sum(config.rules[r].weight * len(hit.get(r, set()) & members) for r in mine)
        dims[dim] = 100.0 if total == 0 else round(100.0 * (1 - bad / total), 2)
    weights = {d: config.dimensions[d].weight for d in DIMENSIONS}
    wsum = sum(weights.values())
    overall = 100.0 if wsum == 0 else sum(dims[d] * weights[d] for d in DIMENSIONS) / wsum
    return round(overall, 2), dims


def compute_scores(
    cis: Sequence[CI], findings: Iterable[Any], config: AuditConfig, rules: Sequence[str]
) -> Scores:
    """The scores of ``cis`` given ``findings`` (anything with ``rule`` and ``ci``)."""
    hit: dict[str, set[str]] = defaultdict(set)
    for f in findings:
        hit[f.rule].add(f.ci)
    everyone = {c.id for c in cis}
    by_class: dict[str, set[str]] = defaultdict(set)
    for c in cis:
        by_class[c.ci_class].add(c.id)
    overall, dims = _score(everyone, hit, rules, config)
    classes = {}
    for name in sorted(by_class):
        o, d = _score(by_class[name], hit, rules, config)
        classes[name] = ClassScore(cis=len(by_class[name]), overall=o, dimensions=d)
    return Scores(overall=overall, dimensions=dims, classes=classes)
