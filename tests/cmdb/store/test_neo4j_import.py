"""`neo4j-admin database import` for a first load (cmdb.store.neo4j_import, `cmdb neo4j
bulk-import`): the CSV it writes, its errors, and one real import into a private dev-server
instance compared, read by read, with a SQLite store loaded by ``apply`` from the same items.

The real import needs Java and the Neo4j jars (``scripts/neo4j-dev-server`` fetches them with
Maven); without them it skips with the reason, and with ``CI=true`` it fails instead.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import stat
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cli.main import app
from cmdb.errors import ConfigError, StoreError, ValidationError
from cmdb.filters import CIFilter, HistoryFilter, RecordFilter, RelFilter
from cmdb.generator import generate
from cmdb.model import CI, Batch, Change, Identifiers, Incident, Relationship
from cmdb.settings import Settings
from cmdb.store import neo4j_bulk, neo4j_import, open_store
from cmdb.store.cypher import schema_statements
from cmdb.store.neo4j_import import (
    DEV_SERVER,
    HEADERS,
    CsvFiles,
    admin_command,
    bulk_import,
    create_schema,
    dev_server,
    dev_server_uri,
    import_args,
    run_import,
    write_csv,
)

ROOT = Path(__file__).resolve().parents[3]
_T0 = datetime(2026, 1, 2, tzinfo=UTC)


def _rows(files: CsvFiles, name: str) -> list[dict[str, str]]:
    """A data file read with its header by Python's RFC 4180 reader (the reference)."""
    header = files.path(name, header=True).read_text().strip().split(",")
    with files.path(name).open(newline="", encoding="utf-8") as f:
        return [dict(zip(header, row, strict=True)) for row in csv.reader(f)]


def _extra() -> Batch:
    """Hand-made items the generator never makes: identifiers, awkward text, records."""
    return Batch(
        cis=[
            CI(
                id="srv-x1",
                ci_class="physical_server",
                name='Rack "A", slot 3; ünïcode',
                owner="",
                description="two\nlines",
                identifiers=Identifiers(serial_number="SN-1", ips=["10.0.0.1", "10.0.0.2"]),
                attributes={"note": 'quote " and, comma'},
            ),
            CI(id="app-x1", ci_class="application", name="App X"),
        ],
        relationships=[Relationship(source="app-x1", type="runs_on", target="srv-x1")],
        records=[
            Incident(id="INC-000007", title='disk "full"', ci_ids=["srv-x1"]),
            Incident(title="second", ci_ids=["srv-x1", "app-x1"]),
            Change(title="patch", ci_ids=[]),
        ],
    )


