"""Incident priority: the ITIL matrix, impact from the blast radius, and incidents in a store."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cmdb.errors import ConflictError, NotFoundError, ValidationError
from cmdb.filters import RecordFilter
from cmdb.model import CI, Batch, Incident, Relationship
from cmdb.settings import Settings
from cmdb.store import open_store
from impact.priority import (
    MATRIX,
    incident_impact,
    next_record_id,
    open_incident,
    priority,
    resolve_incident,
)

NOW = datetime(2026, 1, 7, 12, 0, tzinfo=UTC)  # a Wednesday


def estate_batch() -> Batch:
    """A payment service on one server (a single point of failure) and a mail service on a
    1-of-2 web pool; a customer consumes payments."""
    def ci(ci_id, cls, crit="medium", **kw):
        return CI(id=ci_id, ci_class=cls, name=ci_id, criticality=crit, **kw)

    cis = [
        ci("svc-pay", "business_service", "critical"),
        ci("svc-mail", "business_service", "low"),
        ci("cust-a", "customer"),
        ci("app-pay", "application", "high"),
        ci("app-mail", "application"),
        ci("db-pay", "database", "high", attributes={"engine": "oracle"}),
        ci("srv-1", "physical_server"),
        ci("cl-web", "cluster", min_required=1),
        ci("web-1", "application_instance"),
        ci("web-2", "application_instance"),
        ci("pc-1", "desktop", "low"),
    ]
    rels = [
        ("cust-a", "consumes", "svc-pay"), ("app-pay", "provides", "svc-pay"),
        ("app-mail", "provides", "svc-mail"), ("app-pay", "depends_on", "db-pay"),
        ("db-pay", "runs_on", "srv-1"), ("app-mail", "runs_on", "cl-web"),
        ("web-1", "member_of", "cl-web"), ("web-2", "member_of", "cl-web"),
    ]
    return Batch(cis=cis, relationships=[Relationship(source=s, type=t, target=d)
                                         for s, t, d in rels])


@pytest.fixture
def estate(tmp_path):
    store = open_store(Settings(db=tmp_path / "estate.db"))
    store.apply(estate_batch(), actor="test")
    yield store
    store.close()


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
