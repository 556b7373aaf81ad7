"""Streamed export (page by page, the same text as the whole-document writers) and JSON Lines:
round trips on every backend, every row exactly once across pages, hostile lines, and chunked
imports that say what landed."""

from __future__ import annotations

import csv
import io
import json
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cmdb.errors import ImportFormatError, StoreError, ValidationError
from cmdb.export_stream import Export, write_export
from cmdb.filters import CIFilter, RelFilter
from cmdb.generator import generate
from cmdb.import_chunked import import_chunked
from cmdb.model import CI, Batch, Relationship
from cmdb.settings import Settings
from cmdb.store import open_store
from cmdb.transfer import export_json, import_file, read_file
from tests.cmdb.test_transfer import fresh, graph, rich_batch


def export(store, fmt, *, what="cis", include_retired=False, page_size=2000) -> str:
    out = io.StringIO()
    write_export(
        store, out, format=fmt, what=what, include_retired=include_retired, page_size=page_size
    )
    return out.getvalue()


def jsonl(path, lines: list) -> object:
    text = "".join((ln if isinstance(ln, str) else json.dumps(ln)) + "\n" for ln in lines)
    path.write_text(text, encoding="utf-8")
    return path


def app(i: int) -> dict:
    return {"kind": "ci", "id": f"app-{i:03d}", "class": "application", "name": f"App {i}"}


def dep(i: int, j: int) -> dict:
    return {
        "kind": "relationship",
        "source": f"app-{i:03d}",
        "type": "depends_on",
        "target": f"app-{j:03d}",
    }


# -- the reference: the whole-document writers this module replaced --------------------------
def whole_json(store, include_retired=False) -> str:
    return (
        json.dumps(
            export_json(store, include_retired=include_retired), indent=2, ensure_ascii=False
        )
        + "\n"
    )


def whole_graphml(store, include_retired=False) -> str:
    import networkx as nx

    from cmdb.export_graphml import _edge_data, _node_data

    graph = nx.MultiDiGraph()
    for ci in store.find_cis(CIFilter(include_retired=include_retired)):
        graph.add_node(ci.id, **_node_data(ci))
    for rel in store.find_relationships(RelFilter(include_retired=include_retired)):
        graph.add_edge(rel.source, rel.target, **_edge_data(rel))
    return "\n".join(nx.generate_graphml(graph)) + "\n"


