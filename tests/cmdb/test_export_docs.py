"""The export's raw path (the SQLite store's stored JSON text, re-keyed without models) against
the model path (the same export through the protocol's model reads, what Neo4j gives): the same
bytes in every format, for random stores with hostile text, unicode, odd numbers and every field
set; documents of an older shape go through the model; a broken one fails as the model fails."""

from __future__ import annotations

import io
import json
import sqlite3
import string
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError as PydanticError

from cmdb.enums import Criticality, Lifecycle
from cmdb.errors import ChangedDuringReadError, StoreError
from cmdb.export_docs import ci_doc, rel_doc, stored_ci_doc, stored_rel_doc
from cmdb.export_stream import Export, _attr_cell, write_export
from cmdb.filters import CIFilter, RelFilter
from cmdb.model import CI, Batch, Incident, Relationship
from cmdb.settings import Settings
from cmdb.store import open_store
from cmdb.values import parse_value
from tests.cmdb.test_transfer import rich_batch
from tests.cmdb.test_transfer_stream import whole_csv

FORMATS = [
    ("json", "cis"),
    ("jsonl", "cis"),
    ("csv", "cis"),
    ("csv", "relationships"),
    ("graphml", "cis"),
]


class ModelsOnly:
    """The store seen through the protocol's model reads only: its class has no
    ``find_ci_texts``, so the export takes the model path."""

    def __init__(self, store):
        self._store = store

    def __getattr__(self, name):
        return getattr(self._store, name)


def export(store, fmt, what="cis", *, include_retired=False, page_size=3) -> str:
    out = io.StringIO()
    write_export(
        store, out, format=fmt, what=what, include_retired=include_retired, page_size=page_size
    )
    return out.getvalue()


def assert_same_as_models(store, *, include_retired, page_size=3):
    for fmt, what in FORMATS:
        opts = {"include_retired": include_retired, "page_size": page_size}
        raw = export(store, fmt, what, **opts)
        assert raw == export(ModelsOnly(store), fmt, what, **opts), (fmt, what)


