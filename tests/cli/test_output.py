"""Hostile text: every user-supplied string is printed as plain text (cli/output.py).

Rich markup is shown as typed (``[/x]`` must not crash, ``[red]`` must not hide text) and control
characters are shown as escapes (an ESC never reaches the terminal), in tables, key/value views,
titles, captions and error lines.
"""

from __future__ import annotations

import json
import sqlite3
import sys

import pytest

from cli import output

ESC = "\x1b"
HOSTILE = ["[/x]", "[red]x[/red]", "a [bold]b[/bold] :smile:", "x\\[y]"]


@pytest.fixture(autouse=True)
def wide(monkeypatch):
    """Tables wide enough that no cell is cut short."""
    monkeypatch.setenv("COLUMNS", "250")


def sneak_in(db, ci_id, **fields):
    """Write text straight into the SQLite file, as a store from before names were checked
    might hold it (validation now refuses control characters)."""
    con = sqlite3.connect(db)
    for name, value in fields.items():
        path = f"$.attributes.{name[5:]}" if name.startswith("attr_") else f"$.{name}"
        con.execute(f"UPDATE ci SET doc = json_set(doc, '{path}', ?) WHERE id = ?", (value, ci_id))
        if name in ("name", "owner"):
            con.execute(f"UPDATE ci SET {name} = ? WHERE id = ?", (value, ci_id))
    con.commit()
    con.close()


class TestMarkupIsText:
    @pytest.mark.parametrize("text", HOSTILE)
    def test_names_and_attributes(self, cmdb, text):
        cmdb(
            "ci",
            "add",
            "h-1",
            "--class",
            "application",
            "--name",
            text,
            "--set",
            f"note={text}",
            "--owner",
            text,
        )
        for args in (["ci", "show", "h-1"], ["ci", "list"]):
            out = cmdb(*args).stdout
            assert text in out, out

    @pytest.mark.parametrize("text", HOSTILE)
    def test_error_lines(self, cmdb, text):
        result = cmdb("ci", "show", text, code=1)
        assert result.stderr.strip() == f"error: CI '{text}' not found"

    def test_relationship_attributes(self, cmdb):
        cmdb("ci", "add", "a-1", "--class", "application", "--name", "A")
        cmdb("ci", "add", "a-2", "--class", "application", "--name", "B")
        cmdb("rel", "add", "a-1", "depends_on", "a-2", "--set", "note=[/x]")
        assert "note=[/x]" in cmdb("ci", "show", "a-1").stdout
        assert "note=[/x]" in cmdb("rel", "list").stdout


class TestControlCharactersAreVisible:
    @pytest.fixture
    def evil(self, cmdb):
        cmdb("ci", "add", "evil-1", "--class", "application", "--name", "placeholder")
        sneak_in(
            cmdb.db,
            "evil-1",
            name="evil\x1b[2J",
            owner="o\x1b]0;pwned\x07",
            attr_note="n\x1b[31mred\u202egnp.exe",
        )
        return cmdb

    @pytest.mark.parametrize(
        "args", [["ci", "show", "evil-1"], ["ci", "list"], ["ci", "list", "--search", "evil"]]
    )
    def test_tables_and_views(self, evil, args):
        out = evil(*args).stdout
        assert ESC not in out and "\x07" not in out and "\u202e" not in out
        assert "evil\\x1b[2J" in out

    def test_show_escapes_attributes(self, evil):
        out = evil("ci", "show", "evil-1").stdout
        assert "o\\x1b]0;pwned\\x07" in out and "n\\x1b[31mred\\u202egnp.exe" in out

    def test_json_output_is_escaped_json(self, evil):
        out = evil("ci", "show", "evil-1", "-f", "json").stdout
        assert ESC not in out and json.loads(out)["name"] == "evil\x1b[2J"

    @pytest.mark.parametrize(
        "args",
        [
            ["ci", "show", "evil\x1b[2J"],
            ["import", "evil\x1b[2J.csv"],
            ["ci", "add", "x", "--class", "application", "--name", "n\x1b[2J"],
        ],
    )
    def test_error_lines(self, cmdb, args):
        result = cmdb(*args, code=1)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ")
        assert ESC not in result.stderr


