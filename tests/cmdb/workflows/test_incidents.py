"""Incident workflows: open with a priority, resolve; ids allocated by the store inside the
batch, and concurrent writers never overwrite each other. Both backends."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import pytest

from cmdb.errors import ConflictError, NotFoundError, ValidationError
from cmdb.filters import HistoryFilter, RecordFilter
from cmdb.model import Batch, Change, Incident
from cmdb.settings import Settings
from cmdb.workflows.incidents import IncidentAssessment, open_incident, resolve_incident
from tests.cmdb.workflows import workers
from tests.impact.conftest import NOW


class TestOpenIncident:
    def test_records_with_priority(self, estate):
        result = open_incident(
            estate, ci_ids=["srv-1"], urgency="medium", title="srv-1 down", actor="test", now=NOW
        )
        assert (result.priority, result.impact.level) == (2, "high")
        stored = estate.get_record(result.incident.id)
        assert isinstance(stored, Incident) and stored.priority == 2
        assert stored.id == "INC-000001" and stored.opened_at == NOW
        assert result.incident == stored

    def test_json_shape(self, estate):
        data = open_incident(
            estate, ci_ids=["srv-1"], urgency="medium", title="srv-1 down", actor="test", now=NOW
        ).to_json()
        assert list(data) == [
            "id",
            "title",
            "ci_ids",
            "priority",
            "impact",
            "urgency",
            "impact_points",
            "services",
            "customers",
            "service_states",
            "customer_states",
            "reasons",
            "sla_id",
            "response_due",
            "resolution_due",
            "made_worse",
            "already_affected",
        ]
        assert (data["id"], data["priority"], data["impact"]) == ("INC-000001", 2, "high")
        assert data["services"] == ["svc-pay"] and data["customers"] == ["cust-a"]
        assert data["service_states"][0] == {
            "id": "svc-pay",
            "state": "down",
            "criticality": "critical",
            "points": 4.0,
        }
        assert data["customer_states"][0]["id"] == "cust-a"
        assert IncidentAssessment.model_fields.keys() == {
            "incident",
            "priority",
            "urgency",
            "impact",
        }

    def test_open_incidents_are_assumed_down(self, estate):
        first = open_incident(estate, ci_ids=["web-1"], urgency="low", title="web-1", actor="test")
        second = open_incident(estate, ci_ids=["web-2"], urgency="low", title="web-2", actor="test")
        assert (first.impact.level, first.priority) == ("low", 5)
        assert (second.impact.level, second.priority) == ("medium", 4)
        assert second.incident.id == "INC-000002"

    def test_ids_follow_the_highest_stored_number(self, estate):
        estate.apply(
            Batch(
                records=[
                    Incident(id="INC-000041", ci_ids=["pc-1"]),
                    Change(id="CHG-000007", ci_ids=["pc-1"]),
                ]
            ),
            actor="t",
        )
        opened = open_incident(estate, ci_ids=["pc-1"], urgency="low", title="pc", actor="t")
        assert opened.incident.id == "INC-000042"

    def test_one_batch_one_history_entry(self, estate):
        before = len(estate.history(HistoryFilter()))
        opened = open_incident(estate, ci_ids=["pc-1"], urgency="low", title="pc", actor="t")
        entries = estate.history(HistoryFilter())[before:]
        assert [(e.entity, e.entity_id, e.action.value) for e in entries] == [
            ("incident", opened.incident.id, "create")
        ]

    @pytest.mark.parametrize(
        ("kwargs", "error", "match"),
        [
            ({"ci_ids": ["ghost"]}, NotFoundError, "CI 'ghost' not found"),
            ({"urgency": "now"}, ValidationError, "field 'urgency'"),
            ({"title": " "}, ValidationError, "field 'title'"),
            ({"ci_ids": []}, ValidationError, "at least one CI"),
        ],
    )
    def test_errors(self, estate, kwargs, error, match):
        args = {"ci_ids": ["srv-1"], "urgency": "high", "title": "t", **kwargs}
        with pytest.raises(error, match=match):
            open_incident(estate, actor="test", **args)
        assert estate.find_records(RecordFilter()) == []


class _ResolvedMeanwhile:
    """A store through which another actor resolves the incident between our read and our
    write: the interleaving two concurrent ``cmdb incident resolve`` can produce."""

    def __init__(self, store, incident_id: str):
        self._store, self._id, self._raced = store, incident_id, False

    def __getattr__(self, name):
        return getattr(self._store, name)

    def apply(self, batch, **kwargs):
        if not self._raced:
            self._raced = True
            resolve_incident(self._store, self._id, actor="the other resolver")
        return self._store.apply(batch, **kwargs)


class TestResolveIncident:
    def test_resolve(self, estate):
        inc = open_incident(estate, ci_ids=["pc-1"], urgency="low", title="pc", actor="t")
        done = resolve_incident(estate, inc.incident.id, actor="t", now=NOW)
        assert done.status.value == "resolved" and done.resolved_at == NOW
        assert done.version == inc.incident.version + 1
        with pytest.raises(ConflictError, match="already resolved"):
            resolve_incident(estate, inc.incident.id, actor="t")

    def test_concurrent_resolvers_one_wins(self, estate):
        inc_id = open_incident(
            estate, ci_ids=["pc-1"], urgency="low", title="pc", actor="t"
        ).incident.id
        with pytest.raises(ConflictError, match=inc_id):
            resolve_incident(_ResolvedMeanwhile(estate, inc_id), inc_id, actor="late")
        resolutions = [
            e for e in estate.history(HistoryFilter(entity_id=inc_id)) if e.action.value == "update"
        ]
        assert [e.actor for e in resolutions] == ["the other resolver"]

    @pytest.mark.parametrize(
        ("record_id", "error", "match"),
        [
            ("INC-404", NotFoundError, "record 'INC-404' not found"),
            ("CHG-000001", ValidationError, "is a change, not an incident"),
        ],
    )
    def test_errors(self, estate, record_id, error, match):
        estate.apply(Batch(records=[Change(id="CHG-000001", ci_ids=["pc-1"])]), actor="t")
        with pytest.raises(error, match=match):
            resolve_incident(estate, record_id, actor="t")


def _settings(store) -> Settings:
    if store.uri.startswith("sqlite"):
        return Settings(db=store.path)
    from tests.neo4j_support import neo4j_settings_or_skip

    return neo4j_settings_or_skip()


class TestConcurrentOpen:
    PROCESSES, EACH = 8, 25

    def test_eight_processes_open_two_hundred_distinct_incidents(self, estate):
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(self.PROCESSES, mp_context=ctx) as pool:
            futures = [
                pool.submit(workers.open_incidents, _settings(estate), w, self.EACH)
                for w in range(self.PROCESSES)
            ]
            ids = [i for f in futures for i in f.result()]
        total = self.PROCESSES * self.EACH
        assert len(ids) == total and len(set(ids)) == total
        stored = estate.find_records(RecordFilter())
        assert sorted(r.id for r in stored) == sorted(ids)
        assert {r.title for r in stored} == {
            f"w{w}-{i}" for w in range(self.PROCESSES) for i in range(self.EACH)
        }
        assert all(r.version == 1 for r in stored)  # none was overwritten