# -- random stores ----------------------------------------------------------------------------
HOSTILE = "\u2028\u2029\"\\/<>&'\ufeff\u00a0é核😀\u200b\u202e ,;=\t"
text = st.text(
    st.characters(blacklist_categories=("Cc", "Cs")) | st.sampled_from(HOSTILE), max_size=8
).map(lambda s: s.replace("\t", " "))
multiline = st.text(
    st.characters(
        blacklist_categories=("Cs",),
        blacklist_characters=[
            chr(c) for c in [*range(0, 9), 11, 12, *range(14, 32), *range(127, 160)]
        ],
    )
    | st.sampled_from(HOSTILE + "\n\r"),
    max_size=12,
)
name = text.filter(lambda s: s.strip() != "" and len(s) <= 300)
ident = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:@/\-]{0,10}", fullmatch=True)
values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()  # NaN and infinities are written as null
    | st.sampled_from([1e-05, 1e16, 1e300, -0.0, 0.1, 5e-324, 123456789.125])
    | text
    | st.sampled_from(["12", " x ", "", "null", "true", "[1]", '"q"', "NaN", "-", "1e5"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
attributes = st.dictionaries(text.map(lambda s: "x" + s), values, max_size=4)
times = st.dictionaries(
    text,
    st.datetimes(
        min_value=datetime(1900, 1, 1),
        max_value=datetime(2200, 1, 1),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
    ),
    max_size=2,
)
macs = st.binary(min_size=6, max_size=6).map(lambda b: "-".join(f"{x:02X}" for x in b))
identifiers = st.fixed_dictionaries(
    {},
    optional={
        "serial_number": text,
        "hostnames": st.lists(text, max_size=2),
        "fqdn": text,
        "ips": st.lists(st.ip_addresses().map(str), max_size=2),
        "macs": st.lists(macs, max_size=2),
        "cloud_ids": st.lists(text, max_size=2),
        "k8s_uids": st.lists(text, max_size=2),
        "keys": st.dictionaries(text, text, max_size=2),
    },
)


@st.composite
def cis(draw) -> list[CI]:
    ids = draw(st.lists(ident, min_size=1, max_size=7, unique_by=str.lower))
    out = []
    for i in ids:
        group = draw(st.booleans())
        out.append(
            CI(
                id=i,
                ci_class="cluster" if group else "application",
                name=draw(name),
                status=draw(st.sampled_from(list(Lifecycle))),
                criticality=draw(st.sampled_from(list(Criticality))),
                owner=draw(st.none() | text),
                support_group=draw(st.none() | text),
                description=draw(st.none() | multiline),
                identifiers=draw(identifiers),
                attributes=draw(attributes),
                min_required=draw(st.none() | st.integers(1, 5)) if group else None,
                last_seen=draw(times),
                provenance=draw(st.dictionaries(text, text, max_size=2)),
                stale_since=draw(times),
            )
        )
    return out


@st.composite
def graphs(draw) -> Batch:
    items = draw(cis())
    rels = []
    pairs = draw(st.lists(st.tuples(st.sampled_from(items), st.sampled_from(items)), max_size=8))
    for src, dst in dict.fromkeys((a.id, b.id) for a, b in pairs if a.id != b.id):
        ends = [c for c in items if c.id in (src, dst)]
        retired = any(c.status is Lifecycle.RETIRED for c in ends)
        rels.append(
            Relationship(
                source=src,
                type="depends_on",
                target=dst,
                attributes=draw(attributes),
                status="retired" if retired or draw(st.booleans()) else "active",
                last_seen=draw(times),
                stale_since=draw(times),
            )
        )
    linked = draw(st.lists(st.sampled_from([c.id for c in items]), max_size=3))
    records = [Incident(title=draw(name), ci_ids=linked)] if linked else []
    return Batch(cis=items, relationships=rels, records=records)


def new_store(tmp_path_factory, registry, name: str):
    """A new SQLite store of its own (hypothesis runs many examples in one test)."""
    path = tmp_path_factory.mktemp(name) / "x.db"
    return open_store(Settings(db=path), create=True, registry=registry)


class TestRawPathIsTheModelPath:
    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(batch=graphs(), include_retired=st.booleans(), page_size=st.integers(1, 4))
    def test_every_format_same_bytes(
        self, tmp_path_factory, registry, batch, include_retired, page_size
    ):
        store = new_store(tmp_path_factory, registry, "p")
        try:
            store.apply(batch, actor="t")
            assert_same_as_models(store, include_retired=include_retired, page_size=page_size)
            everything = CIFilter(include_retired=True)
            for text_, ci in zip(
                store.find_ci_texts(everything), store.find_cis(everything), strict=True
            ):
                assert stored_ci_doc(text_) == ci_doc(ci)
            rels = RelFilter(include_retired=True)
            for text_, rel in zip(
                store.find_relationship_texts(rels), store.find_relationships(rels), strict=True
            ):
                assert stored_rel_doc(text_) == rel_doc(rel)
        finally:
            store.close()

    def test_builds_no_model(self, sqlite_store, monkeypatch):
        """The SQLite store's export never reads through ``find_cis`` or models."""
        sqlite_store.apply(rich_batch(), actor="t")
        expected = {fmt + what: export(sqlite_store, fmt, what) for fmt, what in FORMATS}

        def boom(*args, **kwargs):
            raise AssertionError("the raw path built a model")

        monkeypatch.setattr(CI, "model_validate_json", boom)
        monkeypatch.setattr(Relationship, "model_validate_json", boom)
        for fmt, what in FORMATS:
            assert export(sqlite_store, fmt, what) == expected[fmt + what]


# -- documents the model would rewrite -----------------------------------------------------
def set_doc(store, table: str, where: str, key: str, doc: dict) -> None:
    db = sqlite3.connect(store.path)
    try:
        db.execute(f"UPDATE {table} SET doc = ? WHERE {where} = ?", (json.dumps(doc), key))
        db.commit()
    finally:
        db.close()


def stored(store, ci_id: str) -> dict:
    return json.loads(store.find_ci_texts(CIFilter(ids=(ci_id,), include_retired=True))[0])


def older(doc: dict) -> dict:
    """A document as an older store may hold it: a field missing, another moved, a time
    written with ``+00:00``."""
    doc = {k: v for k, v in doc.items() if k != "stale_since"}
    doc["identifiers"] = {k: v for k, v in doc["identifiers"].items() if k != "keys"}
    doc["name"] = doc.pop("name")
    doc["last_seen"] = {"scan": "2026-01-02T03:04:05+00:00"}
    return doc


class TestOlderDocuments:
    @pytest.mark.parametrize(
        "change",
        [
            older,
            lambda d: {**d, "last_seen": {"scan": "2026-01-02T03:04:05.5Z"}},
            lambda d: {**d, "stale_since": {"scan": "2026-01-02T03:04:05+00:00"}},
            lambda d: {**d, "last_seen": {"scan": "2026-01-02T08:34:05.000001+05:30"}},
            lambda d: {**d, "identifiers": dict(reversed(list(d["identifiers"].items())))},
            lambda d: {k: v for k, v in d.items() if k != "provenance"},
        ],
        ids=[
            "older-shape",
            "short-fraction",
            "plus-zero",
            "other-zone",
            "identifier-order",
            "missing-field",
        ],
    )
    def test_go_through_the_model(self, sqlite_store, change):
        sqlite_store.apply(rich_batch(), actor="t")
        set_doc(sqlite_store, "ci", "id", "db-1", change(stored(sqlite_store, "db-1")))
        assert_same_as_models(sqlite_store, include_retired=True)
        (text_,) = sqlite_store.find_ci_texts(CIFilter(ids=("db-1",)))
        assert stored_ci_doc(text_) == ci_doc(CI.model_validate_json(text_))

    def test_older_relationship(self, sqlite_store):
        sqlite_store.apply(rich_batch(), actor="t")
        text_ = sqlite_store.find_relationship_texts(RelFilter())[0]
        doc = json.loads(text_)
        doc = {k: v for k, v in doc.items() if k != "stale_since"}
        doc["last_seen"] = {"scan": "2026-01-02T03:04:05+00:00"}
        assert stored_rel_doc(json.dumps(doc)) == rel_doc(
            Relationship.model_validate_json(json.dumps(doc))
        )
        assert stored_rel_doc(json.dumps(doc))["stale_since"] == {}

    @pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "graphml"])
    @pytest.mark.parametrize("bad", ["{not json", '{"id": "db-1", "attributes": {}}'])
    def test_a_broken_stored_document_fails_the_export_on_both_paths(self, sqlite_store, fmt, bad):
        sqlite_store.apply(rich_batch(), actor="t")
        db = sqlite3.connect(sqlite_store.path)
        db.execute("UPDATE ci SET doc = ? WHERE id = 'db-1'", (bad,))
        db.commit()
        db.close()
        for store in (sqlite_store, ModelsOnly(sqlite_store)):  # one error, not pydantic's
            with pytest.raises(StoreError, match=r"^the store holds CI .* cannot export$"):
                export(store, fmt)

    @pytest.mark.parametrize("bad", ["{not json", '{"id": "db-1", "name": "\\ud800"}', "[1]"])
    def test_a_broken_document_fails_as_the_model_does(self, bad):
        with pytest.raises(PydanticError):
            CI.model_validate_json(bad)
        with pytest.raises(StoreError, match=r"^the store holds CI .* cannot read"):
            stored_ci_doc(bad)
        with pytest.raises(StoreError, match=r"^the store holds relationship .* cannot read"):
            stored_rel_doc(bad)


