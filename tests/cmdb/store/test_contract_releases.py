"""Contract: a release record round-trips on every backend with a store-allocated id."""

from __future__ import annotations

from datetime import UTC, datetime

from cmdb.enums import RecordKind
from cmdb.filters import HistoryFilter, RecordFilter
from cmdb.model import CI, Batch, Change, Release


def _at(hour: int) -> datetime:
    return datetime(2026, 1, 10, hour, tzinfo=UTC)


class TestReleaseRecords:
    def test_round_trip_with_allocated_id(self, store):
        store.apply(
            Batch(
                cis=[
                    CI(id="sw-a", ci_class="switch", name="A"),
                    CI(id="sw-b", ci_class="switch", name="B"),
                ],
                records=[
                    Change(id="CHG-1", ci_ids=["sw-a"], window_start=_at(1), window_end=_at(2)),
                    Change(id="CHG-2", ci_ids=["sw-b"], window_start=_at(1), window_end=_at(3)),
                ],
            ),
            actor="t",
        )
        rel = Release(
            title="core pair",
            change_ids=["CHG-1", "CHG-2"],
            ci_ids=["sw-a", "sw-b"],
            type="emergency",
            window_start=_at(1),
            window_end=_at(3),
        )
        done = store.apply(Batch(records=[rel, rel.model_copy()]), actor="t")
        assert done.allocated == ["REL-000001", "REL-000002"]
        got = store.get_record("REL-000001")
        assert isinstance(got, Release)
        assert (got.change_ids, got.type.value, got.status.value) == (
            ["CHG-1", "CHG-2"],
            "emergency",
            "planned",
        )
        assert got.window_end == _at(3) and got.version == 1
        by_kind = store.find_records(RecordFilter(kinds=(RecordKind.RELEASE,), open_only=True))
        assert [r.id for r in by_kind] == ["REL-000001", "REL-000002"]
        assert [r.id for r in store.find_records(RecordFilter(ci="sw-b"))] == [
            "CHG-2",
            "REL-000001",
            "REL-000002",
        ]
        assert [r.id for r in store.find_records(RecordFilter(since=_at(1)))][-1] == "REL-000002"
        history = store.history(HistoryFilter(entity="release"))
        assert [e.entity_id for e in history] == ["REL-000001", "REL-000002"]

    def test_a_deployed_release_is_not_open(self, store):
        store.apply(Batch(cis=[CI(id="sw-a", ci_class="switch", name="A")]), actor="t")
        store.apply(
            Batch(records=[Release(id="REL-7", ci_ids=["sw-a"], status="deployed")]), actor="t"
        )
        assert store.find_records(RecordFilter(kinds=(RecordKind.RELEASE,), open_only=True)) == []
        nxt = store.apply(Batch(records=[Release(ci_ids=["sw-a"])]), actor="t").allocated
        assert nxt == ["REL-000008"]
