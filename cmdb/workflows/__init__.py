"""ITSM workflows: the writes that need an analysis first, and the files that analysis reads.

Assumptions:

- This is the orchestration sub-layer of ``cmdb/``: a workflow reads the store, asks
  :mod:`impact` (pure analysis, which never writes and never reads files) its question, then
  applies **one** :class:`~cmdb.model.Batch`. It may import ``impact/`` and the rest of
  ``cmdb/``; nothing else in ``cmdb/`` imports it, and ``impact/`` never does.
- New records go into the batch with ``id=None``: the store allocates their ids inside the
  batch's transaction (``INC-000001``, ``PRB-…``, ``CHG-…``) and returns them in
  :attr:`BatchResult.allocated <cmdb.model.BatchResult.allocated>`, so concurrent writers never
  get the same id. A change to an existing record carries the version it was read at
  (:class:`~cmdb.model.Expected`), so of two concurrent writers one wins and the other gets a
  :class:`~cmdb.errors.ConflictError`.
- The CLI and the API call one function each and render its typed, frozen result.

Modules: :mod:`~cmdb.workflows.incidents` (open, resolve), :mod:`~cmdb.workflows.problems`
(open), :mod:`~cmdb.workflows.changes` (record), :mod:`~cmdb.workflows.risk` (risk weights from
YAML, and change assessment with them).
"""

from cmdb.workflows.changes import record_change
from cmdb.workflows.incidents import IncidentAssessment, open_incident, resolve_incident
from cmdb.workflows.problems import OpenedProblem, open_problem
from cmdb.workflows.risk import assess_change, assess_proposed, load_risk_weights

__all__ = [
    "IncidentAssessment",
    "OpenedProblem",
    "assess_change",
    "assess_proposed",
    "load_risk_weights",
    "open_incident",
    "open_problem",
    "record_change",
    "resolve_incident",
]