# -- CSV cells --------------------------------------------------------------------------------
def reference_cell(value) -> str:
    """The cell as the export wrote it before its shortcut for text that is not JSON."""
    if isinstance(value, str):
        plain = value == value.strip() and value and parse_value(value) == value
        return value if plain else json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False)


class TestAttrCell:
    @given(
        st.text(max_size=6)
        | st.text(string.digits + "-+.eE tfnrueals[]{}\"'NaIiy", max_size=6)
        | st.sampled_from(["true", "null", "false", "NaN", "Infinity", "-Infinity", "\ufeff1"])
    )
    def test_same_cell_as_parsing_it(self, value):
        assert _attr_cell(value) == reference_cell(value)


class TestCsvAsBefore:
    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(batch=graphs(), include_retired=st.booleans(), page_size=st.integers(1, 4))
    def test_same_text_as_dictwriter_over_models(
        self, tmp_path_factory, registry, batch, include_retired, page_size
    ):
        store = new_store(tmp_path_factory, registry, "c")
        try:
            store.apply(batch, actor="t")
            for what in ("cis", "relationships"):
                got = export(
                    store, "csv", what, include_retired=include_retired, page_size=page_size
                )
                assert got == whole_csv(store, what, include_retired), what
        finally:
            store.close()

    def test_more_rows_than_a_write(self, sqlite_store, monkeypatch):
        import cmdb.export_stream as es

        monkeypatch.setattr(es, "_ROWS", 2)
        sqlite_store.apply(rich_batch(), actor="t")
        for what in ("cis", "relationships"):
            assert export(sqlite_store, "csv", what) == whole_csv(sqlite_store, what, False)


class WritesBetweenPages(ModelsOnly):
    """The store as another writer sees it: a CI is added after the first page of CIs."""

    def __init__(self, store):
        super().__init__(store)
        self.pages = 0

    def find_cis(self, flt):
        self.pages += 1
        if self.pages == 2:
            ci = CI(id="aaa-new", ci_class="application", name="new")
            self._store.apply(Batch(cis=[ci]), actor="other")
        return self._store.find_cis(flt)


class TestWritesDuringAnExport:
    @pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "graphml"])
    def test_a_write_between_pages_ends_the_stream_in_an_error(self, sqlite_store, fmt):
        """Every consumer (the CLI's stdout, the API's streamed body) gets the error instead of
        the chunk that would close a file mixing two states of the store."""
        sqlite_store.apply(rich_batch(), actor="t")
        racing = WritesBetweenPages(sqlite_store)
        got: list[str] = []
        with pytest.raises(ChangedDuringReadError, match="changed while it was exported"):
            got.extend(Export(racing, format=fmt, page_size=1))
        assert racing.pages >= 2 and got == []  # the one chunk that would close it: never given

    def test_without_writes_the_stream_is_whole(self, sqlite_store):
        sqlite_store.apply(rich_batch(), actor="t")
        text = "".join(Export(ModelsOnly(sqlite_store), format="json", page_size=1))
        assert json.loads(text)["cis"]
