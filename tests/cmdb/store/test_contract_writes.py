"""The store owns ids and versions: expected versions, create-only writes, record ids allocated
inside the batch, and the text and size checks every write gets. Runs on both backends."""

from __future__ import annotations

import pytest

from cmdb.errors import ConflictError, NotFoundError, ValidationError
from cmdb.filters import CIFilter, RecordFilter
from cmdb.model import MAX_VALUE_BYTES, Batch, Change, Expected, Incident, Problem
from tests.cmdb.store.test_contract import ci, rel, small_graph, snapshot


def expect(entity, id_, version):
    return Expected(entity=entity, id=id_, version=version)


class TestExpectedVersions:
    def test_create_only_refuses_an_existing_ci(self, store):
        store.apply(small_graph(), actor="t")
        before = snapshot(store)
        with pytest.raises(ConflictError, match="CI 'app' already exists"):
            store.apply(
                Batch(cis=[ci("app", name="Other")], expected=[expect("ci", "app", 0)]), actor="t"
            )
        assert snapshot(store) == before

    def test_create_only_refuses_a_retired_ci(self, store):
        store.apply(small_graph(), actor="t")
        store.apply(Batch(retire_cis=["app"]), actor="t")
        with pytest.raises(ConflictError, match="already exists"):
            store.apply(Batch(cis=[ci("app")], expected=[expect("ci", "app", 0)]), actor="t")

    def test_create_only_creates_a_new_ci(self, store):
        store.apply(Batch(cis=[ci("new")], expected=[expect("ci", "new", 0)]), actor="t")
        assert store.get_ci("new").version == 1

    def test_stale_version_is_refused_and_nothing_is_written(self, store):
        store.apply(small_graph(), actor="t")
        store.apply(Batch(cis=[ci("app", name="Second")]), actor="t")  # now version 2
        before = snapshot(store)
        stale = Batch(cis=[ci("app", name="Third"), ci("fresh")], expected=[expect("ci", "app", 1)])
        with pytest.raises(ConflictError, match="version 2 is stored, you expected 1"):
            store.apply(stale, actor="t")
        assert snapshot(store) == before

    def test_current_version_is_accepted(self, store):
        store.apply(small_graph(), actor="t")
        store.apply(
            Batch(cis=[ci("app", name="Second")], expected=[expect("ci", "app", 1)]), actor="t"
        )
        assert store.get_ci("app").name == "Second"

    def test_two_editors_of_one_ci_last_one_loses(self, store):
        store.apply(small_graph(), actor="t")
        read_by_both = store.get_ci("app").version
        store.apply(
            Batch(cis=[ci("app", name="Alice's")], expected=[expect("ci", "app", read_by_both)]),
            actor="alice",
        )
        with pytest.raises(ConflictError):
            store.apply(
                Batch(cis=[ci("app", name="Bob's")], expected=[expect("ci", "app", read_by_both)]),
                actor="bob",
            )
        assert store.get_ci("app").name == "Alice's"

    def test_expecting_a_version_of_nothing_is_not_found(self, store):
        with pytest.raises(NotFoundError, match="CI 'ghost' not found"):
            store.apply(Batch(expected=[expect("ci", "ghost", 3)]), actor="t")

    def test_relationship_versions(self, store):
        store.apply(small_graph(), actor="t")
        key = "app|depends_on|db"
        with pytest.raises(ConflictError, match=r"relationship 'app\|depends_on\|db' already"):
            store.apply(
                Batch(relationships=[rel("app", "db")], expected=[expect("relationship", key, 0)]),
                actor="t",
            )
        store.apply(
            Batch(
                retire_relationships=[("app", "depends_on", "db")],
                expected=[expect("relationship", key, 1)],
            ),
            actor="t",
        )
        with pytest.raises(ConflictError, match="version 2 is stored"):
            store.apply(Batch(expected=[expect("relationship", key, 1)]), actor="t")

    def test_record_versions(self, store):
        store.apply(small_graph(), actor="t")
        store.apply(Batch(records=[Incident(id="INC-000001", title="x", ci_ids=["db"])]), actor="t")
        with pytest.raises(ConflictError, match="record 'INC-000001' already exists"):
            store.apply(
                Batch(
                    records=[Incident(id="INC-000001", title="y")],
                    expected=[expect("record", "INC-000001", 0)],
                ),
                actor="t",
            )
        assert store.get_record("INC-000001").title == "x"


