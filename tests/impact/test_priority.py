"""Incident priority: the ITIL matrix, impact from the blast radius, and incidents in a store."""

from __future__ import annotations

import pytest

from cmdb.errors import ConflictError, NotFoundError, ValidationError
from cmdb.filters import RecordFilter
from cmdb.model import Batch, Incident
from impact.priority import (
    MATRIX,
    incident_impact,
    next_record_id,
    open_incident,
    priority,
    resolve_incident,
)
from tests.impact.conftest import NOW


class TestPriority:
    @pytest.mark.parametrize(
        ("impact", "urgency", "expected"),
        [("high", "high", 1), ("high", "medium", 2), ("high", "low", 3),
         ("medium", "high", 2), ("medium", "medium", 3), ("medium", "low", 4),
         ("low", "high", 3), ("low", "medium", 4), ("low", "low", 5)],
    )
    def test_matrix(self, impact, urgency, expected):
        assert priority(impact, urgency) == expected == MATRIX[(impact, urgency)]

    @pytest.mark.parametrize(("impact", "urgency"), [("huge", "high"), ("high", "asap")])
    def test_bad_levels(self, impact, urgency):
        with pytest.raises(ValidationError, match="must be high, medium or low"):
            priority(impact, urgency)


class TestIncidentImpact:
    @pytest.mark.parametrize(
        ("cis", "assume", "level", "services"),
        [
            (["srv-1"], [], "high", {"svc-pay": "down"}),
            (["web-1"], [], "low", {"svc-mail": "at_risk"}),
            (["web-1"], ["web-2"], "medium", {"svc-mail": "down"}),
            (["pc-1"], [], "low", {}),
            (["svc-mail"], [], "medium", {"svc-mail": "down"}),
        ],
    )
    def test_levels(self, estate, cis, assume, level, services):
        result = incident_impact(estate.topology(), cis, assume_down=assume)
        assert result.level == level
        assert {h.id: h.state for h in result.services} == services
        assert result.reasons[-1].startswith(f"impact {level}")

    def test_customers_count(self, estate):
        result = incident_impact(estate.topology(), ["db-pay"])
        assert [(h.id, h.state) for h in result.customers] == [("cust-a", "down")]
        assert result.points == 4.5

    def test_errors(self, estate):
        with pytest.raises(NotFoundError, match="CI 'ghost' not found"):
            incident_impact(estate.topology(), ["ghost"])
        with pytest.raises(ValidationError, match="at least one CI"):
            incident_impact(estate.topology(), [])


class TestOpenIncident:
    def test_records_with_priority(self, estate):
        result = open_incident(estate, ci_ids=["srv-1"], urgency="medium", title="srv-1 down",
                               actor="test", now=NOW)
        assert (result.priority, result.impact.level) == (2, "high")
        stored = estate.get_record(result.incident.id)
        assert isinstance(stored, Incident) and stored.priority == 2
        assert stored.id == "INC-000001" and stored.opened_at == NOW
        data = result.to_json()
        assert data["services"][0]["id"] == "svc-pay" and data["customers"][0]["id"] == "cust-a"

    def test_open_incidents_are_assumed_down(self, estate):
        first = open_incident(estate, ci_ids=["web-1"], urgency="low", title="web-1",
                              actor="test")
        second = open_incident(estate, ci_ids=["web-2"], urgency="low", title="web-2",
                               actor="test")
        assert (first.impact.level, first.priority) == ("low", 5)
        assert (second.impact.level, second.priority) == ("medium", 4)
        assert second.incident.id == "INC-000002"

    @pytest.mark.parametrize(
        ("kwargs", "error", "match"),
        [({"ci_ids": ["ghost"]}, NotFoundError, "CI 'ghost' not found"),
         ({"urgency": "now"}, ValidationError, "field 'urgency'"),
         ({"title": " "}, ValidationError, "field 'title'"),
         ({"ci_ids": []}, ValidationError, "at least one CI")],
    )
    def test_errors(self, estate, kwargs, error, match):
        args = {"ci_ids": ["srv-1"], "urgency": "high", "title": "t", **kwargs}
        with pytest.raises(error, match=match):
            open_incident(estate, actor="test", **args)
        assert estate.find_records(RecordFilter()) == []

    def test_resolve(self, estate):
        inc = open_incident(estate, ci_ids=["pc-1"], urgency="low", title="pc", actor="t")
        done = resolve_incident(estate, inc.incident.id, actor="t", now=NOW)
        assert done.status.value == "resolved" and done.resolved_at == NOW
        with pytest.raises(ConflictError, match="already resolved"):
            resolve_incident(estate, inc.incident.id, actor="t")


class TestNextRecordId:
    def test_follows_existing_numbers_in_any_case(self, estate):
        estate.apply(Batch(records=[Incident(id="inc-0041", ci_ids=["pc-1"])]), actor="t")
        assert next_record_id(estate, "INC") == "INC-000042"
        assert next_record_id(estate, "CHG") == "CHG-000001"