# -- the CSV files (no Java needed) ------------------------------------------------------------
class TestWriteCsv:
    def test_one_row_per_entity_and_one_history_row_each(self, tmp_path, registry):
        files = write_csv([_extra()], tmp_path, registry=registry, actor="t", chunked=False)
        assert (files.cis, files.relationships, files.records) == (2, 1, 3)
        assert files.history == 6 and files.identifiers == 3 and files.chunks == 0
        assert _rows(files, "history_chunk") == _rows(files, "history_batch") == []
        hist = _rows(files, "history")
        assert [h["seq:long"] for h in hist] == ["1", "2", "3", "4", "5", "6"]
        assert [h["entity"] for h in hist] == ["ci", "ci", "relationship"] + ["incident"] * 2 + [
            "change"
        ]
        assert {h["action"] for h in hist} == {"create"}
        meta = _rows(files, "meta")
        assert meta[0]["seq:long"] == "6" and meta[0]["version:long"] == "1"

    def test_chunked_history_of_cis_and_relationships(self, tmp_path, registry):
        """CIs and relationships go into chunks of consecutive seqs (one entity, one batch
        each, at most CHUNK_ITEMS), records keep a History row; the summary counts them."""
        monkey = pytest.MonkeyPatch()
        monkey.setattr(neo4j_import, "CHUNK_ITEMS", 2)
        try:
            batches = [*generate(600, seed=1, batch_size=1_000), _extra()]
            files = write_csv(batches, tmp_path, registry=registry, actor="t", change_id="C-1")
        finally:
            monkey.undo()
        hist, chunks = _rows(files, "history"), _rows(files, "history_chunk")
        assert [h["seq:long"] for h in hist] == [str(files.history - i) for i in (2, 1, 0)]
        assert {h["entity"] for h in hist} == {"incident", "change"}
        seqs = [int(x) for c in chunks for x in c["seqs:long[]"].split(";")]
        assert seqs == list(range(1, files.history - 2))  # every other entry, in order
        assert files.chunks == len(chunks) and all(int(c["count:long"]) <= 2 for c in chunks)
        by_seq = {}
        for c in chunks:
            got = list(neo4j_bulk._items({"seqs": [int(x) for x in c["seqs:long[]"].split(";")],
                                          "ids": c["ids"], "payload": c["payload"]}))  # fmt: skip
            assert [s for s, _, _ in got] == list(
                range(int(c["first_seq:long"]), int(c["last_seq:long"]) + 1)
            )
            assert {c["actor"], c["change_id"], c["batch_id:long"]} == {"t", "C-1", "1"}
            by_seq.update({s: (c["entity"], i, json.loads(d)) for s, i, d in got})
        docs = {r["id:ID(CI)"]: json.loads(r["doc"]) for r in _rows(files, "ci")}
        docs |= {r["key"]: json.loads(r["doc"]) for r in _rows(files, "relationship")}
        assert {i: d for _, i, d in by_seq.values()} == docs  # the after is the stored doc
        assert [e for e, _, _ in by_seq.values()].count("ci") == files.cis
        (summary,) = _rows(files, "history_batch")
        assert [summary[k] for k in ("first_seq:long", "last_seq:long", "chunks:long")] == [
            "1",
            str(files.history),
            str(files.chunks),
        ]
        assert int(summary["cis:long"]) == files.cis
        assert int(summary["relationships:long"]) == files.relationships

    def test_nothing_makes_a_store_as_new(self, tmp_path, registry):
        files = write_csv([], tmp_path, registry=registry, actor="t")
        (meta,) = _rows(files, "meta")
        assert [meta[k] for k in ("version:long", "batch:long", "seq:long", "schema:long")] == [
            "0",
            "0",
            "0",
            "1",
        ]
        assert len(meta["store_id"]) == 32 and files.entities == files.history == 0

    def test_text_survives_quoting(self, tmp_path, registry):
        files = write_csv([_extra()], tmp_path, registry=registry, actor='a "b"')
        ci = _rows(files, "ci")[0]
        assert ci["name"] == 'Rack "A", slot 3; ünïcode'
        assert ci["owner"] == ""  # an empty string, not a missing value
        assert CI.model_validate_json(ci["doc"]).description == "two\nlines"
        assert _rows(files, "history")[0]["actor"] == 'a "b"'
        raw = files.path("ci").read_text(encoding="utf-8")
        assert raw.count("\n") == 2  # no line breaks inside a value

    def test_missing_values_are_empty_cells(self, tmp_path, registry):
        files = write_csv([_extra()], tmp_path, registry=registry, actor="t")
        first, second = files.path("ci").read_text().splitlines()
        assert second.endswith('"medium",,,,,')  # app-x1: no owner, group or numbers
        assert first.endswith('"medium","",,,,')  # srv-x1: owner "" is an empty string

    @pytest.mark.parametrize("stored", [False, True])
    def test_documents_are_the_stores(self, tmp_path, registry, stored):
        """The document of a new item, stamped as the store stamps it, whether the fast text
        path or the copy applies (an item that carries store fields already)."""
        extra = _extra()
        if stored:
            extra.cis[0] = extra.cis[0].model_copy(update={"version": 4, "created_at": _T0})
        files = write_csv([extra], tmp_path, registry=registry, actor="t")
        for row, item in zip(_rows(files, "ci"), extra.cis, strict=True):
            want = item.to_json() | {"version": 1}
            got = json.loads(row["doc"])
            assert (
                got["created_at"] == got["updated_at"] == _rows(files, "history")[0]["at:datetime"]
            )
            skip = ("created_at", "updated_at")
            assert {k: v for k, v in got.items() if k not in skip} == {
                k: v for k, v in want.items() if k not in skip
            }
        rel = json.loads(_rows(files, "relationship")[0]["doc"])
        assert rel["version"] == 1 and rel["created_at"] and rel["source"] == "app-x1"

    def test_records_get_ids_as_the_store_allocates_them(self, tmp_path, registry):
        files = write_csv([_extra()], tmp_path, registry=registry, actor="t")
        recs = _rows(files, "record")
        assert [r["id"] for r in recs] == ["INC-000007", "INC-000008", "CHG-000001"]
        assert recs[1]["ci_ids:string[]"] == "app-x1;srv-x1"
        assert recs[0]["is_open:boolean"] == "true"

    def test_every_relationship_type_is_the_cypher_name(self, tmp_path, registry):
        files = write_csv(generate(600, seed=2), tmp_path, registry=registry, actor="t")
        types = {r[":TYPE"] for r in _rows(files, "relationship")}
        assert types and all(t == t.upper() for t in types)
        assert files.cis == 600 and files.relationships > 2000

    @settings(max_examples=60, deadline=None)
    @given(
        name=st.text(
            st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=40
        ).filter(str.strip),
        note=st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
    )
    def test_any_text_round_trips(self, tmp_path_factory, registry, name, note):
        ci = CI(id="srv-1", ci_class="physical_server", name=name, attributes={"note": note})
        try:
            files = write_csv(
                [Batch(cis=[ci])], tmp_path_factory.mktemp("q"), registry=registry, actor="t"
            )
        except ValidationError:  # control characters in the note: refused, as apply does
            assert (
                any(ch in note for ch in map(chr, range(32)))
                or "\x7f" in note
                or any(0x80 <= ord(c) <= 0x9F for c in note)
            )
            return
        row = _rows(files, "ci")[0]
        assert row["name"] == name
        assert CI.model_validate_json(row["doc"]).attributes["note"] == note


