"""Hostile names and values never reach Cypher as text: the registry rejects them, or the
Neo4j store keeps them verbatim as parameters."""

from __future__ import annotations

import pytest
from pydantic import ValidationError as PydanticError

from cmdb.errors import RegistryError, UnknownClassError, UnknownRelTypeError, ValidationError
from cmdb.filters import CIFilter, HistoryFilter, RecordFilter, RelFilter
from cmdb.model import CI, Batch, Incident, Relationship
from cmdb.registry import load_registry
from cmdb.store import open_store
from cmdb.store.cypher import rel_type
from tests.neo4j_support import neo4j_settings_or_skip, wipe

pytestmark = pytest.mark.neo4j

HOSTILE = [
    "x'}) DETACH DELETE n //",
    'x"}) MATCH (n) DETACH DELETE n //',
    "x`]->() MATCH (n) DETACH DELETE n //",
    "`} DETACH DELETE n //",
    "$rows} RETURN 1 UNION MATCH (n) DETACH DELETE n //",
    "\\u0060; CALL db.clearQueryCaches() //",
    "line\nbreak /* comment */ ' \" ` }",
]


@pytest.fixture
def neo(registry):
    store = open_store(neo4j_settings_or_skip(), registry=registry)
    wipe(store)
    store.apply(
        Batch(
            cis=[
                CI(id="canary", ci_class="application", name="Canary"),
                CI(id="db", ci_class="database", name="DB", attributes={"engine": "oracle"}),
            ],
            relationships=[Relationship(source="canary", type="depends_on", target="db")],
        ),
        actor="setup",
    )
    yield store
    store.close()


def _intact(store) -> None:
    assert [c.id for c in store.find_cis(CIFilter())] == ["canary", "db"]
    assert [r.key for r in store.find_relationships(RelFilter())] == [
        ("canary", "depends_on", "db")
    ]


class TestRejected:
    @pytest.mark.parametrize("bad", HOSTILE)
    def test_class_name(self, neo, bad):
        with pytest.raises(UnknownClassError, match="unknown CI class"):
            neo.apply(Batch(cis=[CI(id="h1", ci_class=bad, name="H")]), actor="t")
        _intact(neo)

    @pytest.mark.parametrize("bad", HOSTILE)
    def test_relationship_type(self, neo, bad):
        with pytest.raises(UnknownRelTypeError, match="unknown relationship type"):
            neo.apply(
                Batch(relationships=[Relationship(source="canary", type=bad, target="db")]),
                actor="t",
            )
        with pytest.raises(UnknownRelTypeError):
            neo.neighbourhood("canary", types=[bad])
        with pytest.raises(UnknownRelTypeError):
            neo.server_side_blast_radius(["db"], types=[bad])
        with pytest.raises(UnknownRelTypeError):
            rel_type(neo.registry, bad)
        _intact(neo)

    @pytest.mark.parametrize("bad", HOSTILE)
    def test_retiring_a_hostile_type_is_a_missing_relationship(self, neo, bad):
        with pytest.raises(ValidationError, match=r"retire_relationships\[0\]: relationship "):
            neo.apply(Batch(retire_relationships=[("canary", bad, "db")]), actor="t")
        _intact(neo)

    @pytest.mark.parametrize("bad", HOSTILE)
    def test_ids_are_rejected_by_the_model(self, bad):
        with pytest.raises(PydanticError, match="should match pattern"):
            CI(id=bad, ci_class="application", name="H")

    def test_a_registry_cannot_name_a_hostile_type(self, tmp_path):
        path = tmp_path / "reg.yaml"
        path.write_text('relationships:\n  "x`]->() DETACH DELETE n //":\n    propagation: none\n')
        with pytest.raises(RegistryError, match="must match"):
            load_registry(path)


class TestStoredVerbatim:
    @pytest.mark.parametrize("bad", HOSTILE)
    def test_values_and_attribute_keys(self, neo, bad):
        # one-line fields refuse control characters (tests/cmdb/store/test_contract_writes.py);
        # descriptions and attribute values keep their line breaks
        line = bad.replace("\n", " ")
        ci = CI(
            id="h1",
            ci_class="application",
            name=line,
            owner=line,
            description=bad,
            attributes={line: bad, "nested": {line: [bad]}},
            identifiers={"hostnames": [line], "cloud_ids": [line]},
        )
        neo.apply(
            Batch(
                cis=[ci],
                relationships=[
                    Relationship(
                        source="h1", type="depends_on", target="db", attributes={line: bad}
                    )
                ],
                records=[Incident(id="INC-1", title=line, ci_ids=["h1"])],
            ),
            actor=bad,
            change_id=bad,
        )
        got = neo.get_ci("h1")
        assert (got.name, got.owner, got.description) == (line, line, bad)
        assert got.attributes == {line: bad, "nested": {line: [bad]}}
        assert [c.id for c in neo.find_cis(CIFilter(owner=line))] == ["h1"]
        assert [c.id for c in neo.find_cis(CIFilter(identifier=line))] == ["h1"]
        assert [c.id for c in neo.find_cis(CIFilter(text=line))] == ["h1"]
        (r,) = neo.find_relationships(RelFilter(source="h1"))
        assert r.attributes == {line: bad}
        assert neo.get_record("INC-1").title == line
        hist = neo.history(HistoryFilter(actor=bad, change_id=bad))
        assert len(hist) == 3 and {h.actor for h in hist} == {bad}
        assert neo.get_ci("canary").name == "Canary"
        assert len(neo.find_cis(CIFilter())) == 3

    @pytest.mark.parametrize("bad", HOSTILE)
    def test_reads_with_hostile_values_find_nothing(self, neo, bad):
        assert neo.find_cis(CIFilter(ids=(bad,))) == []
        assert neo.find_cis(CIFilter(classes=(bad,), owner=bad, support_group=bad)) == []
        assert neo.find_cis(CIFilter(identifier=bad, ids=("canary",))) == []
        assert neo.find_relationships(RelFilter(source=bad, target=bad)) == []
        assert neo.find_relationships(RelFilter(ci=bad)) == []
        assert neo.find_relationships(RelFilter(types=(bad,))) == []
        assert neo.find_records(RecordFilter(ci=bad, ids=(bad,))) == []
        assert neo.history(HistoryFilter(entity_id=bad)) == []
        assert neo.server_side_blast_radius([bad]) == set()
        _intact(neo)