def whole_csv(store, what, include_retired=False) -> str:
    """The table as ``csv.DictWriter`` wrote it from model rows (the writer before)."""
    from cmdb.export_stream import CI_COLUMNS, ID_LISTS, ID_SCALARS, _ci_row, _rel_row

    if what == "cis":
        rows = [_ci_row(c) for c in store.find_cis(CIFilter(include_retired=include_retired))]
        fixed = [*CI_COLUMNS, *ID_SCALARS, *ID_LISTS]
    else:
        rels = store.find_relationships(RelFilter(include_retired=include_retired))
        rows = [_rel_row(r) for r in rels]
        fixed = ["source", "type", "target", *(["status"] if include_retired else [])]
    attrs = sorted({k for row in rows for k in row if k.startswith("attr.")})
    buf = io.StringIO()
    writer = csv.DictWriter(buf, [*fixed, *attrs], lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


class TestSameTextAsBefore:
    @pytest.mark.parametrize("retired", [False, True])
    @pytest.mark.parametrize("page_size", [1, 2, 1000])
    def test_json_and_graphml(self, sqlite_store, retired, page_size):
        sqlite_store.apply(rich_batch(), actor="t")
        got = export(sqlite_store, "json", include_retired=retired, page_size=page_size)
        assert got == whole_json(sqlite_store, retired)
        got = export(sqlite_store, "graphml", include_retired=retired, page_size=page_size)
        assert got == whole_graphml(sqlite_store, retired)

    @pytest.mark.parametrize("what", ["cis", "relationships"])
    def test_csv(self, sqlite_store, what):
        sqlite_store.apply(rich_batch(), actor="t")
        assert export(sqlite_store, "csv", what=what, page_size=1) == whole_csv(sqlite_store, what)

    def test_empty_store(self, sqlite_store):
        assert export(sqlite_store, "json") == whole_json(sqlite_store)
        assert export(sqlite_store, "graphml") == whole_graphml(sqlite_store)
        assert export(sqlite_store, "jsonl") == ""

    values = st.recursive(
        st.none()
        | st.booleans()
        | st.integers(-(2**70), 2**70)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(string.printable.strip() + "éß核\u2028<>&\"'", max_size=8),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.text(string.ascii_lowercase, min_size=1, max_size=3), inner, max_size=3
            )
        ),
        max_leaves=6,
    )

    @settings(
        max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(
        attrs=st.lists(
            st.dictionaries(st.sampled_from("abcdef"), values, max_size=4), min_size=1, max_size=4
        )
    )
    def test_any_attribute_values(self, tmp_path_factory, registry, attrs):
        """The fast serialiser path and its fallback (floats with an exponent) against
        ``json.dumps``; GraphML against networkx's writer."""
        store = open_store(
            Settings(db=tmp_path_factory.mktemp("p") / "x.db"), create=True, registry=registry
        )
        try:
            cis = [
                CI(id=f"c-{i}", ci_class="application", name="N", attributes=a)
                for i, a in enumerate(attrs)
            ]
            rels = [
                Relationship(source=c.id, type="uses", target=cis[0].id, attributes=a)
                for c, a in zip(cis[1:], attrs, strict=False)
            ]
            store.apply(Batch(cis=cis, relationships=rels), actor="t")
            assert export(store, "json", page_size=2) == whole_json(store)
            assert export(store, "graphml", page_size=2) == whole_graphml(store)
            back = [json.loads(line) for line in export(store, "jsonl").split("\n")[:-1]]
            assert [d["attributes"] for d in back if d["kind"] == "ci"] == [
                c.attributes for c in store.find_cis(CIFilter())
            ]
        finally:
            store.close()


class TestPaging:
    @pytest.mark.parametrize("fmt", ["json", "jsonl", "graphml"])
    def test_more_rows_than_a_page_each_exactly_once(self, store, fmt):
        for batch in generate(500, seed=2):
            store.apply(batch, actor="t")
        cis = {c.id for c in store.find_cis(CIFilter())}
        rels = {r.key for r in store.find_relationships(RelFilter())}
        assert len(rels) > 7
        exp = Export(store, format=fmt, page_size=97)
        text = "".join(exp)
        assert exp.items == len(cis) + len(rels)
        if fmt == "jsonl":
            docs = [json.loads(line) for line in text.splitlines()]
            got_cis = [d["id"] for d in docs if d["kind"] == "ci"]
            got_rels = [
                (d["source"], d["type"], d["target"]) for d in docs if d["kind"] == "relationship"
            ]
        elif fmt == "json":
            doc = json.loads(text)
            got_cis = [c["id"] for c in doc["cis"]]
            got_rels = [(r["source"], r["type"], r["target"]) for r in doc["relationships"]]
        else:
            assert text == export(store, "graphml", page_size=10_000)
            return
        assert sorted(got_cis) == got_cis and set(got_cis) == cis and len(got_cis) == len(cis)
        assert set(got_rels) == rels and len(got_rels) == len(rels)

    def test_a_store_that_ignores_the_cursor_is_an_error_not_a_loop(self, sqlite_store):
        sqlite_store.apply(rich_batch(), actor="t")

        class Deaf:
            def __getattr__(self, name):
                return getattr(sqlite_store, name)

            def find_relationships(self, flt):
                return sqlite_store.find_relationships(flt.model_copy(update={"after": None}))

        with pytest.raises(StoreError, match="ignored the paging cursor"):
            export(Deaf(), "jsonl", page_size=2)

    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            ({"format": "xml"}, "unknown format 'xml'"),
            ({"format": "csv", "what": "records"}, "cannot export 'records' as CSV"),
            ({"page_size": 0}, "must be at least 1"),
        ],
    )
    def test_bad_arguments_fail_before_any_text(self, sqlite_store, kwargs, match):
        with pytest.raises(ValidationError, match=match):
            Export(sqlite_store, **kwargs)