class TestWriteCsvErrors:
    def test_an_unknown_class_names_the_item(self, tmp_path, registry):
        bad = Batch(cis=[CI(id="x-1", ci_class="teapot", name="T")])
        with pytest.raises(ValidationError, match=r"cis\[0\] 'x-1'.*teapot"):
            write_csv([bad], tmp_path, registry=registry, actor="t", source="in.json")

    def test_the_source_file_prefixes_the_location(self, tmp_path, registry):
        bad = Batch(relationships=[Relationship(source="a-1", type="uses", target="b-1")])
        with pytest.raises(ValidationError, match=r"^in\.json: relationships\[0\].*'a-1'"):
            write_csv([bad], tmp_path, registry=registry, actor="t", source="in.json")

    def test_a_ci_id_repeated_in_a_later_batch(self, tmp_path, registry):
        one = Batch(cis=[CI(id="app-1", ci_class="application", name="A")])
        with pytest.raises(ValidationError, match="duplicate CI id in the input"):
            write_csv([one, one], tmp_path, registry=registry, actor="t")

    @pytest.mark.parametrize(
        "batch",
        [Batch(retire_cis=["app-1"]), Batch(retire_relationships=[("a", "uses", "b")])],
    )
    def test_retirements_are_not_a_first_load(self, tmp_path, registry, batch):
        with pytest.raises(ValidationError, match="new entities only"):
            write_csv([batch], tmp_path, registry=registry, actor="t")

    def test_a_control_character_in_the_actor(self, tmp_path, registry):
        with pytest.raises(ValidationError, match="field 'actor'"):
            write_csv([], tmp_path, registry=registry, actor="a\nb")


# -- running neo4j-admin, with a stand-in (no Java needed) -------------------------------------
def _fake_admin(tmp_path: Path, output: str, code: int) -> list[str]:
    script = tmp_path / "fake-admin"
    script.write_text(f"#!/bin/sh\necho \"$@\" > {tmp_path}/args\ncat <<'EOF'\n{output}\nEOF\n"
                      f"exit {code}\n")  # fmt: skip
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return [str(script)]