class TestRecordIds:
    def test_new_records_get_ids_in_batch_order(self, store):
        store.apply(small_graph(), actor="t")
        result = store.apply(
            Batch(
                records=[
                    Incident(title="a", ci_ids=["db"]),
                    Change(title="b", ci_ids=["srv"]),
                    Incident(title="c", ci_ids=["app"]),
                    Problem(title="d"),
                ]
            ),
            actor="t",
        )
        assert result.allocated == ["INC-000001", "CHG-000001", "INC-000002", "PRB-000001"]
        assert store.get_record("INC-000002").title == "c"
        assert store.get_record("CHG-000001").kind == "change"

    def test_ids_continue_above_the_highest_of_any_case(self, store):
        store.apply(small_graph(), actor="t")
        store.apply(
            Batch(
                records=[Incident(id="inc-0041", title="old"), Incident(id="INC-7", title="older")]
            ),
            actor="t",
        )
        got = store.apply(Batch(records=[Incident(title="new")]), actor="t").allocated
        assert got == ["INC-000042"]

    def test_explicit_ids_in_the_same_batch_are_not_reused(self, store):
        result = store.apply(
            Batch(records=[Incident(title="auto"), Incident(id="INC-000005", title="explicit")]),
            actor="t",
        )
        assert result.allocated == ["INC-000006"]
        assert {r.id for r in store.find_records(RecordFilter())} == {"INC-000005", "INC-000006"}

    def test_a_failed_batch_allocates_nothing(self, store):
        with pytest.raises(ValidationError):
            store.apply(Batch(records=[Incident(title="a", ci_ids=["missing"])]), actor="t")
        assert store.apply(Batch(records=[Incident(title="b")]), actor="t").allocated == [
            "INC-000001"
        ]

    def test_duplicate_record_ids_in_a_batch_are_refused(self, store):
        with pytest.raises(ValidationError, match="duplicate record id"):
            store.apply(
                Batch(records=[Incident(id="INC-1", title="a"), Incident(id="INC-1", title="b")]),
                actor="t",
            )


class TestTextAndSize:
    @pytest.mark.parametrize("name", ["evil\x1b[2J", "nul\x00byte", "two\nlines", "bell\x07"])
    def test_control_characters_in_names_are_refused(self, store, name):
        with pytest.raises(
            ValidationError,
            match=r"field 'name': must not contain control "
            r"characters \(U\+00[0-9A-F]{2} at position",
        ):
            store.apply(Batch(cis=[ci("x", name=name)]), actor="t")
        assert store.find_cis(CIFilter()) == []

    def test_the_error_does_not_echo_the_raw_character(self, store):
        with pytest.raises(ValidationError) as err:
            store.apply(Batch(cis=[ci("x", name="a\x1b[2J")]), actor="t")
        assert "\x1b" not in str(err.value)

    def test_control_characters_in_record_titles_are_refused(self, store):
        with pytest.raises(ValidationError, match="field 'title'"):
            store.apply(Batch(records=[Incident(title="a\x00b")]), actor="t")

    def test_multiline_text_is_allowed_in_descriptions_and_attributes(self, store):
        store.apply(
            Batch(cis=[ci("x", description="line 1\nline 2\tend", attributes={"notes": "a\nb"})]),
            actor="t",
        )
        assert store.get_ci("x").description == "line 1\nline 2\tend"

    def test_nul_in_an_attribute_value_is_refused(self, store):
        with pytest.raises(ValidationError, match=r"field 'attributes\.notes'"):
            store.apply(Batch(cis=[ci("x", attributes={"notes": "a\x00b"})]), actor="t")

    def test_an_oversized_attribute_value_is_refused(self, store):
        big = "x" * (MAX_VALUE_BYTES + 1)
        with pytest.raises(
            ValidationError,
            match=r"field 'attributes.notes': value is 65,539 "
            r"bytes as JSON; the limit is 65,536",
        ):
            store.apply(Batch(cis=[ci("x", attributes={"notes": big})]), actor="t")
        assert store.find_cis(CIFilter()) == []

    def test_a_value_at_the_limit_is_accepted(self, store):
        ok = "x" * (MAX_VALUE_BYTES - 2)  # two quotes make it exactly the limit
        store.apply(Batch(cis=[ci("x", attributes={"notes": ok})]), actor="t")
        assert len(store.get_ci("x").attributes["notes"]) == MAX_VALUE_BYTES - 2

    def test_relationship_attributes_are_checked_too(self, store):
        store.apply(small_graph(), actor="t")
        with pytest.raises(ValidationError, match=r"field 'attributes': must not contain"):
            store.apply(
                Batch(
                    relationships=[
                        rel("app", "srv", "runs_on").model_copy(
                            update={"attributes": {"a\x1bb": 1}}
                        )
                    ]
                ),
                actor="t",
            )
        big = {"notes": "x" * MAX_VALUE_BYTES}
        with pytest.raises(ValidationError, match=r"attributes\.notes.*the limit is 65,536"):
            store.apply(
                Batch(
                    relationships=[
                        rel("app", "srv", "runs_on").model_copy(update={"attributes": big})
                    ]
                ),
                actor="t",
            )

    def test_an_oversized_ci_is_refused(self, store):
        many = {f"a{i}": "y" * 60_000 for i in range(20)}
        with pytest.raises(ValidationError, match=r"CI document is .* bytes as JSON"):
            store.apply(Batch(cis=[ci("x", attributes=many)]), actor="t")


class TestIdentifierKinds:
    def test_find_by_any_identifier_value(self, store):
        store.apply(small_graph(), actor="t")
        assert [c.id for c in store.find_cis(CIFilter(identifier="app-host"))] == ["app"]
        assert [c.id for c in store.find_cis(CIFilter(identifier="SN-1"))] == ["srv"]

    def test_reindexed_on_update(self, store):
        store.apply(small_graph(), actor="t")
        store.apply(
            Batch(cis=[ci("srv", "physical_server", identifiers={"serial_number": "SN-2"})]),
            actor="t",
        )
        assert store.find_cis(CIFilter(identifier="SN-1")) == []
        assert [c.id for c in store.find_cis(CIFilter(identifier="sn-2"))] == ["srv"]
