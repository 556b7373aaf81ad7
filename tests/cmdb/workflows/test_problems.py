"""Opening a problem: suspected root from the ranking or given, id allocated by the store.
Both backends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cmdb.errors import NotFoundError, ValidationError
from cmdb.model import Batch, Incident
from cmdb.workflows.problems import OpenedProblem, open_problem


@pytest.fixture
def incidents(estate):
    estate.apply(
        Batch(
            records=[
                Incident(id="inc-1", ci_ids=["app-pay"]),
                Incident(id="inc-2", ci_ids=["svc-pay"]),
            ]
        ),
        actor="t",
    )
    return estate


class TestOpenProblem:
    def test_suspected_root_from_ranking(self, incidents):
        opened = open_problem(
            incidents, incident_ids=["inc-1", "inc-2"], actor="t", now=datetime.now(UTC)
        )
        problem, report = opened.problem, opened.root_cause
        assert problem.id == "PRB-000001" and problem.suspected_root == report.candidates[0].id
        assert problem.incident_ids == ["inc-1", "inc-2"]
        assert incidents.get_record("PRB-000001") == problem
        given = open_problem(incidents, incident_ids=["inc-1"], root="srv-1", actor="t").problem
        assert (given.id, given.suspected_root) == ("PRB-000002", "srv-1")

    def test_json_is_the_problem_plus_its_ranking(self, incidents):
        opened = open_problem(incidents, incident_ids=["inc-1", "inc-2"], actor="t")
        data = opened.to_json()
        assert {k: v for k, v in data.items() if k != "root_cause"} == opened.problem.to_json()
        assert data["root_cause"] == opened.root_cause.to_json()
        assert data["root_cause"]["candidates"][0]["class"]
        assert set(OpenedProblem.model_fields) == {"problem", "root_cause"}

    @pytest.mark.parametrize(
        ("kwargs", "error", "match"),
        [
            ({"incident_ids": ["inc-1"], "root": "ghost"}, NotFoundError, "CI 'ghost' not found"),
            ({"incident_ids": ["inc-404"]}, NotFoundError, "record 'inc-404' not found"),
            ({"incident_ids": []}, ValidationError, "give at least one incident"),
        ],
    )
    def test_errors(self, incidents, kwargs, error, match):
        with pytest.raises(error, match=match):
            open_problem(incidents, actor="t", **kwargs)