class TestRunImport:
    def test_the_arguments_name_every_file(self, tmp_path):
        files = CsvFiles(tmp_path)
        args = import_args(files, overwrite=True, max_memory="1G", database="cmdb")
        assert args[:3] == ["database", "import", "full"] and args[-1] == "cmdb"
        assert f"--nodes=CI={tmp_path}/ci.header.csv,{tmp_path}/ci.csv" in args
        assert sum(a.startswith("--nodes=") for a in args) == len(HEADERS) - 1
        assert "--overwrite-destination=true" in args and "--max-off-heap-memory=1G" in args
        assert "--overwrite-destination=true" not in import_args(files)
        with pytest.raises(ConfigError, match="comma"):
            import_args(CsvFiles(tmp_path / "a,b"))

    @pytest.mark.parametrize(
        ("said", "meaning"),
        [
            ("Database already exist. Re-run with `--overwrite-destination`", "--overwrite"),
            ("The database is in use. Stop database 'neo4j' and try again.", "stop the Neo4j"),
            ("Something odd\nRun with '--verbose' for a more detailed error message.", "odd"),
        ],
    )
    def test_failures_are_one_line(self, tmp_path, registry, said, meaning):
        admin = _fake_admin(tmp_path, said, 1)
        with pytest.raises(StoreError, match=meaning):
            bulk_import(
                [_extra()], registry=registry, admin=admin, actor="t", work_dir=tmp_path / "w"
            )
        (kept,) = (tmp_path / "w").iterdir()  # the log stays, the CSV files go
        assert [p.name for p in kept.iterdir()] == ["neo4j-admin.log"]

    def test_success_removes_the_files_unless_kept(self, tmp_path, registry):
        admin = _fake_admin(tmp_path, "IMPORT DONE", 0)
        report = bulk_import(
            [_extra()], registry=registry, admin=admin, actor="t", work_dir=tmp_path / "w"
        )
        assert report.files.entities == 6 and report.kept is None
        assert list((tmp_path / "w").iterdir()) == []
        assert "--nodes=History=" in (tmp_path / "args").read_text()
        kept = bulk_import(
            [_extra()], registry=registry, admin=admin, actor="t", keep_files=True,
            work_dir=tmp_path / "w",
        )  # fmt: skip
        assert kept.kept is not None and (kept.kept / "ci.csv").is_file()

    def test_bad_input_runs_nothing_and_leaves_nothing(self, tmp_path, registry):
        admin = _fake_admin(tmp_path, "IMPORT DONE", 0)
        bad = Batch(cis=[CI(id="x-1", ci_class="teapot", name="T")])
        with pytest.raises(ValidationError):
            bulk_import([bad], registry=registry, admin=admin, actor="t", work_dir=tmp_path / "w")
        assert not (tmp_path / "args").exists() and list((tmp_path / "w").iterdir()) == []

    def test_a_work_dir_neo4j_admin_cannot_use(self, tmp_path, registry):
        admin = _fake_admin(tmp_path, "IMPORT DONE", 0)
        with pytest.raises(ConfigError, match="comma"):
            bulk_import([_extra()], registry=registry, admin=admin, actor="t",
                        work_dir=tmp_path / "a,b")  # fmt: skip
        assert list((tmp_path / "a,b").iterdir()) == []
        (tmp_path / "file").write_text("")
        with pytest.raises(ConfigError, match="cannot make a CSV directory"):
            bulk_import([_extra()], registry=registry, admin=admin, actor="t",
                        work_dir=tmp_path / "file" / "sub")  # fmt: skip

    def test_a_missing_neo4j_admin(self, tmp_path, registry, monkeypatch):
        with pytest.raises(ConfigError, match="cannot run"):
            run_import([str(tmp_path / "nope")], CsvFiles(tmp_path))
        monkeypatch.setenv("PATH", str(tmp_path))
        monkeypatch.setenv("NEO4J_HOME", str(tmp_path))
        with pytest.raises(ConfigError, match="--neo4j-admin PATH"):
            admin_command()
        (tmp_path / "bin").mkdir()
        (tmp_path / "bin" / "neo4j-admin").write_text("")
        assert admin_command() == [str(tmp_path / "bin" / "neo4j-admin")]
        assert admin_command("/opt/n4j/bin/neo4j-admin --verbose")[1] == "--verbose"
        assert admin_command(dev=True) == [str(DEV_SERVER), "admin"]


