"""The store contract, continued: the bulk reads reconciliation uses (every backend)."""

from __future__ import annotations

import pytest

from cmdb.model import CI, Batch, Identifiers, Relationship


def _graph() -> Batch:
    return Batch(
        cis=[
            CI(
                id="a",
                ci_class="physical_server",
                name="A",
                identifiers=Identifiers(
                    serial_number="SN-1",
                    hostnames=["Host-A"],
                    keys={"hostname+domain": "host-a|x.org"},
                ),
            ),
            CI(
                id="b",
                ci_class="physical_server",
                name="B",
                identifiers=Identifiers(serial_number="sn-2", hostnames=["host-a"]),
            ),
            CI(id="c", ci_class="application", name="C"),
        ],
        relationships=[
            Relationship(source="c", type="runs_on", target="a"),
            Relationship(source="c", type="depends_on", target="b"),
            Relationship(source="a", type="depends_on", target="b"),
        ],
    )


class TestFindByIdentifiers:
    def test_matches_kind_and_value_case_insensitively(self, store):
        store.apply(_graph(), actor="t")
        got = store.find_by_identifiers(
            [("serial_number", "SN-2"), ("hostname", "HOST-A"), ("hostname+domain", "host-a|x.org")]
        )
        assert got == {
            ("serial_number", "SN-2"): ["b"],
            ("hostname", "HOST-A"): ["a", "b"],
            ("hostname+domain", "host-a|x.org"): ["a"],
        }

    @pytest.mark.parametrize(
        "pair", [("hostname", "sn-1"), ("serial_number", "host-a"), ("fqdn", "nowhere")]
    )
    def test_a_value_under_another_kind_does_not_match(self, store, pair):
        store.apply(_graph(), actor="t")
        assert store.find_by_identifiers([pair]) == {}

    def test_empty_and_retired(self, store):
        store.apply(_graph(), actor="t")
        assert store.find_by_identifiers([]) == {}
        store.apply(Batch(retire_cis=["b"]), actor="t")
        assert store.find_by_identifiers([("serial_number", "sn-2")]) == {
            ("serial_number", "sn-2"): ["b"]
        }

    def test_follows_identifier_changes(self, store):
        store.apply(_graph(), actor="t")
        moved = store.get_ci("a").model_copy(
            update={"identifiers": Identifiers(serial_number="SN-9")}
        )
        store.apply(Batch(cis=[moved]), actor="t")
        assert store.find_by_identifiers(
            [("serial_number", "sn-1"), ("serial_number", "sn-9")]
        ) == {("serial_number", "sn-9"): ["a"]}


class TestFindRelationshipsFrom:
    def test_outgoing_of_the_given_sources_sorted_retired_included(self, store):
        store.apply(_graph(), actor="t")
        store.apply(Batch(retire_relationships=[("c", "depends_on", "b")]), actor="t")
        got = store.find_relationships_from(["c", "c", "nope"])
        assert [(r.key, r.status) for r in got] == [
            (("c", "depends_on", "b"), "retired"),
            (("c", "runs_on", "a"), "active"),
        ]
        assert [r.key for r in store.find_relationships_from(["a", "b"])] == [
            ("a", "depends_on", "b")
        ]
        assert store.find_relationships_from([]) == []
