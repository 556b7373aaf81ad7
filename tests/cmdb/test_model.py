"""Model validation: shapes and normalisation that hold whatever the registry says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError as PydanticError

from cmdb.model import CI, Batch, Change, Identifiers, Incident, Relationship, merge_last_seen


class TestIdentifiers:
    def test_normalises(self):
        ids = Identifiers(
            ips=[" 10.0.0.1", "2001:DB8::1"],
            macs=["AA-BB-CC-00-11-22"],
            hostnames=["Core-DB-01"],
            fqdn="Core-DB-01.Bank.Local",
        )
        assert ids.ips == ["10.0.0.1", "2001:db8::1"]
        assert ids.macs == ["aa:bb:cc:00:11:22"]
        assert ids.hostnames == ["core-db-01"] and ids.fqdn == "core-db-01.bank.local"
        assert set(ids.values()) >= {"10.0.0.1", "aa:bb:cc:00:11:22", "core-db-01"}

    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            ({"ips": ["10.0.0.256"]}, "not an IP address"),
            ({"macs": ["zz:bb:cc:00:11:22"]}, "not a MAC address"),
            ({"serial": "x"}, "Extra inputs"),
        ],
    )
    def test_rejects(self, kwargs, match):
        with pytest.raises(PydanticError, match=match):
            Identifiers(**kwargs)


class TestCI:
    def test_defaults_and_alias(self):
        ci = CI.model_validate({"id": "srv-1", "class": "physical_server", "name": "S"})
        assert ci.ci_class == "physical_server" and ci.status.value == "live"
        assert ci.to_json()["class"] == "physical_server"

    @pytest.mark.parametrize(
        ("data", "match"),
        [
            ({"id": "has space"}, "String should match pattern"),
            ({"id": "-leading"}, "String should match pattern"),
            ({"name": ""}, "at least 1 character"),
            ({"status": "dead"}, "Input should be"),
            ({"criticality": "extreme"}, "Input should be"),
            ({"min_required": 0}, "greater than or equal to 1"),
            ({"colour": "red"}, "Extra inputs"),
        ],
    )
    def test_rejects(self, data, match):
        with pytest.raises(PydanticError, match=match):
            CI.model_validate({"id": "x", "class": "application", "name": "X", **data})

    def test_naive_timestamps_become_utc(self):
        ci = CI(
            id="x",
            ci_class="application",
            name="X",
            last_seen={"nmap": datetime(2026, 1, 1, 12, 0)},
        )
        assert ci.last_seen["nmap"].tzinfo is UTC
        assert ci.last_seen_epoch() == datetime(2026, 1, 1, 12, tzinfo=UTC).timestamp()

    def test_content_ignores_store_owned_fields(self):
        a = CI(id="x", ci_class="application", name="X")
        b = a.model_copy(update={"version": 7, "updated_at": datetime.now(UTC)})
        assert a.content() == b.content()


class TestMergeLastSeen:
    def test_never_moves_back(self):
        t = datetime(2026, 1, 1, tzinfo=UTC)
        old = {"nmap": t, "agent": t}
        new = {"nmap": t - timedelta(days=1), "agent": t + timedelta(days=1), "vc": t}
        assert merge_last_seen(old, new) == {"nmap": t, "agent": t + timedelta(days=1), "vc": t}


class TestRecords:
    def test_relationship_key_and_self_loop(self):
        assert Relationship(source="a", type="uses", target="b").id == "a|uses|b"
        with pytest.raises(PydanticError, match="cannot join 'a' to itself"):
            Relationship(source="a", type="uses", target="a")

    def test_change_window_order(self):
        t = datetime(2026, 12, 1, tzinfo=UTC)
        with pytest.raises(PydanticError, match="window_end must be after window_start"):
            Change(id="c", window_start=t, window_end=t)

    def test_incident_priority_range(self):
        with pytest.raises(PydanticError, match="less than or equal to 5"):
            Incident(id="i", priority=6)

    def test_batch_records_are_discriminated(self):
        batch = Batch.model_validate(
            {
                "records": [
                    {"kind": "change", "id": "c", "type": "normal"},
                    {"kind": "incident", "id": "i"},
                ]
            }
        )
        assert [type(r).__name__ for r in batch.records] == ["Change", "Incident"]
        assert len(batch) == 2
        with pytest.raises(PydanticError):
            Batch.model_validate({"records": [{"kind": "rumour", "id": "r"}]})
