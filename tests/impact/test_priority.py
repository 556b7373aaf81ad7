"""Incident priority: the ITIL matrix and impact from the blast radius (opening incidents is a
workflow: tests/cmdb/workflows/test_incidents.py)."""

from __future__ import annotations

import pytest

from cmdb.errors import NotFoundError, ValidationError
from impact.priority import MATRIX, incident_impact, priority


class TestPriority:
    @pytest.mark.parametrize(
        ("impact", "urgency", "expected"),
        [
            ("high", "high", 1),
            ("high", "medium", 2),
            ("high", "low", 3),
            ("medium", "high", 2),
            ("medium", "medium", 3),
            ("medium", "low", 4),
            ("low", "high", 3),
            ("low", "medium", 4),
            ("low", "low", 5),
        ],
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
        assert result.points == 5.0  # critical service down 4 + a customer down 1

    def test_to_json(self, estate):
        data = incident_impact(estate.topology(), ["db-pay"]).to_json()
        assert data["customer_states"] == [
            {"id": "cust-a", "state": "down", "criticality": "medium", "points": 1.0}
        ]
        assert data["level"] == "high" and data["reasons"][-1].startswith("impact high")

    def test_errors(self, estate):
        with pytest.raises(NotFoundError, match="CI 'ghost' not found"):
            incident_impact(estate.topology(), ["ghost"])
        with pytest.raises(ValidationError, match="at least one CI"):
            incident_impact(estate.topology(), [])
