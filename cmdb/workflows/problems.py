"""Problems: open one grouping incidents, with a suspected root cause.

Assumptions: the suspected root is the one given, or else the best candidate of
:func:`impact.root_cause.root_cause_report` over the incidents' CIs. The problem names the
symptoms and the suspected root as its CIs, and is applied as one batch with ``id=None``: the
store allocates its id (``PRB-000123``) inside that batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from pydantic import SerializerFunctionWrapHandler, model_serializer

from cmdb.errors import ValidationError
from cmdb.model import Batch, Problem
from cmdb.store.protocol import GraphStore
from impact.results import Result
from impact.root_cause import RootCauseReport, root_cause_report

__all__ = ["OpenedProblem", "open_problem"]

CANDIDATES = 3  # root-cause candidates kept with a new problem: the best and two runners-up


class OpenedProblem(Result):
    """What :func:`open_problem` recorded (the problem as stored) and the ranking it used.
    JSON: the problem's own fields, plus ``root_cause``."""

    problem: Problem
    root_cause: RootCauseReport

    @model_serializer(mode="wrap")
    def _flat(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        out = handler(self)
        return {**out.pop("problem"), **out}


def open_problem(
    store: GraphStore,
    *,
    incident_ids: Iterable[str],
    actor: str,
    root: str | None = None,
    title: str | None = None,
    now: datetime | None = None,
) -> OpenedProblem:
    """Record a problem grouping ``incident_ids``; its suspected root is ``root`` or, if not
    given, the best root-cause candidate.

    :class:`~cmdb.errors.NotFoundError` for an unknown incident or root CI,
    :class:`~cmdb.errors.ValidationError` for no incident or a record that is not one.
    """
    incident_ids = list(dict.fromkeys(incident_ids))
    if not incident_ids:
        raise ValidationError("give at least one incident", field="incidents")
    report = root_cause_report(store, incident_ids=incident_ids, now=now, top=CANDIDATES)
    if root is not None:
        store.topology().index(root)
    suspected = root or (report.candidates[0].id if report.candidates else None)
    problem = Problem(
        id=None,
        title=title or f"Common cause of {', '.join(incident_ids)}",
        ci_ids=list(dict.fromkeys([*report.symptoms, *([suspected] if suspected else [])])),
        incident_ids=incident_ids,
        suspected_root=suspected,
    )
    done = store.apply(Batch(records=[problem]), actor=actor)
    stored = cast(Problem, store.get_record(done.allocated[0]))
    return OpenedProblem(problem=stored, root_cause=report)