class TestJsonLinesRoundTrip:
    def test_every_backend(self, store, tmp_path, registry):
        store.apply(rich_batch(), actor="t")
        path = tmp_path / "g.jsonl"
        path.write_text(export(store, "jsonl"), encoding="utf-8")
        target = fresh(tmp_path, registry)
        try:
            import_file(target, path, actor="t")
            assert graph(target) == graph(store)
            again = import_file(target, path, actor="t")
            assert again.created == again.updated == 0 and again.unchanged > 0
            # chunked, into a third store, gives the same graph
            third = fresh(tmp_path, registry, "third.db")
            done = import_chunked(third, path, chunk_size=2, actor="t")
            assert graph(third) == graph(store) and done.batches > 3
            third.close()
        finally:
            target.close()

    def test_one_object_a_line_kind_first(self, sqlite_store):
        sqlite_store.apply(rich_batch(), actor="t")
        lines = export(sqlite_store, "jsonl").splitlines()
        kinds = [json.loads(line)["kind"] for line in lines]
        assert kinds == ["ci"] * 5 + ["relationship"] * 5 + ["incident"]
        assert all(line.startswith('{"kind":') for line in lines)
        assert "核心" in lines[0]  # UTF-8, not escapes

    def test_blank_lines_and_bom_are_fine(self, tmp_path):
        path = tmp_path / "g.jsonl"
        path.write_bytes(b"\xef\xbb\xbf" + json.dumps(app(1)).encode() + b"\n\n  \r\n")
        assert [c.id for c in read_file(path).cis] == ["app-001"]


class TestHostileJsonLines:
    @pytest.mark.parametrize(
        ("line", "error", "match"),
        [
            ('{"kind": "ci", "id": ', ImportFormatError, r"g\.jsonl:3: invalid JSON"),
            ("[1, 2]", ValidationError, r"g\.jsonl:3: expected a JSON object"),
            ('{"id": "x"}', ValidationError, r"g\.jsonl:3: field 'kind': missing: use ci, rel"),
            ('{"kind": "server"}', ValidationError, r"g\.jsonl:3: field 'kind': 'server'"),
            ('{"kind": "incident", "urgency": "now"}', ValidationError, r"g\.jsonl:3: field"),
            (
                '{"kind": "ci", "id": "x", "class": "nope", "name": "X"}',
                ValidationError,
                r"g\.jsonl:3: field 'class': unknown CI class 'nope'",
            ),
            (
                '{"kind": "ci", "id": "x", "class": "database", "name": "X"}',
                ValidationError,
                r"g\.jsonl:3: field 'attributes\.engine': required",
            ),
            (
                '{"kind": "relationship", "source": "app-001", "type": "depends_on", '
                '"target": "ghost"}',
                ValidationError,
                r"g\.jsonl:3: field 'target': CI 'ghost'",
            ),
        ],
    )
    def test_bad_line_in_the_middle_names_it_and_changes_nothing(
        self, store, tmp_path, line, error, match
    ):
        path = jsonl(tmp_path / "g.jsonl", [app(1), app(2), line, app(3)])
        with pytest.raises(error, match=match):
            import_file(store, path, actor="t")
        assert store.find_cis(CIFilter()) == [] and store.find_relationships(RelFilter()) == []

    def test_not_utf8_names_the_line(self, sqlite_store, tmp_path):
        path = tmp_path / "g.jsonl"
        path.write_bytes(json.dumps(app(1)).encode() + b"\n" + b'{"kind": "\xff"}\n')
        with pytest.raises(ImportFormatError, match=r"g\.jsonl:2: not UTF-8 text"):
            import_file(sqlite_store, path, actor="t")

    def test_missing_file(self, sqlite_store, tmp_path):
        with pytest.raises(ImportFormatError, match=r"nope\.jsonl: cannot read"):
            import_file(sqlite_store, tmp_path / "nope.jsonl", actor="t")
        with pytest.raises(ImportFormatError, match=r"nope\.jsonl: cannot read"):
            import_chunked(sqlite_store, tmp_path / "nope.jsonl", chunk_size=5, actor="t")


