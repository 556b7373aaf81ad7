"""`cmdb export` streamed (stdout and --output, JSON Lines) and `cmdb import --chunked`."""

from __future__ import annotations

import json
import os

from tests.cli.conftest import Cmdb
from tests.cli.test_transfer_cli import files, one_error_line  # noqa: F401 (fixture)


def loaded(cmdb, files):  # noqa: F811
    cmdb("import", str(files / "cis.csv"))
    cmdb("import", str(files / "rels.csv"))


class TestExport:
    def test_jsonl_to_stdout_and_to_a_file_alike(self, cmdb, files, tmp_path):  # noqa: F811
        loaded(cmdb, files)
        out = cmdb("export", "--format", "jsonl").stdout
        assert [json.loads(line)["kind"] for line in out.splitlines()] == [
            "ci",
            "ci",
            "relationship",
        ]
        path = tmp_path / "g.jsonl"
        result = cmdb("export", "-o", str(path))  # the format from the extension
        assert "exported 3 items to" in result.stderr
        assert path.read_text(encoding="utf-8") == out
        umask = os.umask(0)
        os.umask(umask)
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not the temporary file's 0600

    def test_json_to_a_file_is_the_stdout_text(self, cmdb, files, tmp_path):  # noqa: F811
        loaded(cmdb, files)
        path = tmp_path / "g.json"
        cmdb("export", "--output", str(path))
        assert path.read_text(encoding="utf-8") == cmdb("export").stdout
        assert json.loads(path.read_text())["relationships"][0]["source"] == "db-1"

    def test_unwritable_output_is_one_line_and_leaves_no_file(self, cmdb, tmp_path):
        path = tmp_path / "missing-dir" / "g.json"
        result = cmdb("export", "-o", str(path), code=1)
        assert "g.json: cannot write" in one_error_line(result)
        assert not path.parent.exists()

    def test_failed_export_keeps_the_old_file(self, cmdb, tmp_path):
        path = tmp_path / "g.csv"
        path.write_text("old")
        cmdb("export", "-o", str(path), "--what", "everything", code=2)
        assert path.read_text() == "old"
        assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


class TestImport:
    def test_jsonl_import_by_extension(self, cmdb, files, tmp_path):  # noqa: F811
        loaded(cmdb, files)
        path = tmp_path / "g.jsonl"
        cmdb("export", "-o", str(path))
        other = Cmdb(tmp_path / "other.db")
        other("init")
        planned = other("import", str(path), "--dry-run").stdout
        assert "would import" in planned and "3 created" in planned
        assert "3 created, 0 updated" in other("import", str(path)).stdout

    def test_chunked_reports_batches(self, cmdb, tmp_path):
        path = tmp_path / "g.jsonl"
        lines = [
            {"kind": "relationship", "source": "a-1", "type": "depends_on", "target": "a-2"},
            {"kind": "ci", "id": "a-1", "class": "application", "name": "A1"},
            {"kind": "ci", "id": "a-2", "class": "application", "name": "A2"},
        ]
        path.write_text("".join(json.dumps(x) + "\n" for x in lines))
        out = cmdb("import", str(path), "--chunked", "1").stdout
        assert "in 3 batches (3 items): 3 created, 0 updated" in out

    def test_chunked_bad_line_says_what_landed(self, cmdb, tmp_path):
        path = tmp_path / "g.jsonl"
        good = [
            {"kind": "ci", "id": f"a-{i}", "class": "application", "name": "A"} for i in range(4)
        ]
        bad = {"kind": "relationship", "source": "a-1", "type": "depends_on", "target": "ghost"}
        path.write_text("".join(json.dumps(x) + "\n" for x in [*good, bad]))
        result = cmdb("import", str(path), "--chunked", "2", code=1)
        line = one_error_line(result)
        assert "g.jsonl:5: field 'target': CI 'ghost' does not exist" in line
        assert "the 2 batches before it (4 items) stay applied" in line
        assert len(json.loads(cmdb("ci", "list", "-f", "json").stdout)) == 4

    def test_bad_jsonl_line_atomic_by_default(self, cmdb, tmp_path):
        path = tmp_path / "g.jsonl"
        path.write_text('{"kind": "ci", "id": "a", "class": "application", "name": "A"}\n{oops\n')
        result = cmdb("import", str(path), code=1)
        assert "g.jsonl:2: invalid JSON" in one_error_line(result)
        assert json.loads(cmdb("ci", "list", "-f", "json").stdout) == []

    def test_chunked_usage_errors_exit_2(self, cmdb, files):  # noqa: F811
        cmdb("import", str(files / "cis.csv"), "--chunked", "0", code=2)
        cmdb("import", str(files / "cis.csv"), "--chunked", "5", "--dry-run", code=2)
