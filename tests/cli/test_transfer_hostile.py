"""`cmdb import` / `export` / `neo4j bulk-import` against hostile input and concurrent writers.

Each case is one a new user meets by accident: a file that is not JSON in a way Python's parser
does not report as a syntax error (nesting, a 5000-digit number, NaN), a stored document the
model cannot read, a missing file before a missing neo4j-admin, a chunked import killed or
raced by a second process, an export while another process writes. Expected: one `error:` line
naming the file, line or item, exit 1, no traceback, nothing half written. The process cases run
the real `cmdb` command in subprocesses on a real SQLite file.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cmdb.errors import ValidationError
from cmdb.transfer import JSONSyntaxError, load_json, locate
from tests.cli.conftest import Cmdb
from tests.cli.test_transfer_cli import one_error_line

CMDB = [str(Path(sys.executable).parent / "cmdb")]  # the installed command
ROOT = Path(__file__).resolve().parents[2]


def ci_line(ci_id: str, **extra: object) -> str:
    return json.dumps({"kind": "ci", "id": ci_id, "class": "application", "name": ci_id, **extra})


def estate(path: Path, cis: int) -> Path:
    """A JSON Lines file of ``cis`` applications, each depending on the one before."""
    with path.open("w", encoding="utf-8") as f:
        for i in range(cis):
            f.write(ci_line(f"app-{i:05d}") + "\n")
        for i in range(1, cis):
            rel = {"source": f"app-{i:05d}", "type": "depends_on", "target": f"app-{i - 1:05d}"}
            f.write(json.dumps({"kind": "relationship", **rel}) + "\n")
    return path


def run(db: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*CMDB, "--db", str(db), *args], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert "Traceback" not in done.stderr
    if check:
        assert done.returncode == 0, done.stderr
    return done


def exported(db: Path) -> list[dict]:
    return [json.loads(line) for line in run(db, "export", "--format", "jsonl").stdout.splitlines()]


def error_after_progress(result) -> str:
    """The one error line, after the progress line a non-terminal keeps."""
    lines = [ln for ln in result.stderr.splitlines() if ln.strip() and "━" not in ln]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


class TestLoadJson:
    @pytest.mark.parametrize(
        ("text", "problem", "line"),
        [
            ('{"a": NaN}', "NaN and Infinity are not JSON: write null or a string, column 7", 1),
            ('{"a":\n [-Infinity]}', "NaN and Infinity are not JSON", 2),
            ("[" * 5000 + "]" * 5000, "nested too deeply", 1),
            ('{"a": ' + "9" * 5000 + "}", "a number of more than 4300 digits", 1),
            ('{"a": 1,}', "Expecting property name enclosed in double quotes, column 9", 1),
            ('{"a":\n\n "b', "Unterminated string starting at, column 2", 3),
        ],
    )
    def test_refused_with_its_place(self, text, problem, line):
        with pytest.raises(JSONSyntaxError, match="^" + problem.replace("(", r"\(")) as info:
            load_json(text)
        assert info.value.line == line

    @pytest.mark.parametrize(
        "text",
        [
            '{"a": [1, 2.5, "x", null, true], "b": {"c": -1e300}}',
            '"\\ud800"',  # a lone surrogate: json.loads reads it, the model refuses it later
            "[" * 300 + "]" * 300,  # deeper than the fast parser's 200 levels
            str(10**400),
        ],
    )
    def test_same_as_json_loads(self, text):
        assert load_json(text) == json.loads(text)


class TestLocate:
    def test_an_item_of_the_batch_at_its_line(self):
        err = ValidationError("missing", field="name", location="relationships[2] 'a|uses|b'")
        located = locate(err, {"relationships[2]": "in.jsonl:9"})
        assert str(located) == "in.jsonl:9: field 'name': missing"

    def test_not_an_item(self):
        assert locate(ValidationError("x", location="records[0]"), {"cis[0]": "f:1"}) is None


_DEEP = "[" * 3000 + "]" * 3000
_LONG = ci_line("b")[:-1] + ', "min_required": ' + "7" * 5000 + "}"
_INF = (
    '{"cis": [\n{"id": "a", "class": "application", "name": "a",\n "attributes": {"x": Infinity}}]}'
)
_NAN = "NaN and Infinity are not JSON: write null or a string"
HOSTILE = [
    ("deep.jsonl", ci_line("a", attributes={"x": 1}).replace("1", _DEEP),
     "deep.jsonl:1: invalid JSON (nested too deeply, column "),
    ("deep.json", '{"cis": ' + _DEEP + "}",
     "deep.json:1: invalid JSON (nested too deeply, column "),
    ("long.jsonl", ci_line("a") + "\n" + _LONG,
     "long.jsonl:2: invalid JSON (a number of more than 4300 digits, column "),
    ("nan.jsonl", ci_line("a", attributes={"x": float("nan")}),
     f"nan.jsonl:1: invalid JSON ({_NAN}"),
    ("inf.json", _INF, f"inf.json:3: invalid JSON ({_NAN}, column 22)"),
]  # fmt: skip


class TestHostileFiles:
    @pytest.mark.parametrize("chunked", [[], ["--chunked", "2"]])
    @pytest.mark.parametrize(("name", "text", "message"), HOSTILE)
    def test_refused_in_one_line_and_nothing_written(
        self, cmdb, tmp_path, name, text, message, chunked
    ):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        result = cmdb("import", str(path), *chunked, code=1)
        assert one_error_line(result).startswith(f"error: {path.parent}/{message}")
        assert cmdb("export", "--format", "jsonl").stdout == ""

    def test_bom_and_crlf_are_read(self, cmdb, tmp_path):
        path = tmp_path / "win.jsonl"
        path.write_bytes(b"\xef\xbb\xbf" + (ci_line("a") + "\r\n" + ci_line("b") + "\r\n").encode())
        cmdb("import", str(path))
        assert [d["id"] for d in json.loads(cmdb("export").stdout)["cis"]] == ["a", "b"]

    @pytest.mark.parametrize("chunked", [[], ["--chunked", "5"]])
    def test_a_missing_file_or_a_directory_creates_no_store(self, tmp_path, chunked):
        new = Cmdb(tmp_path / "sub" / "new.db")
        for given, why in (
            (tmp_path / "nofile.jsonl", "No such file or directory"),
            (tmp_path, "Is a directory"),  # no extension: said as a directory, not as a format
        ):
            result = new("import", str(given), *chunked, code=1)
            assert one_error_line(result) == f"error: {given}: cannot read ({why})"
        assert not (tmp_path / "sub").exists()


class TestStoredDocuments:
    def test_a_stored_lone_surrogate_fails_export_naming_the_ci(self, cmdb, tmp_path):
        path = tmp_path / "two.jsonl"
        path.write_text(ci_line("a") + "\n" + ci_line("b") + "\n", encoding="utf-8")
        cmdb("import", str(path))
        with sqlite3.connect(cmdb.db) as conn:  # as a hand edit or an older writer left it
            (doc,) = conn.execute("SELECT doc FROM ci WHERE id = 'b'").fetchone()
            bad = doc.replace('"name": "b"', '"name": "b\\ud800"').replace(
                '"name":"b"', '"name":"b\\ud800"'
            )
            assert bad != doc
            conn.execute("UPDATE ci SET doc = ? WHERE id = 'b'", (bad,))
        for fmt in ("json", "jsonl", "csv", "graphml"):
            out = tmp_path / f"out.{fmt}"
            result = cmdb("export", "--format", fmt, "-o", str(out), code=1)
            line = one_error_line(result)
            assert line.startswith("error: the store holds CI 'b' in a form it cannot read (")
            assert line.endswith("); cannot export")
            assert not out.exists()

    @pytest.mark.parametrize(
        "args",
        [("ci", "show", "b"), ("ci", "list"), ("ci", "show", "a"), ("rel", "list", "--ci", "a")],
    )
    def test_reading_a_broken_stored_document_is_one_error(self, cmdb, tmp_path, args):
        """Not only export: every read of a document the model refuses names the item."""
        path = tmp_path / "two.jsonl"
        rel = {"kind": "relationship", "source": "a", "type": "depends_on", "target": "b"}
        path.write_text(
            "\n".join([ci_line("a"), ci_line("b"), json.dumps(rel)]) + "\n", encoding="utf-8"
        )
        cmdb("import", str(path))
        with sqlite3.connect(cmdb.db) as conn:  # a hand edit: a field of the wrong type
            conn.execute("UPDATE ci SET doc = json_set(doc, '$.name', json('[1]')) WHERE id='b'")
            conn.execute("UPDATE rel SET doc = json_set(doc, '$.attributes', json('[1]'))")
        result = cmdb(*args, code=1)
        line = one_error_line(result)
        assert line.startswith("error: the store holds "), line
        assert "in a form it cannot read (" in line

    def test_a_broken_stored_record_is_one_error(self, cmdb, tmp_path):
        cmdb("demo")
        with sqlite3.connect(cmdb.db) as conn:
            query = "SELECT id FROM record WHERE kind = 'incident' LIMIT 1"
            (rid,) = conn.execute(query).fetchone()
            conn.execute('UPDATE record SET doc = \'{"kind": "incident"\' WHERE id = ?', (rid,))
        result = cmdb("incident", "show", rid, code=1)
        assert one_error_line(result).startswith("error: the store holds record ")


class TestBulkImportInput:
    def test_a_missing_file_is_said_before_a_missing_neo4j_admin(self, cmdb, tmp_path):
        env_path = os.environ.get("PATH", "")
        os.environ["PATH"] = str(tmp_path)  # no neo4j-admin to find
        try:
            result = cmdb("neo4j", "bulk-import", str(tmp_path / "none.jsonl"), code=1)
        finally:
            os.environ["PATH"] = env_path
        assert error_after_progress(result) == (
            f"error: {tmp_path}/none.jsonl: cannot read (No such file or directory)"
        )

    def test_an_unknown_extension_names_the_in_format_option(self, cmdb, tmp_path):
        path = tmp_path / "estate.txt"
        path.write_text(ci_line("a"))
        result = cmdb("neo4j", "bulk-import", str(path), code=1)
        assert error_after_progress(result).endswith(
            "use json, jsonl, csv or graphml (--in-format)"
        )

    @pytest.mark.parametrize("workers", ["1", "2"])
    def test_a_bad_item_is_named_at_its_line(self, cmdb, tmp_path, workers):
        path = estate(tmp_path / "in.jsonl", 3)
        with path.open("a") as f:
            rel = {"source": "nope", "type": "uses", "target": "app-00000"}
            f.write(json.dumps({"kind": "relationship", **rel}) + "\n")
        admin = tmp_path / "neo4j-admin"  # never reached: the input is checked first
        result = cmdb(
            "neo4j", "bulk-import", str(path), "--neo4j-admin", str(admin), "--workers", workers,
            code=1,
        )  # fmt: skip
        assert error_after_progress(result) == (
            f"error: {path}:6: field 'source': CI 'nope' does not exist"
        )


def chunked_import_under_way(tmp_path: Path, name: str, **popen) -> tuple:
    """A `cmdb import --chunked 50` of 3,000 CIs in its own process, once 500 have landed:
    (process, store, file); skips when the import ends before that (a very fast machine)."""
    src = estate(tmp_path / "in.jsonl", 3000)
    db = tmp_path / name
    run(db, "init")
    proc = subprocess.Popen(
        [*CMDB, "--db", str(db), "import", str(src), "--chunked", "50"], cwd=ROOT, **popen
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:  # wait for some batches
        with sqlite3.connect(db) as conn:
            if conn.execute("SELECT count(*) FROM ci").fetchone()[0] >= 500:
                break
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.skip("the import finished before it could be stopped")
    return proc, db, src


class TestProcesses:
    def test_chunked_import_killed_then_run_again(self, tmp_path):
        """SIGKILL between batches leaves whole batches only; running the file again completes
        it (what landed counts as unchanged) and the store is the file's."""
        proc, db, src = chunked_import_under_way(
            tmp_path, "k.db", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        items = exported(db)
        landed = len(items)
        assert 500 <= landed < 3000 + 2999
        assert landed % 50 == 0  # whole batches only, never half of one
        again = run(db, "import", str(src), "--chunked", "50").stdout
        assert f"{landed:,} unchanged" in again
        assert f"{3000 + 2999 - landed:,} created" in again
        assert {d["id"] for d in exported(db) if d["kind"] == "ci"} == {
            f"app-{i:05d}" for i in range(3000)
        }

    def test_chunked_import_interrupted_says_what_landed(self, tmp_path):
        """Ctrl-C (SIGINT): one line saying how many batches stay applied, exit 130."""
        proc, db, src = chunked_import_under_way(
            tmp_path, "i.db", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate()
        assert proc.returncode == 130
        landed = len(exported(db))
        (line,) = err.strip().splitlines()
        said = int(line.split("(")[1].split(" item")[0].replace(",", ""))
        assert said in (landed, landed - 50)  # the batch committing as the interrupt came
        assert line == (
            f"error: {src}: interrupted after {said // 50} batches ({said:,} items), which stay "
            "applied; run the same import again to complete it (what landed counts as unchanged)"
        )

    @pytest.mark.parametrize("chunked", [[], ["--chunked", "400"]])
    def test_two_imports_at_once(self, tmp_path, chunked):
        """Both create the same CIs: one wins, the other is refused in one line saying what to
        do (or, when they did not overlap, both succeed); the store is the file's either way."""
        src = estate(tmp_path / "in.jsonl", 1500)
        db = tmp_path / "c.db"
        run(db, "init")
        args = [*CMDB, "--db", str(db), "import", str(src), *chunked]
        pipe = subprocess.PIPE
        procs = [
            subprocess.Popen(args, cwd=ROOT, stdout=pipe, stderr=pipe, text=True) for _ in range(2)
        ]
        results = [(p.wait(), p.stderr.read()) for p in procs if p.stderr]  # type: ignore[union-attr]
        assert any(code == 0 for code, _ in results)
        for code, err in results:
            assert "Traceback" not in err
            if code:
                assert code == 1
                lines = err.strip().splitlines()
                assert len(lines) == 1
                assert lines[0].startswith(f"error: {src}: CI 'app-")
                assert "the store changed after this import read it" in lines[0]
                assert "import the file again" in lines[0]
        assert len(exported(db)) == 1500 + 1499
        run(db, "import", str(src), *chunked)  # the loser run again: nothing left to do

    def test_export_while_another_process_writes(self, tmp_path):
        """A write between the export's pages would put a relationship in the file without its
        CI: --output reads again, stdout ends with an error; a file written is importable."""
        db = tmp_path / "e.db"
        run(db, "import", str(estate(tmp_path / "in.jsonl", 4000)))
        writer = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(db)], cwd=ROOT, stderr=subprocess.PIPE, text=True
        )
        try:
            for i in range(4):
                out = tmp_path / f"out{i}.jsonl"
                done = run(db, "export", "-o", str(out), check=False)
                if done.returncode:
                    assert "the store changed during each of 3 tries" in done.stderr
                    assert not out.exists()
                    continue
                items = [json.loads(line) for line in out.read_text().splitlines()]
                cis = {d["id"] for d in items if d["kind"] == "ci"}
                rels = [d for d in items if d["kind"] == "relationship"]
                assert all(r["source"] in cis and r["target"] in cis for r in rels)
                piped = run(db, "export", "--format", "jsonl", check=False)
                if piped.returncode:
                    assert piped.stderr.startswith("error: the store changed while it was exported")
        finally:
            writer.kill()
            writer.wait()


