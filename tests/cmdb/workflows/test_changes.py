"""Recording a change: checked like a proposal, id allocated by the store. Both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cmdb.errors import NotFoundError, ValidationError
from cmdb.filters import RecordFilter
from cmdb.model import Batch, Change
from cmdb.workflows.changes import record_change

SAT = datetime(2026, 1, 10, tzinfo=UTC)
WINDOW = {"window_start": SAT + timedelta(hours=1), "window_end": SAT + timedelta(hours=3)}


class TestRecordChange:
    def test_records_requested_change(self, estate):
        change = record_change(
            estate, ci_ids=["srv-1"], change_type="emergency", title="fix", actor="t", **WINDOW
        )
        assert (change.id, change.status.value, change.type.value, change.title) == (
            "CHG-000001",
            "requested",
            "emergency",
            "fix",
        )
        assert estate.get_record("CHG-000001") == change

    def test_ids_follow_the_highest_stored_number(self, estate):
        estate.apply(Batch(records=[Change(id="CHG-000009", ci_ids=["pc-1"])]), actor="t")
        change = record_change(
            estate, ci_ids=["pc-1"], change_type="standard", title="x", actor="t", **WINDOW
        )
        assert change.id == "CHG-000010"

    @pytest.mark.parametrize(
        ("kwargs", "error", "match"),
        [
            ({"ci_ids": ["ghost"]}, NotFoundError, "CI 'ghost' not found"),
            ({"ci_ids": []}, ValidationError, "at least one CI"),
            ({"change_type": "yolo"}, ValidationError, "field 'type'"),
            ({"window_end": SAT}, ValidationError, "field 'window_end': must be after"),
        ],
    )
    def test_errors(self, estate, kwargs, error, match):
        args = {"ci_ids": ["srv-1"], "change_type": "normal", "title": "x", **WINDOW, **kwargs}
        with pytest.raises(error, match=match):
            record_change(estate, actor="t", **args)
        assert estate.find_records(RecordFilter()) == []