class TestOutputFunctions:
    def test_titles_captions_and_cells(self, capsys):
        output.emit_table(
            [{"a": "[/x]\x1b[2J", "b": ["[red]", "\x1b"]}],
            ["a", "b"],
            title="t[/x]\x1b",
            caption="c[red]\nsecond",
        )
        output.emit_kv({"k[/x]": "v\x1b[2J", "multi": "line 1\nline 2"}, title="[/y]")
        out = capsys.readouterr().out
        assert ESC not in out
        for text in (
            "[/x]\\x1b[2J",
            "[red], \\x1b",
            "t[/x]\\x1b",
            "c[red]\\nsecond",
            "k[/x]",
            "v\\x1b[2J",
            "[/y]",
            "line 1",
            "line 2",
        ):
            assert text in out, text

    def test_lines(self, capsys):
        output.error("bad [/x] \x1b[2J\nnext")
        output.warn("[red]w")
        output.info("i [/x]\x1b")
        output.emit_line("l [/x]\x1b")
        captured = capsys.readouterr()
        assert captured.err.splitlines() == [
            "error: bad [/x] \\x1b[2J\\nnext",
            "warning: [red]w",
            "i [/x]\\x1b",
        ]
        assert captured.out == "l [/x]\\x1b\n"

    def test_emit_text_is_unchanged_into_a_pipe(self, capsys):
        output.emit_text("a\x1b[2J\tb\n")
        assert capsys.readouterr().out == "a\x1b[2J\tb\n"

    def test_emit_text_escapes_on_a_terminal(self, capsys, monkeypatch):
        monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
        output.emit_text("a\x1b[2J\tb\nc")
        assert capsys.readouterr().out == "a\\x1b[2J\tb\nc\n"

    @pytest.mark.parametrize(
        ("text", "shown"),
        [
            ("plain", "plain"),
            ("tab\there", "tab\\there"),
            ("nul\x00", "nul\\x00"),
            ("del\x7f", "del\\x7f"),
            ("csi\x9b", "csi\\x9b"),
            ("ls\u2028", "ls\\u2028"),
            ("rlo\u202e", "rlo\\u202e"),
            ("ünï [ok]", "ünï [ok]"),
            ("cr\r", "cr\\r"),
        ],
    )
    def test_plain(self, text, shown):
        assert output.plain(text) == shown


class TestNarrowTables:
    LONG = "compose:example-voting-app/result"

    def rows(self):
        return [
            {
                "id": self.LONG,
                "class": "application_instance",
                "state": "down",
                "via": "compose:example-voting-app/db",
                "hops": 1,
                "stale": "",
            }
        ]

    def test_ids_are_never_cut_and_dropped_columns_are_named(self, monkeypatch, capsys):
        monkeypatch.setenv("COLUMNS", "80")
        output.emit_table(self.rows(), ["id", "class", "state", "via", "hops", "stale"])
        out = capsys.readouterr().out
        assert self.LONG in out and "…" not in out
        assert "down" in out
        assert "not shown at this width: via, hops, stale" in out
        assert max(len(line) for line in out.splitlines()) <= 80

    def test_other_columns_fold_instead_of_an_ellipsis(self, monkeypatch, capsys):
        monkeypatch.setenv("COLUMNS", "50")
        output.emit_table(self.rows(), ["id", "class"])
        out = capsys.readouterr().out
        assert self.LONG in out and "…" not in out
        assert "applica" in out

    def test_wide_terminals_show_everything(self, capsys):
        output.emit_table(self.rows(), ["id", "class", "state", "via", "hops", "stale"])
        out = capsys.readouterr().out
        assert "not shown" not in out and "compose:example-voting-app/db" in out

    def test_dates_are_never_cut(self, monkeypatch, capsys):
        monkeypatch.setenv("COLUMNS", "80")
        rows = [
            {
                "id": "INC-000001",
                "title": "RAC node 2 down " * 3,
                "opened_at": "2026-11-30T02:13:00.123456Z",
                "window_end": "2026-11-30T06:13Z",
            }
        ]
        output.emit_table(rows, ["id", "title", "opened_at", "window_end"])
        out = capsys.readouterr().out
        assert "2026-11-30T02:13:00.123456Z" in out and "2026-11-30T06:13Z" in out