_WRITER = """
import sys
from cmdb.model import CI, Batch, Relationship
from cmdb.settings import Settings
from cmdb.store import open_store

store = open_store(Settings(db=sys.argv[1]))
for i in range(100000):  # CIs whose ids sort first, each with a relationship
    ci = CI(id=f"aaa-{i:06d}", ci_class="application", name="new")
    rel = Relationship(source=ci.id, type="depends_on", target="app-00000")
    store.apply(Batch(cis=[ci], relationships=[rel]), actor="writer")
"""


class TestExportRace:
    """The same race, made certain: a write lands after the export's first page."""

    @pytest.fixture
    def writes_during(self, cmdb, tmp_path, monkeypatch):
        """``cmdb`` on a store of 3 CIs whose next ``n`` exports each see one write made after
        their first page (a CI whose id sorts first, with a relationship to a CI read)."""
        import cli.transfer
        from cmdb.model import CI, Batch, Relationship
        from cmdb.settings import Settings
        from cmdb.store import open_store

        cmdb("import", str(estate(tmp_path / "in.jsonl", 3)))
        real = cli.transfer.Export
        left = [0]

        def racing(store, **kwargs):
            export = real(store, **{**kwargs, "page_size": 1})
            parts = export._parts

            def with_write(count):
                for i, part in enumerate(parts(count)):
                    if i == 2 and left[0] > 0:  # the first CI is read
                        left[0] -= 1
                        other = open_store(Settings(db=cmdb.db))
                        ci = CI(id=f"aaa-{left[0]}", ci_class="application", name="new")
                        rel = Relationship(source=ci.id, type="depends_on", target="app-00002")
                        other.apply(Batch(cis=[ci], relationships=[rel]), actor="other")
                        other.close()
                    yield part

            export._parts = with_write  # type: ignore[method-assign]
            return export

        monkeypatch.setattr(cli.transfer, "Export", racing)

        def arm(n: int) -> Cmdb:
            left[0] = n
            return cmdb

        return arm

    def test_output_reads_again_and_writes_one_state(self, writes_during, tmp_path):
        out = tmp_path / "out.jsonl"
        result = writes_during(1)("export", "-o", str(out))
        assert "exported 7 items" in result.stderr  # read again: with the new CI and relationship
        items = [json.loads(line) for line in out.read_text().splitlines()]
        cis = {d["id"] for d in items if d["kind"] == "ci"}
        assert cis == {"aaa-0", "app-00000", "app-00001", "app-00002"}
        assert all(d["source"] in cis for d in items if d["kind"] == "relationship")

    def test_output_gives_up_after_three_tries(self, writes_during, tmp_path):
        out = tmp_path / "out.json"
        result = writes_during(3)("export", "-o", str(out), code=1)
        assert one_error_line(result) == (
            f"error: {out}: the store changed during each of 3 tries to export it (pages read "
            "apart would mix its states): export it when fewer writes run; nothing was written"
        )
        assert list(tmp_path.glob("out*")) == []

    def test_stdout_ends_with_an_error(self, writes_during):
        result = writes_during(1)("export", "--format", "jsonl", code=1)
        # the last chunk (here the only one) is held back: no mixed text goes out whole
        assert '"source":"aaa-0"' not in result.stdout
        assert one_error_line(result).startswith("error: the store changed while it was exported")


