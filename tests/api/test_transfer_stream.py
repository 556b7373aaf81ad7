"""The export route streams (JSON Lines too) the same text as the CLI, and the import route
takes JSON Lines bodies, errors naming the line."""

from __future__ import annotations

import json

from cmdb.enums import Role
from cmdb.exchange import export_document
from cmdb.settings import Settings
from cmdb.store import open_store
from tests.api.test_transfer import EXPORT, _counts, _post


def _store_text(settings: Settings, **kwargs) -> str:
    store = open_store(settings)
    try:
        return export_document(store, **kwargs)
    finally:
        store.close()


class TestStreamedExport:
    def test_jsonl_one_object_a_line(self, client, api_env):
        r = client.get(EXPORT, params={"format": "jsonl"}, headers=api_env.headers(Role.READER))
        assert r.status_code == 200 and r.headers["content-type"] == "application/jsonl"
        assert 'filename="cmdb-export.jsonl"' in r.headers["content-disposition"]
        docs = [json.loads(line) for line in r.text.split("\n")[:-1]]
        kinds = [d["kind"] for d in docs]
        cis, rels, _ = _counts(api_env.settings)
        assert (kinds.count("ci"), kinds.count("relationship")) >= (cis, rels)
        assert "api_key" not in kinds and "incident" in kinds

    def test_each_format_is_the_core_text(self, client, api_env):
        reader = api_env.headers(Role.READER)
        for fmt in ("json", "jsonl", "graphml"):
            r = client.get(EXPORT, params={"format": fmt}, headers=reader)
            assert r.text == _store_text(api_env.settings, format=fmt)


class TestJsonLinesImport:
    def test_body_by_content_type(self, client, api_env):
        body = "".join(
            json.dumps({"kind": "ci", "id": f"jl-{i}", "class": "application", "name": "J"}) + "\n"
            for i in range(3)
        )
        for media in ("application/jsonl", "application/x-ndjson"):
            r = _post(client, api_env, body, media=media)
            assert r.status_code == 200, r.text
        assert r.json()["unchanged"] == 3

    def test_bad_line_is_a_422_naming_it_and_writes_nothing(self, client, api_env):
        before = _counts(api_env.settings)
        good = json.dumps({"kind": "ci", "id": "jl-1", "class": "application", "name": "J"})
        r = _post(client, api_env, f"{good}\n{{nope\n", media="application/jsonl")
        assert r.status_code == 422 and "body:2: invalid JSON" in r.json()["detail"]
        rack = f'{good}\n{{"kind": "rack"}}\n'
        r = _post(client, api_env, rack, media="text/plain", format="jsonl")
        assert r.status_code == 422 and "body:2" in r.json()["detail"]
        assert _counts(api_env.settings) == before