class TestChunked:
    def test_relationships_may_come_before_their_cis(self, store, tmp_path):
        lines = [dep(1, 2), dep(2, 3), app(1), app(2), app(3)]
        done = import_chunked(store, jsonl(tmp_path / "g.jsonl", lines), chunk_size=2, actor="t")
        assert (done.batches, done.items, done.created) == (3, 5, 5)
        assert [r.key[0] for r in store.find_relationships(RelFilter())] == ["app-001", "app-002"]

    def test_bad_item_stops_after_the_batches_before_it(self, store, tmp_path):
        ghost = {**dep(1, 2), "target": "ghost"}
        lines = [app(i) for i in range(5)] + [dep(0, 1), dep(1, 2), ghost, dep(3, 4)]
        path = jsonl(tmp_path / "g.jsonl", lines)
        with pytest.raises(ValidationError) as info:
            import_chunked(store, path, chunk_size=2, actor="t")
        assert "g.jsonl:8: field 'target': CI 'ghost'" in str(info.value)
        assert "the 4 batches before it (7 items) stay applied" in str(info.value)
        assert len(store.find_cis(CIFilter())) == 5
        assert len(store.find_relationships(RelFilter())) == 2

    def test_parse_errors_and_unknown_classes_apply_nothing(self, store, tmp_path):
        for bad in ['{"kind": "ci",', {**app(9), "class": "nope"}, {**dep(1, 2), "type": "x"}]:
            path = jsonl(tmp_path / "g.jsonl", [app(1), app(2), app(3), bad])
            with pytest.raises((ImportFormatError, ValidationError), match=r"g\.jsonl:4: "):
                import_chunked(store, path, chunk_size=1, actor="t")
            assert store.find_cis(CIFilter()) == []

    def test_first_batch_failing_says_nothing_landed(self, sqlite_store, tmp_path):
        path = jsonl(tmp_path / "g.jsonl", [{**app(1), "class": "database"}])
        with pytest.raises(ValidationError, match=r"stopped here: nothing was applied\)$"):
            import_chunked(sqlite_store, path, chunk_size=10, actor="t")

    def test_json_file_errors_name_the_item_in_the_file(self, sqlite_store, tmp_path):
        cis = [{k: v for k, v in app(i).items() if k != "kind"} for i in range(5)]
        cis[3]["class"] = "database"
        path = tmp_path / "g.json"
        path.write_text(json.dumps({"cis": cis}))
        with pytest.raises(ValidationError, match=r"g\.json: cis\[3\] 'app-003': field 'attr"):
            import_chunked(sqlite_store, path, chunk_size=2, actor="t")
        assert len(sqlite_store.find_cis(CIFilter())) == 2

    def test_csv_partial_import_merges_per_batch(self, store, tmp_path):
        store.apply(rich_batch(), actor="t")
        path = tmp_path / "cis.csv"
        path.write_text("id,class,name,attr.engine\ndb-1,database,DB,postgresql\n")
        done = import_chunked(store, path, chunk_size=1, actor="t")
        assert done.updated == 1
        db = store.get_ci("db-1")
        assert db.attributes == {"engine": "postgresql", "version": "19c"}
        assert db.support_group == "dba"

    def test_chunk_size_must_be_positive(self, sqlite_store, tmp_path):
        with pytest.raises(ValidationError, match="chunk_size"):
            import_chunked(sqlite_store, tmp_path / "x.jsonl", chunk_size=0, actor="t")