class TestCli:
    def _run(self, tmp_path, *args):
        return CliRunner().invoke(app, ["--db", str(tmp_path / "x.db"), "neo4j", *args])

    def test_needs_a_file_or_generate(self, tmp_path):
        r = self._run(tmp_path, "bulk-import")
        assert r.exit_code == 2 and "FILE or --generate" in r.output

    def test_one_neo4j_admin_only(self, tmp_path):
        r = self._run(tmp_path, "bulk-import", "--generate", "600", "--neo4j-admin", "x",
                      "--dev-server")  # fmt: skip
        assert r.exit_code == 2 and "not both" in r.output

    def test_bad_input_file_is_one_line(self, tmp_path):
        f = tmp_path / "in.json"
        f.write_text('{"cis": [{"id": "x-1", "class": "teapot", "name": "T"}]}')
        admin = _fake_admin(tmp_path, "IMPORT DONE", 0)[0]
        r = self._run(tmp_path, "bulk-import", str(f), "--neo4j-admin", admin)
        assert r.exit_code == 1 and "in.json" in r.output and "teapot" in r.output
        assert "Traceback" not in r.output and not (tmp_path / "args").exists()

    def test_a_bad_line_is_named_once(self, tmp_path):
        f = tmp_path / "in.jsonl"
        f.write_text('{"kind": "ci", "id": "a-1", "class": "application", "name": "A"}\n'
                     '{"kind": "ci", "id": "x-1"}\n')  # fmt: skip
        admin = _fake_admin(tmp_path, "IMPORT DONE", 0)[0]
        r = self._run(tmp_path, "bulk-import", str(f), "--neo4j-admin", admin)
        assert r.exit_code == 1 and "in.jsonl:2:" in r.output
        assert r.output.count("in.jsonl") == 1, r.output

    def test_unreadable_file(self, tmp_path):
        r = self._run(tmp_path, "bulk-import", str(tmp_path / "none.json"), "--neo4j-admin", "x")
        assert r.exit_code == 1 and "cannot read" in r.output

    def test_workers_and_history_nodes(self, tmp_path):
        admin = _fake_admin(tmp_path, "IMPORT DONE", 0)[0]
        r = self._run(tmp_path, "bulk-import", "--generate", "600", "--neo4j-admin", admin,
                      "--workers", "2", "--history-nodes", "-f", "json")  # fmt: skip
        assert r.exit_code == 0, r.output
        args = (tmp_path / "args").read_text()
        assert "ci-part-01.csv" in args and "history-part-00.csv" in args
        assert '"history": ' in r.output and "history_chunk-part" not in args
        r = self._run(tmp_path, "bulk-import", "--generate", "600", "--workers", "0")
        assert r.exit_code == 2 and "--workers" in r.output

    def test_a_run_reports_counts(self, tmp_path):
        admin = _fake_admin(tmp_path, "IMPORT DONE", 0)[0]
        r = self._run(
            tmp_path, "bulk-import", "--generate", "600", "--neo4j-admin", admin, "-f", "json"
        )
        assert r.exit_code == 0, r.output
        assert '"cis": 600' in r.output and '"records_per_second"' in r.output


# -- a real import (Java and the Neo4j jars) ---------------------------------------------------
def _needs_java() -> None:
    reason = None
    if shutil.which("java") is None:
        reason = "no java on the PATH"
    elif not list((ROOT / ".neo4j" / "lib").glob("neo4j-*.jar")) and shutil.which("mvn") is None:
        reason = "no Neo4j jars in .neo4j/lib and no mvn to fetch them"
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"neo4j-admin import needs Java and the Neo4j jars in CI: {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _docs(items, skip=("created_at", "updated_at")):
    return [{k: v for k, v in i.to_json().items() if k not in skip} for i in items]


def _same_history(a, b, *, seqs: bool = True) -> None:
    """The same entries, by entity; the sequence numbers follow the input's batches (each
    batch's CIs, relationships, then records), not one batch's CIs-then-relationships order."""
    if seqs:
        assert sorted(x.seq for x in a) == sorted(y.seq for y in b)
    skip = ("created_at", "updated_at")

    def key(h):
        after = {k: v for k, v in h.after.items() if k not in skip}
        return h.entity, h.entity_id, h.action, h.actor, h.batch_id, h.before, repr(after)

    assert sorted(map(key, a)) == sorted(map(key, b))


