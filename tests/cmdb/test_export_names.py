"""The CSV header's attribute names, asked of the SQLite store (``json_each`` over its stored
JSON) instead of parsed from every document: the same names as parsing them, the export the
same bytes as the model path's, no header pass over the documents, and the documents SQLite
cannot read as the model's (``NaN``, attributes that are not an object) left to the Python
pass."""

from __future__ import annotations

import io
import json
import sqlite3

import pytest

import cmdb.export_docs
from cmdb.export_docs import attribute_names, iter_ci_docs, iter_relationship_docs
from cmdb.export_stream import write_export
from cmdb.filters import CIFilter
from cmdb.model import CI, Batch, Relationship
from tests.cmdb.test_export_docs import ModelsOnly
from tests.cmdb.test_transfer import rich_batch


def _csv(store, what: str = "cis", include_retired: bool = False) -> str:
    out = io.StringIO()
    write_export(store, out, format="csv", what=what, include_retired=include_retired)
    return out.getvalue()


def _parsed_names(store, what: str, include_retired: bool) -> list[str]:
    docs = iter_ci_docs if what == "cis" else iter_relationship_docs
    pages = docs(store, include_retired=include_retired, page_size=2)
    return sorted({k for doc in pages for k in doc["attributes"]})


def _set_doc(store, ci_id: str, text: str) -> None:
    db = sqlite3.connect(store.path)
    try:
        db.execute("UPDATE ci SET doc = ? WHERE id = ?", (text, ci_id))
        db.commit()
    finally:
        db.close()


def _stored(store, ci_id: str) -> dict:
    return json.loads(store.find_ci_texts(CIFilter(ids=(ci_id,), include_retired=True))[0])


class TestFromTheStore:
    @pytest.mark.parametrize("what", ["cis", "relationships"])
    @pytest.mark.parametrize("include_retired", [False, True])
    def test_the_names_parsing_every_document_gives(self, sqlite_store, what, include_retired):
        sqlite_store.apply(rich_batch(), actor="t")
        extra = [
            CI(id="z-1", ci_class="application", name="Z", attributes={"café": 1, "a b": "x"}),
            CI(id="z-2", ci_class="application", name="Z", attributes={"\"q'": None}),
        ]
        links = [Relationship(source="z-1", type="depends_on", target="z-2", attributes={"w": 2})]
        sqlite_store.apply(Batch(cis=extra, relationships=links), actor="t")
        sqlite_store.apply(Batch(retire_cis=["z-2"]), actor="t")
        got = sqlite_store.attribute_names(what, include_retired=include_retired)
        assert got is not None
        assert sorted(got) == _parsed_names(sqlite_store, what, include_retired)
        opts = {"include_retired": include_retired, "page_size": 2}
        assert attribute_names(sqlite_store, what, **opts) == sorted(got)
        assert attribute_names(ModelsOnly(sqlite_store), what, **opts) == sorted(got)
        if what == "cis":  # the retired CI's attribute shows only with retired CIs
            assert ("\"q'" in got) is include_retired

    def test_no_header_pass_over_the_documents(self, sqlite_store, monkeypatch):
        sqlite_store.apply(rich_batch(), actor="t")
        expected = _csv(sqlite_store)

        def boom(*args, **kwargs):
            raise AssertionError("a header pass parsed the documents")

        monkeypatch.setattr(cmdb.export_docs, "_light", boom)
        assert _csv(sqlite_store) == expected
        assert _csv(ModelsOnly(sqlite_store)) == expected


class TestLeftToThePythonPass:
    @pytest.mark.parametrize(
        "attributes",
        ['{"x": NaN, "y": 1}', '{"x": Infinity}', "[1, 2]", '"text"', "5"],
        ids=["nan", "infinity", "array", "string", "number"],
    )
    def test_documents_sqlite_cannot_name(self, sqlite_store, attributes):
        sqlite_store.apply(rich_batch(), actor="t")
        doc = _stored(sqlite_store, "db-1")
        text = json.dumps(doc).replace(json.dumps(doc["attributes"]), attributes)
        assert text != json.dumps(doc)
        _set_doc(sqlite_store, "db-1", text)
        assert sqlite_store.attribute_names("cis", include_retired=True) is None

    def test_a_nan_attribute_is_named_by_the_python_pass(self, sqlite_store):
        sqlite_store.apply(rich_batch(), actor="t")
        doc = _stored(sqlite_store, "db-1")
        doc["attributes"] = {**doc["attributes"], "ratio": float("nan"), "only_here": 1}
        _set_doc(sqlite_store, "db-1", json.dumps(doc))  # NaN: JSON to pydantic, not SQLite
        assert sqlite_store.attribute_names("cis", include_retired=False) is None
        header = _csv(sqlite_store).splitlines()[0].split(",")
        names = _parsed_names(sqlite_store, "cis", False)
        assert "only_here" in names and header[-len(names) :] == [f"attr.{n}" for n in names]
