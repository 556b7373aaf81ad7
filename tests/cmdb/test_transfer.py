"""Import and export: round trips on every backend, atomic imports, errors naming file and line."""

from __future__ import annotations

import json

import pytest

from cmdb.errors import ConflictError, ImportFormatError, ValidationError
from cmdb.filters import CIFilter, HistoryFilter, RecordFilter, RelFilter
from cmdb.generator import generate
from cmdb.model import CI, Batch, Incident, Relationship
from cmdb.settings import Settings
from cmdb.store import open_store
from cmdb.transfer import (
    check_file,
    export_csv,
    export_graphml,
    export_json,
    import_file,
    read_file,
)


def rich_batch() -> Batch:
    """Attributes and identifiers that are easy to mangle: number-like text, lists, unicode."""
    return Batch(
        cis=[
            CI(
                id="app-1",
                ci_class="application",
                name='Core banking, "main"; 核心',
                criticality="critical",
                owner="alice",
                description="line 1\nline 2",
                attributes={
                    "version": "12.2",
                    "vendor": "null",
                    "tags": ["a", "b"],
                    "meta": {"x": 1},
                    "flag": True,
                    "blank": "",
                    "pad": " x ",
                },
            ),
            CI(
                id="db-1",
                ci_class="database",
                name="DB",
                support_group="dba",
                attributes={"engine": "oracle", "version": "19c"},
                identifiers={"ips": ["10.0.0.5", "10.0.0.6"], "fqdn": "db1.example.com"},
            ),
            CI(
                id="srv-1",
                ci_class="physical_server",
                name="Host 1",
                status="planned",
                attributes={"cpu_count": 16, "memory_gb": 256, "availability": 0.995},
                identifiers={
                    "serial_number": "SN-1",
                    "hostnames": ["srv1", "srv1-mgmt"],
                    "macs": ["00:11:22:33:44:55"],
                },
            ),
            CI(id="pool-1", ci_class="cluster", name="Pool", min_required=1),
            CI(id="old-1", ci_class="application", name="Gone", status="retired"),
        ],
        relationships=[
            Relationship(
                source="app-1",
                type="depends_on",
                target="db-1",
                attributes={"port": 1521, "note": "42", "proto": "tcp"},
            ),
            Relationship(source="app-1", type="runs_on", target="srv-1"),
            Relationship(source="app-1", type="depends_on", target="srv-1"),
            Relationship(source="db-1", type="runs_on", target="pool-1"),
            Relationship(source="srv-1", type="member_of", target="pool-1"),
        ],
        records=[Incident(id="INC-1", title="slow", ci_ids=["app-1", "old-1"])],
    )


def graph(store, *, records=True):
    cis = [c.content() for c in store.find_cis(CIFilter())]
    rels = [r.content() for r in store.find_relationships(RelFilter())]
    recs = (
        [
            r.model_dump(mode="json", exclude={"created_at", "updated_at", "version"})
            for r in store.find_records(RecordFilter())
        ]
        if records
        else []
    )
    return cis, rels, recs


def fresh(tmp_path, registry, name="other.db"):
    return open_store(Settings(db=tmp_path / name), registry=registry, create=True)


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def export_files(store, tmp_path, fmt):
    if fmt == "json":
        return [write(tmp_path / "g.json", json.dumps(export_json(store)))]
    if fmt == "csv":
        return [
            write(tmp_path / "cis.csv", export_csv(store, "cis")),
            write(tmp_path / "rels.csv", export_csv(store, "relationships")),
        ]
    return [write(tmp_path / "g.graphml", export_graphml(store))]