def _graph(t):
    """A snapshot as plain data, whatever order its nodes are in."""
    nodes = {
        ci: (int(cls), int(crit), int(k), bool(live), repr(float(seen)), repr(float(av)))
        for ci, cls, crit, k, live, seen, av in zip(
            t.ids, t.class_code, t.criticality, t.min_required, t.in_service, t.last_seen,
            t.availability, strict=True,
        )
    }  # fmt: skip
    ids = np.array(t.ids, dtype=object)
    edges = sorted(zip(ids[t.src], ids[t.dst], t.rtype.tolist(), strict=True))
    return nodes, edges


@pytest.fixture
def instance(tmp_path, monkeypatch):
    """A private, stopped dev-server instance (its own directory and port)."""
    _needs_java()
    monkeypatch.setenv("CMDB_NEO4J_DEV_DIR", str(tmp_path / "neo4j"))
    monkeypatch.setenv("CMDB_NEO4J_DEV_PORT", str(_free_port()))
    yield tmp_path / "neo4j"
    dev_server("stop")


# two workers only: each case starts a Neo4j of its own (about 45 s), and the workers' files are
# those of one process byte for byte (tests/cmdb/store/test_neo4j_import_workers.py)
@pytest.mark.parametrize("workers", [2])
def test_a_real_import_reads_like_a_store_loaded_by_apply(instance, tmp_path, registry, workers):
    batches = [*generate(600, seed=4, batch_size=1_000), _extra()]
    one = Batch(
        cis=[c for b in batches for c in b.cis],
        relationships=[r for b in batches for r in b.relationships],
        records=[r for b in batches for r in b.records],
    )
    admin = admin_command(dev=True)
    report = bulk_import(batches, registry=registry, admin=admin, actor="loader",
                         max_memory="512M", workers=workers)  # fmt: skip
    assert report.files.entities == len(one)

    with pytest.raises(StoreError, match=r"already exists there.*--overwrite"):
        bulk_import([_extra()], registry=registry, admin=admin, actor="loader")
    dev_server("start")
    with pytest.raises(StoreError, match="in use: stop the Neo4j server"):
        bulk_import([_extra()], registry=registry, admin=admin, actor="x", overwrite=True)

    uri, password = dev_server_uri()
    store_id, _ = create_schema(uri, password=password, registry=registry)
    neo = open_store(Settings(store=uri, neo4j_password=password), registry=registry)
    ref = open_store(Settings(db=tmp_path / "ref.db"), registry=registry, create=True)
    try:
        ref.apply(one, actor="loader")
        assert neo.store_id == store_id and neo.version() == ref.version() == 1
        with neo._session() as s:
            names = {n for (n,) in s.run("SHOW CONSTRAINTS YIELD name RETURN name").values()}
            names |= {n for (n,) in s.run("SHOW INDEXES YIELD name RETURN name").values()}
        assert {stmt.split()[2] for stmt in schema_statements(registry)} <= names

        every = CIFilter(include_retired=True)
        assert _docs(neo.find_cis(every)) == _docs(ref.find_cis(every))
        assert neo.find_cis(CIFilter(identifier="10.0.0.2"))[0].id == "srv-x1"
        assert neo.get_ci("srv-x1").name == 'Rack "A", slot 3; ünïcode'
        rels = RelFilter(include_retired=True)
        assert _docs(neo.find_relationships(rels)) == _docs(ref.find_relationships(rels))
        assert _docs(neo.find_records(RecordFilter())) == _docs(ref.find_records(RecordFilter()))
        assert [r.id for r in neo.find_records(RecordFilter(ci="app-x1"))] == ["INC-000008"]
        _same_history(neo.history(HistoryFilter()), ref.history(HistoryFilter()))
        _same_history(
            neo.history(HistoryFilter(ci="srv-x1")),
            ref.history(HistoryFilter(ci="srv-x1")),
            seqs=False,
        )

        assert _graph(neo.topology()) == _graph(ref.topology())

        # the imported store takes ordinary writes afterwards
        result = neo.apply(
            Batch(cis=[CI(id="app-x2", ci_class="application", name="Y")]), actor="t"
        )
        assert result.created == 1 and neo.version() == 2
        assert neo.history(HistoryFilter(entity_id="app-x2"))[0].seq == report.files.history + 1
    finally:
        neo.close()
        ref.close()
