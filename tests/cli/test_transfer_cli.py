"""End-to-end CLI tests for `cmdb import` and `cmdb export`: summaries, files, exit codes."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cli.main import app

CIS = "id,class,name,attr.engine\ndb-1,database,DB one,oracle\ndb-2,database,DB two,mysql\n"
RELS = "source,type,target\ndb-1,depends_on,db-2\n"


@pytest.fixture
def files(tmp_path):
    (tmp_path / "cis.csv").write_text(CIS)
    (tmp_path / "rels.csv").write_text(RELS)
    return tmp_path


def one_error_line(result) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


class TestImport:
    def test_import_prints_counts(self, cmdb, files):
        out = cmdb("import", str(files / "cis.csv"), "--change", "CHG-1").stdout
        assert "2 created, 0 updated, 0 retired, 0 unchanged" in out
        cmdb("import", str(files / "rels.csv"))
        again = cmdb("import", str(files / "cis.csv")).stdout
        assert "0 created, 0 updated, 0 retired, 2 unchanged" in again
        listed = json.loads(cmdb("rel", "list", "-f", "json").stdout)
        assert [(r["source"], r["target"]) for r in listed] == [("db-1", "db-2")]

    def test_dry_run_writes_nothing(self, cmdb, files):
        out = cmdb("import", str(files / "cis.csv"), "--dry-run").stdout
        assert "would import" in out and "2 created" in out
        assert json.loads(cmdb("ci", "list", "-f", "json").stdout) == []

    def test_explicit_format(self, cmdb, files):
        path = files / "cis.txt"
        path.write_text(CIS)
        assert "2 created" in cmdb("import", str(path), "--format", "csv").stdout

    @pytest.mark.parametrize(
        ("name", "text", "expected"),
        [
            ("bad.csv", CIS.replace("mysql", "sybase"), "bad.csv:3: field 'attributes.engine'"),
            ("bad.json", '{"cis": [\n  {"id": 1,}\n]}', "bad.json:2: invalid JSON"),
            ("bad.xlsx", "x", "unknown extension '.xlsx'"),
        ],
    )
    def test_bad_input_is_one_line_and_exit_1(self, cmdb, tmp_path, name, text, expected):
        path = tmp_path / name
        path.write_text(text)
        result = cmdb("import", str(path), code=1)
        assert expected in one_error_line(result)
        assert json.loads(cmdb("ci", "list", "-f", "json").stdout) == []

    def test_missing_file(self, cmdb, tmp_path):
        result = cmdb("import", str(tmp_path / "nope.json"), code=1)
        assert "nope.json: cannot read (No such file or directory)" in one_error_line(result)

    def test_bad_dry_run_exits_1(self, cmdb, tmp_path):
        path = tmp_path / "rels.csv"
        path.write_text("source,type,target\na,depends_on,b\n")
        result = cmdb("import", str(path), "--dry-run", code=1)
        assert "rels.csv:2: field 'source': CI 'a' does not exist" in one_error_line(result)

    def test_usage_errors_exit_2(self, cmdb, files):
        cmdb("import", code=2)
        cmdb("import", str(files / "cis.csv"), "--format", "xml", code=2)


class TestPartialImport:
    """Importing a subset of columns updates those columns only; --replace replaces whole CIs."""

    @pytest.fixture
    def stored(self, cmdb, tmp_path):
        cmdb(
            "ci",
            "add",
            "srv-01",
            "--class",
            "database",
            "--name",
            "DB",
            "--owner",
            "x",
            "--support-group",
            "dba",
            "--criticality",
            "critical",
            "--set",
            "engine=oracle",
            "--set",
            "version=12.2",
            "--ip",
            "10.0.0.5",
        )
        path = tmp_path / "part.csv"
        path.write_text("id,class,name,attr.engine\nsrv-01,database,DB,db2\n")
        return path

    def show(self, cmdb):
        return json.loads(cmdb("ci", "show", "srv-01", "-f", "json").stdout)

    def test_subset_of_columns(self, cmdb, stored):
        assert "0 created, 1 updated" in cmdb("import", str(stored)).stdout
        ci = self.show(cmdb)
        assert (ci["owner"], ci["support_group"], ci["criticality"]) == ("x", "dba", "critical")
        assert ci["attributes"] == {"engine": "db2", "version": "12.2"}
        assert ci["identifiers"]["ips"] == ["10.0.0.5"]

    def test_replace(self, cmdb, stored):
        cmdb("import", str(stored), "--replace")
        ci = self.show(cmdb)
        assert (ci["owner"], ci["support_group"], ci["criticality"]) == (None, None, "medium")
        assert ci["attributes"] == {"engine": "db2"}

    def test_dry_run_shows_field_changes(self, cmdb, stored):
        out = cmdb("import", str(stored), "--dry-run").stdout
        assert "1 updated" in out and "nothing written" in out
        assert "  srv-01: attributes.engine: 'oracle' -> 'db2'" in out.splitlines()
        out = cmdb("import", str(stored), "--dry-run", "--replace").stdout
        assert "srv-01: owner: 'x' -> None" in out
        assert "srv-01: attributes.version: '12.2' -> None" in out
        assert self.show(cmdb)["attributes"]["engine"] == "oracle"

    def test_dry_run_lists_the_first_changes(self, cmdb, tmp_path):
        path = tmp_path / "many.csv"
        path.write_text(
            "id,class,name\n" + "".join(f"a-{i:02},application,A{i}\n" for i in range(30))
        )
        lines = cmdb("import", str(path), "--dry-run").stdout.splitlines()
        assert lines[1:3] == ["  a-00: created", "  a-01: created"]
        assert len(lines) == 22 and lines[-1] == "  ... and 10 more"
        lines = cmdb("import", str(path), "--dry-run", "--show", "2").stdout.splitlines()
        assert lines[-1] == "  ... and 28 more"


class TestExport:
    def test_stdout_json_round_trip(self, cmdb, files, tmp_path):
        cmdb("import", str(files / "cis.csv"))
        cmdb("import", str(files / "rels.csv"))
        data = json.loads(cmdb("export").stdout)
        assert [c["id"] for c in data["cis"]] == ["db-1", "db-2"]
        assert len(data["relationships"]) == 1 and data["records"] == []
        out = tmp_path / "g.json"
        out.write_text(json.dumps(data))
        result = CliRunner().invoke(app, ["--db", str(tmp_path / "other.db"), "import", str(out)])
        assert result.exit_code == 0 and "3 created" in result.stdout

    @pytest.mark.parametrize(
        ("args", "first"),
        [
            (["--format", "csv"], "id,class,name,"),
            (["--format", "csv", "--what", "relationships"], "source,type,target"),
            (["--format", "graphml"], "<graphml"),
        ],
    )
    def test_formats(self, cmdb, files, args, first):
        cmdb("import", str(files / "cis.csv"))
        assert cmdb("export", *args).stdout.startswith(first)

    def test_output_file_and_format_from_extension(self, cmdb, files, tmp_path):
        cmdb("import", str(files / "cis.csv"))
        out = tmp_path / "out.graphml"
        result = cmdb("export", "--output", str(out))
        assert result.stdout == "" and out.read_text().startswith("<graphml")

    def test_unwritable_output_exits_1(self, cmdb, tmp_path):
        result = cmdb("export", "--output", str(tmp_path / "no" / "dir.json"), code=1)
        assert "cannot write" in one_error_line(result)

    def test_what_needs_csv(self, cmdb):
        cmdb("export", "--what", "relationships", code=2)
        cmdb("export", "--format", "csv", "--what", "records", code=2)