class TestRoundTrip:
    @pytest.mark.parametrize("fmt", ["json", "csv", "graphml"])
    def test_export_then_import_gives_the_same_graph(self, store, tmp_path, registry, fmt):
        store.apply(rich_batch(), actor="t")
        target = fresh(tmp_path, registry)
        try:
            for path in export_files(store, tmp_path, fmt):
                import_file(target, path, actor="t")
            assert graph(target, records=fmt == "json") == graph(store, records=fmt == "json")
            # importing again changes nothing
            for path in export_files(store, tmp_path, fmt):
                result = import_file(target, path, actor="t")
                assert result.created == result.updated == 0 and result.unchanged > 0
        finally:
            target.close()

    @pytest.mark.parametrize("fmt", ["json", "csv", "graphml"])
    def test_generated_estate(self, store, tmp_path, registry, fmt):
        for batch in generate(500, seed=1):
            store.apply(batch, actor="t")
        target = fresh(tmp_path, registry)
        try:
            for path in export_files(store, tmp_path, fmt):
                import_file(target, path, actor="t")
            assert graph(target) == graph(store)
        finally:
            target.close()

    def test_json_keeps_retired_when_asked(self, sqlite_store, tmp_path, registry):
        sqlite_store.apply(rich_batch(), actor="t")
        data = export_json(sqlite_store, include_retired=True)
        assert {c["id"] for c in data["cis"]} >= {"old-1"}
        assert "version" not in data["cis"][0] and "created_at" not in data["cis"][0]

    def test_json_brings_retired_cis_that_records_link(self, sqlite_store):
        sqlite_store.apply(rich_batch(), actor="t")
        ids = [c["id"] for c in export_json(sqlite_store)["cis"]]
        assert ids == sorted(ids) and "old-1" in ids
        assert "old-1" not in export_csv(sqlite_store, "cis")


