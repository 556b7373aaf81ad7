"""`cmdb generate --bulk` and `cmdb import --bulk`: the same data and the same history as
without the flag, on the embedded store (which ignores it) and on Neo4j (one summary per batch,
read back as the same entries)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cli.main import app


def _history(cmdb, ci_id: str) -> list[tuple[str, str]]:
    rows = json.loads(cmdb("history", ci_id, "-f", "json").stdout)
    return [(r["entity_id"], r["action"]) for r in rows]


def _export(cmdb) -> dict:
    doc = json.loads(cmdb("export", "--format", "json").stdout)
    for item in doc["cis"] + doc["relationships"]:
        for volatile in ("created_at", "updated_at"):
            item.pop(volatile, None)
    return doc


class TestEmbedded:
    def test_generate_bulk_is_a_normal_load(self, cmdb, tmp_path):
        cmdb("generate", "--cis", "600", "--seed", "3", "--bulk", "--batch-size", "700")
        other = type(cmdb)(tmp_path / "plain.db")
        other("generate", "--cis", "600", "--seed", "3", "--batch-size", "700")
        assert _export(cmdb) == _export(other)
        assert _history(cmdb, "sw-000000") == _history(other, "sw-000000")

    def test_import_bulk(self, cmdb, tmp_path):
        path = tmp_path / "in.json"
        path.write_text(
            json.dumps({"cis": [{"id": "a1", "class": "application", "name": "A"}]}),
            encoding="utf-8",
        )
        out = cmdb("import", str(path), "--bulk").stdout
        assert "1 created" in out
        assert _history(cmdb, "a1") == [("a1", "create")]

    def test_bulk_with_chunked_is_a_usage_error(self, cmdb, tmp_path):
        path = tmp_path / "in.json"
        path.write_text(json.dumps({"cis": []}), encoding="utf-8")
        result = cmdb("import", str(path), "--bulk", "--chunked", "5", code=2)
        assert "--bulk" in result.stderr


@pytest.mark.neo4j
class TestNeo4j:
    def test_generate_bulk_history_reads_as_a_normal_load(self, registry, monkeypatch):
        from tests.conftest import _neo4j_store
        from tests.neo4j_support import neo4j_settings_or_skip, wipe

        store = _neo4j_store(registry)  # the test server, wiped
        cfg = neo4j_settings_or_skip()
        assert cfg.store is not None and cfg.neo4j_password is not None
        monkeypatch.setenv("CMDB_NEO4J_PASSWORD", cfg.neo4j_password.get_secret_value())
        runner = CliRunner()

        def cmdb(*args: str):
            result = runner.invoke(app, ["--store", str(cfg.store), *args])
            assert result.exit_code == 0, (result.output, result.stderr)
            return result

        def summaries() -> int:
            return store._read("MATCH (h:HistoryBatch) RETURN count(h)")[0][0]

        try:
            cmdb("generate", "--cis", "600", "--seed", "3", "--bulk", "--batch-size", "900")
            bulk_history, bulk_export = _history(cmdb, "sw-000000"), _export(cmdb)
            items = len(bulk_export["cis"]) + len(bulk_export["relationships"])
            assert summaries() == -(-items // 900)  # one per batch
            wipe(store)
            cmdb("generate", "--cis", "600", "--seed", "3", "--batch-size", "900")
            assert summaries() == 0
            assert _history(cmdb, "sw-000000") == bulk_history
            assert len(bulk_history) > 3
            assert _export(cmdb) == bulk_export
        finally:
            store.close()