class TestGenerate:
    def test_says_what_it_made_and_what_was_new(self, cmdb):
        first = cmdb("generate", "--cis", "500", "--seed", "3").stderr.splitlines()[-1]
        assert first.startswith("generated 500 CIs and ")
        made = int(first.split(" CIs and ")[1].split(" relationships")[0].replace(",", ""))
        assert first.endswith(f"({500 + made:,} of them new)")
        again = cmdb("generate", "--cis", "500", "--seed", "3").stderr.splitlines()[-1]
        assert again.endswith("(0 of them new)")
        assert again.startswith(first.split(" (")[0])


class TestCounts:
    def test_thousands_and_one_item(self, cmdb, tmp_path):
        path = tmp_path / "one.jsonl"
        path.write_text(ci_line("a") + "\n")
        assert cmdb("import", str(path), "--chunked", "3").stdout.strip() == (
            f"imported {path} in 1 batch (1 item): 1 created, 0 updated, 0 retired, 0 unchanged"
        )
        big = estate(tmp_path / "big.jsonl", 600)
        assert "1,199 created" in cmdb("import", str(big)).stdout


class TestExportOutput:
    def test_dash_is_stdout(self, cmdb, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        cmdb("import", str(estate(tmp_path / "in.jsonl", 2)))
        out = cmdb("export", "-o", "-", "--format", "jsonl").stdout
        assert [json.loads(line)["kind"] for line in out.splitlines()] == [
            "ci",
            "ci",
            "relationship",
        ]
        assert not (tmp_path / "-").exists()

    def test_a_format_against_the_extension_is_refused(self, cmdb, tmp_path):
        out = tmp_path / "g.jsonl"
        result = cmdb("export", "-o", str(out), "--format", "csv", code=2)
        assert f"csv does not match {out}, which `cmdb import` reads as jsonl" in result.stderr
        assert not out.exists()
        cmdb("export", "-o", str(tmp_path / "g.txt"), "--format", "csv")  # no import extension


_GRAPHML = (
    '<?xml version="1.0"?><graphml xmlns="http://graphml.graphdrawing.org/xmlns">'
    '<key id="c" for="node" attr.name="class" attr.type="string"/>'
    '<key id="n" for="node" attr.name="name" attr.type="string"/>'
    '<key id="t" for="edge" attr.name="type" attr.type="string"/>'
    '<graph edgedefault="directed">{}</graph></graphml>'
)
_NODE = '<node id="{}"><data key="c">application</data><data key="n">{}</data></node>'


class TestGraphmlIds:
    @pytest.mark.parametrize(
        ("body", "message"),
        [
            (_NODE.format("a", "A") + _NODE.format("a", "B"),
             "node 'a': field 'id': a second node with this id"),
            (_NODE.format("a", "A") + '<edge source="a" target="zz"/>',
             "edge 'a' -> 'zz': field 'target': 'zz' is not a node of the file (an edge joins "
             "two of its nodes)"),
            ('<node><data key="c">application</data></node>', "a node without an id"),
        ],
    )  # fmt: skip
    def test_refused_where_networkx_would_merge_or_invent(self, cmdb, tmp_path, body, message):
        path = tmp_path / "g.graphml"
        path.write_text(_GRAPHML.format(body))
        assert one_error_line(cmdb("import", str(path), code=1)) == f"error: {path}: {message}"
        assert cmdb("export", "--format", "jsonl").stdout == ""

    def test_edges_before_their_nodes_are_fine(self, cmdb, tmp_path):
        path = tmp_path / "g.graphml"
        edge = '<edge source="a" target="b"><data key="t">depends_on</data></edge>'
        path.write_text(_GRAPHML.format(edge + _NODE.format("a", "A") + _NODE.format("b", "B")))
        assert "3 created" in cmdb("import", str(path)).stdout