@pytest.fixture(params=["sqlite", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def other_store(request, tmp_path, registry):
    """The other backend when a Neo4j server is up, else a second SQLite store."""
    if request.param == "sqlite":
        s = fresh(tmp_path, registry, "cross.db")
    else:
        from tests.conftest import _neo4j_store

        s = _neo4j_store(registry)
    yield s
    s.close()


class TestCrossBackend:
    @pytest.mark.parametrize("fmt", ["json", "csv", "graphml"])
    def test_sqlite_to_other(self, sqlite_store, other_store, tmp_path, fmt):
        sqlite_store.apply(rich_batch(), actor="t")
        for path in export_files(sqlite_store, tmp_path, fmt):
            import_file(other_store, path, actor="t")
        records = fmt == "json"
        assert graph(other_store, records=records) == graph(sqlite_store, records=records)

    def test_other_to_sqlite(self, other_store, tmp_path, registry):
        other_store.apply(rich_batch(), actor="t")
        target = fresh(tmp_path, registry, "back.db")
        try:
            for path in export_files(other_store, tmp_path, "json"):
                import_file(target, path, actor="t")
            assert graph(target) == graph(other_store)
        finally:
            target.close()


CIS_CSV = """id,class,name,attr.engine
db-1,database,DB one,oracle
db-2,database,DB two,sybase
db-3,database,DB three,mysql
"""


class TestAtomicImport:
    def test_bad_csv_row_leaves_store_unchanged(self, store, tmp_path):
        path = write(tmp_path / "cis.csv", CIS_CSV)
        with pytest.raises(ValidationError, match=r"cis\.csv:3: field 'attributes\.engine'"):
            import_file(store, path, actor="t")
        assert store.find_cis(CIFilter()) == [] and store.version() == 0
        assert store.history(HistoryFilter()) == []

    def test_bad_csv_model_row(self, sqlite_store, tmp_path):
        path = write(
            tmp_path / "cis.csv", "id,class,name,min_required\na,cluster,A,1\n\nb,cluster,B,zero\n"
        )
        with pytest.raises(ValidationError, match=r"cis\.csv:4: field 'min_required'"):
            import_file(sqlite_store, path, actor="t")
        assert sqlite_store.find_cis(CIFilter()) == []

    def test_csv_line_counts_multiline_cells(self, sqlite_store, tmp_path):
        path = write(
            tmp_path / "cis.csv",
            'id,class,name,description\na,application,A,"two\nlines"\nb,nope,B,\n',
        )
        with pytest.raises(ValidationError, match=r"cis\.csv:4: field 'class': unknown"):
            import_file(sqlite_store, path, actor="t")

    def test_bad_relationship_row_names_line(self, sqlite_store, tmp_path):
        sqlite_store.apply(rich_batch(), actor="t")
        before = graph(sqlite_store)
        path = write(
            tmp_path / "rels.csv", "source,type,target\napp-1,uses,db-1\napp-1,depends_on,ghost\n"
        )
        with pytest.raises(ValidationError, match=r"rels\.csv:3: field 'target': CI 'ghost'"):
            import_file(sqlite_store, path, actor="t")
        assert graph(sqlite_store) == before

    def test_bad_json_item_leaves_store_unchanged(self, store, tmp_path):
        data = {
            "cis": [
                {"id": "a", "class": "application", "name": "A"},
                {"id": "b", "class": "database", "name": "B"},
            ]
        }
        path = write(tmp_path / "g.json", json.dumps(data))
        with pytest.raises(
            ValidationError, match=r"g\.json: cis\[1\] 'b': field 'attributes\.engine'"
        ):
            import_file(store, path, actor="t")
        assert store.find_cis(CIFilter()) == []

    def test_json_model_error_names_item_and_field(self, sqlite_store, tmp_path):
        data = {
            "cis": [
                {"id": "a", "class": "application", "name": "A"},
                {"id": "b", "class": "application", "name": "B", "colour": "red"},
            ]
        }
        path = write(tmp_path / "g.json", json.dumps(data))
        with pytest.raises(ValidationError, match=r"g\.json: cis\[1\] 'b': field 'colour'"):
            import_file(sqlite_store, path, actor="t")
        assert sqlite_store.find_cis(CIFilter()) == []


class TestCheckFile:
    def test_counts_without_writing(self, store, tmp_path):
        store.apply(
            Batch(
                cis=[
                    CI(
                        id="db-1",
                        ci_class="database",
                        name="DB one",
                        attributes={"engine": "oracle"},
                    )
                ]
            ),
            actor="t",
        )
        path = write(tmp_path / "cis.csv", CIS_CSV.replace("sybase", "db2"))
        result = check_file(store, path)
        assert (result.created, result.updated, result.unchanged) == (2, 0, 1)
        assert len(store.find_cis(CIFilter())) == 1

    def test_reports_store_errors_by_line(self, sqlite_store, tmp_path):
        path = write(tmp_path / "cis.csv", CIS_CSV)
        with pytest.raises(ValidationError, match=r"cis\.csv:3: field 'attributes\.engine'"):
            check_file(sqlite_store, path)


class TestReadErrors:
    @pytest.mark.parametrize(
        ("name", "text", "pattern"),
        [
            ("g.json", '{"cis": [\n  {"id": "a",}\n]}', r"g\.json:2: invalid JSON"),
            ("g.json", "", r"g\.json:1: invalid JSON"),
            ("g.json", "[]", r"g\.json: expected a JSON object"),
            ("g.json", '{"cis": {}}', r"g\.json: 'cis' must be a list"),
            ("g.json", '{"nodes": []}', r"g\.json: expected a JSON object"),
            ("c.csv", "", r"c\.csv:1: empty file"),
            ("c.csv", "a,b\n1,2\n", r"c\.csv:1: the header needs"),
            ("c.csv", "id,class,name,colour\n", r"c\.csv:1: unknown column 'colour'"),
            ("c.csv", "id,class,name\na,application\n", r"c\.csv:2: expected 3 cells, got 2"),
            ("g.graphml", "<graphml><graph", r"g\.graphml:1: not valid XML"),
            ("g.txt", "x", r"g\.txt: unknown extension '\.txt'"),
        ],
    )
    def test_unparseable(self, tmp_path, name, text, pattern):
        with pytest.raises(ImportFormatError, match=pattern):
            read_file(write(tmp_path / name, text))

    def test_missing_file(self, tmp_path):
        with pytest.raises(ImportFormatError, match=r"nope\.json: cannot read \(No such file"):
            read_file(tmp_path / "nope.json")

    def test_unknown_format(self, tmp_path):
        with pytest.raises(ImportFormatError, match="unknown format 'xlsx'"):
            read_file(write(tmp_path / "g.json", "{}"), format="xlsx")

    def test_not_utf8(self, tmp_path):
        path = tmp_path / "c.csv"
        path.write_bytes(b"id,class,name\nx,application,\xff\n")
        with pytest.raises(ImportFormatError, match=r"c\.csv:2: not UTF-8"):
            read_file(path)

    def test_graphml_node_error_names_node(self, tmp_path):
        text = (
            '<graphml><key id="n" for="node" attr.name="name" attr.type="string"/>'
            '<graph edgedefault="directed"><node id="a"><data key="n">A</data></node>'
            "</graph></graphml>"
        )
        with pytest.raises(ValidationError, match=r"g\.graphml: node 'a': field 'class'"):
            read_file(write(tmp_path / "g.graphml", text))


class TestCsvCells:
    def test_attribute_cells(self, tmp_path, registry):
        path = write(
            tmp_path / "c.csv",
            "id,class,name,attr.version,attr.cpu_count,attr.x,attr.y,hostnames\n"
            'a,physical_server,A,7,8,true,"""12""",H1; h2 ;\n',
        )
        ci = read_file(path, registry=registry).cis[0]
        assert ci.attributes == {"version": 7, "cpu_count": 8, "x": True, "y": "12"}
        assert ci.identifiers.hostnames == ["h1", "h2"]
        app = write(tmp_path / "a.csv", "id,class,name,attr.version\na,application,A,12.2\n")
        assert read_file(app, registry=registry).cis[0].attributes == {"version": "12.2"}
        assert read_file(app).cis[0].attributes == {"version": 12.2}

    def test_relationship_file(self, tmp_path):
        path = write(tmp_path / "r.csv", "source,type,target,attr.port\na,uses,b,443\n")
        assert read_file(path).relationships[0].attributes == {"port": 443}


def stored_db(**extra):
    base = {
        "id": "db-1",
        "ci_class": "database",
        "name": "DB one",
        "owner": "alice",
        "support_group": "dba",
        "criticality": "critical",
        "identifiers": {"ips": ["10.0.0.5"], "fqdn": "db1.example.com"},
        "attributes": {"engine": "oracle", "version": "12.2", "port": 1521},
    }
    return CI.model_validate({**base, **extra})


class TestPartialImport:
    """A file sets the fields it gives and keeps the others (issue 12, item 4)."""

    def test_csv_subset_of_columns_updates_only_those(self, store, tmp_path):
        store.apply(Batch(cis=[stored_db()]), actor="t")
        path = write(tmp_path / "cis.csv", "id,class,name,attr.engine\ndb-1,database,DB one,db2\n")
        result = import_file(store, path, actor="t")
        assert (result.created, result.updated, result.unchanged) == (0, 1, 0)
        got = store.get_ci("db-1")
        assert (
            got.content()
            == stored_db(attributes={"engine": "db2", "version": "12.2", "port": 1521}).content()
        )

    def test_empty_cells_clear_what_can_be_cleared(self, sqlite_store, tmp_path):
        sqlite_store.apply(Batch(cis=[stored_db()]), actor="t")
        path = write(
            tmp_path / "cis.csv",
            "id,class,name,owner,criticality,ips,attr.port\ndb-1,database,,,,,\n",
        )
        import_file(sqlite_store, path, actor="t")
        got = sqlite_store.get_ci("db-1")
        assert (got.name, got.owner, got.criticality.value) == ("DB one", None, "critical")
        assert got.identifiers.ips == [] and got.identifiers.fqdn == "db1.example.com"
        assert got.attributes == {"engine": "oracle", "version": "12.2"}

    def test_replace_replaces_whole_cis(self, store, tmp_path):
        store.apply(Batch(cis=[stored_db()]), actor="t")
        path = write(tmp_path / "cis.csv", "id,class,name,attr.engine\ndb-1,database,DB one,db2\n")
        import_file(store, path, actor="t", replace=True)
        got = store.get_ci("db-1")
        assert (got.owner, got.support_group, got.criticality.value) == (None, None, "medium")
        assert got.attributes == {"engine": "db2"} and got.identifiers.ips == []

    def test_json_sets_the_keys_it_has(self, store, tmp_path):
        store.apply(Batch(cis=[stored_db()]), actor="t")
        data = {
            "cis": [{"id": "db-1", "owner": "bob", "attributes": {"version": "19c", "port": None}}]
        }
        import_file(store, write(tmp_path / "g.json", json.dumps(data)), actor="t")
        got = store.get_ci("db-1")
        assert (got.name, got.owner, got.support_group) == ("DB one", "bob", "dba")
        assert got.attributes == {"engine": "oracle", "version": "19c"}
        assert got.identifiers.ips == ["10.0.0.5"]

    def test_json_new_ci_still_needs_class_and_name(self, sqlite_store, tmp_path):
        data = {"cis": [{"id": "db-9", "owner": "bob"}]}
        with pytest.raises(ValidationError, match=r"g\.json: cis\[0\] 'db-9': field 'class'"):
            import_file(sqlite_store, write(tmp_path / "g.json", json.dumps(data)), actor="t")

    def test_relationship_file_keeps_attributes(self, store, tmp_path):
        store.apply(
            Batch(
                cis=[stored_db(), CI(id="app-1", ci_class="application", name="A")],
                relationships=[
                    Relationship(
                        source="app-1", type="depends_on", target="db-1", attributes={"port": 1521}
                    )
                ],
            ),
            actor="t",
        )
        path = write(
            tmp_path / "r.csv", "source,type,target,attr.proto\napp-1,depends_on,db-1,tcp\n"
        )
        import_file(store, path, actor="t")
        rel = store.find_relationships(RelFilter())[0]
        assert rel.attributes == {"port": 1521, "proto": "tcp"}

    def test_graphml_node_without_a_key_keeps_it(self, sqlite_store, tmp_path):
        sqlite_store.apply(Batch(cis=[stored_db()]), actor="t")
        text = (
            '<graphml><key id="c" for="node" attr.name="class" attr.type="string"/>'
            '<key id="n" for="node" attr.name="name" attr.type="string"/>'
            '<graph edgedefault="directed"><node id="db-1"><data key="c">database</data>'
            '<data key="n">Renamed</data></node></graph></graphml>'
        )
        import_file(sqlite_store, write(tmp_path / "g.graphml", text), actor="t")
        got = sqlite_store.get_ci("db-1")
        assert (got.name, got.owner, got.attributes["engine"]) == ("Renamed", "alice", "oracle")

    def test_a_change_made_after_reading_is_not_overwritten(self, store, tmp_path):
        """Another writer changes the CI between the import's read and its write."""
        store.apply(Batch(cis=[stored_db()]), actor="t")
        theirs = stored_db(owner="carol")

        class Racing:
            def __getattr__(self, name):
                return getattr(store, name)

            def apply(self, batch, **kw):
                store.apply(Batch(cis=[theirs]), actor="someone-else")
                return store.apply(batch, **kw)

        path = write(tmp_path / "cis.csv", "id,class,name,attr.engine\ndb-1,database,DB one,db2\n")
        with pytest.raises(ConflictError, match="changed by someone else"):
            import_file(Racing(), path, actor="t")
        assert store.get_ci("db-1").owner == "carol"
        assert store.get_ci("db-1").attributes["engine"] == "oracle"


class TestDryRunDiffs:
    def test_field_level_changes(self, store, tmp_path):
        store.apply(Batch(cis=[stored_db()]), actor="t")
        path = write(
            tmp_path / "cis.csv",
            "id,class,name,owner,attr.engine\n"
            "db-1,database,DB one,,db2\n"
            "db-2,database,DB two,,mysql\n",
        )
        plan = check_file(store, path)
        assert (plan.created, plan.updated, plan.unchanged) == (1, 1, 0)
        assert plan.diff_lines() == [
            "db-1: owner: 'alice' -> None",
            "db-1: attributes.engine: 'oracle' -> 'db2'",
            "db-2: created",
        ]
        assert store.get_ci("db-1").owner == "alice" and store.version() == 1

    def test_replace_plan_shows_what_would_be_wiped(self, sqlite_store, tmp_path):
        sqlite_store.apply(Batch(cis=[stored_db()]), actor="t")
        path = write(
            tmp_path / "cis.csv", "id,class,name,attr.engine\ndb-1,database,DB one,oracle\n"
        )
        assert check_file(sqlite_store, path).unchanged == 1
        lines = check_file(sqlite_store, path, replace=True).diff_lines(limit=3)
        assert lines[:2] == [
            "db-1: criticality: 'critical' -> 'medium'",
            "db-1: owner: 'alice' -> None",
        ]
        assert lines[3].startswith("... and ") and len(lines) == 4

    def test_partial_and_full_agree_on_counts(self, sqlite_store, tmp_path):
        sqlite_store.apply(rich_batch(), actor="t")
        for path in export_files(sqlite_store, tmp_path, "json"):
            plan = check_file(sqlite_store, path)
            assert plan.created == plan.updated == 0 and plan.changes == ()
