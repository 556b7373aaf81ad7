"""The CSV stage in several processes (``write_csv(..., workers=N)``,
cmdb.store.neo4j_import_workers): the same rows, the same history and the same first error as
one process, whatever the input and however it is cut into slices."""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cmdb.errors import StoreError, ValidationError
from cmdb.generator import generate
from cmdb.model import CI, Batch, Incident, Relationship
from cmdb.store import neo4j_bulk, neo4j_import
from cmdb.store.neo4j_import import HEADERS, CsvFiles, import_args, write_csv

_T0 = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen_clock(monkeypatch):
    monkeypatch.setattr(neo4j_import, "utcnow", lambda: _T0)


def _rows(files: CsvFiles, name: str) -> list[dict[str, str]]:
    header = files.path(name, header=True).read_text().strip().split(",")
    out = []
    for path in files.data(name):
        with path.open(newline="", encoding="utf-8") as f:
            out += [dict(zip(header, row, strict=True)) for row in csv.reader(f)]
    return out


def _history(files: CsvFiles) -> list[tuple]:
    """Every history entry, chunked or not, as (seq, entity, id, after)."""
    out = [
        (int(h["seq:long"]), h["entity"], h["entity_id"], json.loads(h["after"]))
        for h in _rows(files, "history")
    ]
    for c in _rows(files, "history_chunk"):
        chunk = {"seqs": [int(x) for x in c["seqs:long[]"].split(";")], "ids": c["ids"],
                 "payload": c["payload"]}  # fmt: skip
        out += [(s, c["entity"], i, json.loads(d)) for s, i, d in neo4j_bulk._items(chunk)]
    return sorted(out, key=lambda h: h[0])


def _written(files: CsvFiles) -> dict[str, object]:
    """What a run wrote, regardless of how rows are spread over part files and chunks."""
    out: dict[str, object] = {"history": _history(files)}
    for name in HEADERS:
        if name in ("history", "history_chunk"):
            continue
        rows = _rows(files, name)
        for row in rows:
            row.pop("store_id", None)
            row.pop("chunks:long", None)
        out[name] = Counter(json.dumps(r, sort_keys=True) for r in rows)
    counts = ("cis", "relationships", "records", "identifiers", "history")
    out["counts"] = [getattr(files, k) for k in counts]
    return out


def _input() -> list[Batch]:
    extra = Batch(
        cis=[
            CI(id="srv-x1", ci_class="physical_server", name="S",
               identifiers={"serial_number": "SN-1", "ips": ["10.0.0.1"]}),
            CI(id="app-x1", ci_class="application", name="A"),
        ],
        relationships=[Relationship(source="app-x1", type="runs_on", target="srv-x1")],
        records=[Incident(title="one", ci_ids=["srv-x1"], opened_at=_T0),
                 Incident(title="two", ci_ids=[], opened_at=_T0)],
    )  # fmt: skip
    return [*generate(1_500, seed=3, batch_size=1_700), extra]


class TestSameFiles:
    @pytest.mark.parametrize("chunked", [True, False])
    @pytest.mark.parametrize("workers", [2, 3])
    def test_as_one_process_writes_them(self, tmp_path, registry, workers, chunked):
        (tmp_path / "one").mkdir(), (tmp_path / "many").mkdir()
        one = write_csv(_input(), tmp_path / "one", registry=registry, actor="t", chunked=chunked)
        many = write_csv(
            _input(),
            tmp_path / "many",
            registry=registry,
            actor="t",
            chunked=chunked,
            workers=workers,
        )
        assert _written(many) == _written(one)
        assert [h[0] for h in _history(many)] == list(range(1, many.history + 1))
        parts = sorted(p.name for p in (tmp_path / "many").glob("ci-part-*.csv"))
        assert parts == [f"ci-part-{i:02d}.csv" for i in range(workers)]

    def test_chunks_hold_consecutive_seqs_of_one_slice(self, tmp_path, registry):
        files = write_csv(_input(), tmp_path, registry=registry, actor="t", workers=2)
        for c in _rows(files, "history_chunk"):
            seqs = [int(x) for x in c["seqs:long[]"].split(";")]
            assert seqs == list(range(int(c["first_seq:long"]), int(c["last_seq:long"]) + 1))
        (summary,) = _rows(files, "history_batch")
        assert int(summary["chunks:long"]) == files.chunks == len(_rows(files, "history_chunk"))

    def test_neo4j_admin_reads_every_part(self, tmp_path, registry):
        files = write_csv(_input(), tmp_path, registry=registry, actor="t", workers=2)
        (nodes,) = [a for a in import_args(files) if a.startswith("--nodes=CI=")]
        assert nodes.split(",")[1:] == [
            str(tmp_path / n) for n in ("ci.csv", "ci-part-00.csv", "ci-part-01.csv")
        ]


# -- the first error is the one a single process raises ---------------------------------------
_KINDS = ("class", "text", "dup_ci", "missing_end", "dup_rel", "pair", "record", "input_dup")


def _db(i: int) -> CI:
    return CI(id=f"db-{i}", ci_class="database", name=f"D{i}", attributes={"engine": "postgresql"})


def _broken(*faults: tuple[str, int]) -> list[Batch]:
    """Two batches of apps, databases and `uses` relationships; each fault ``(kind, at)``
    breaks an item of the second batch at position ``at`` (mod 9)."""
    first = Batch(cis=[_db(i) for i in range(4)])
    cis = [CI(id=f"app-{i}", ci_class="application", name=f"A{i}") for i in range(9)]
    rels = [Relationship(source=f"app-{i}", type="uses", target=f"db-{i % 4}") for i in range(9)]
    records: list[Incident] = []
    for kind, at in faults:
        i, j = at % 9, max(at % 9 - 1 - at % 3, 0)
        if kind == "class":
            cis[i] = CI(id=f"app-{i}", ci_class="teapot", name="T")
        elif kind == "text":
            cis[i] = CI(id=f"app-{i}", ci_class="application", name="bad\x1bname")
        elif kind == "dup_ci":
            cis[i] = CI(id=f"app-{j}", ci_class="application", name="again")
        elif kind == "input_dup":
            cis[i] = _db(at % 4)
        elif kind == "missing_end":
            rels[i] = Relationship(source=f"app-{i}", type="uses", target="db-none")
        elif kind == "dup_rel":
            rels[i] = Relationship(source=f"app-{j}", type="uses", target=f"db-{j % 4}")
        elif kind == "pair":
            rels[i] = Relationship(source=f"db-{i % 4}", type="located_in", target=f"app-{i}")
        else:
            records = [Incident(title="r", ci_ids=["app-0", "nope-1"])]
    return [first, Batch(cis=cis, relationships=rels, records=records)]


def _error(batches: list[Batch], tmp: Path, registry, workers: int) -> tuple[str, str] | None:
    """The first error's class and message, None if the input is valid."""
    tmp.mkdir(exist_ok=True)
    try:
        write_csv(batches, tmp, registry=registry, actor="t", workers=workers, source="in.json")
    except ValidationError as err:
        return type(err).__name__, str(err)
    return None


class TestSameError:
    def test_the_unbroken_input_is_valid(self, tmp_path, registry):
        files = write_csv(_broken(), tmp_path, registry=registry, actor="t", workers=2)
        assert (files.cis, files.relationships) == (13, 9)

    @settings(max_examples=25, deadline=None)
    @given(
        faults=st.lists(
            st.tuples(st.sampled_from(_KINDS), st.integers(0, 50)), min_size=1, max_size=3
        ),
        workers=st.integers(2, 4),
    )
    def test_any_faults(self, tmp_path_factory, registry, faults, workers):
        """Several faults in one input: the one a single process meets first is raised."""
        batches = _broken(*faults)
        want = _error(batches, tmp_path_factory.mktemp("one"), registry, 1)
        assert _error(batches, tmp_path_factory.mktemp("many"), registry, workers) == want

    @pytest.mark.parametrize("kind", _KINDS)
    def test_each_fault_is_named_as_one_process_names_it(self, tmp_path, registry, kind):
        batches = _broken((kind, 7))
        want = _error(batches, tmp_path / "one", registry, 1)
        assert want is not None and want[1].startswith("in.json: ")
        assert _error(batches, tmp_path / "many", registry, 3) == want

    def test_a_later_slice_is_renumbered(self, tmp_path, registry):
        got = _error(_broken(("class", 8)), tmp_path, registry, 2)
        assert got is not None and "cis[8] 'app-8'" in got[1] and "teapot" in got[1]

    def test_the_batch_in_flight_fails_before_a_source_error(self, tmp_path, registry):
        def source():
            yield from _broken(("class", 2))
            raise ValidationError("bad line", location="in.jsonl:9")

        with pytest.raises(ValidationError, match=r"cis\[2\] 'app-2'"):
            write_csv(source(), tmp_path, registry=registry, actor="t", workers=2)

    def test_a_source_error_after_good_batches(self, tmp_path, registry):
        def source():
            yield from _input()[:1]
            raise ValidationError("bad line", location="in.jsonl:9")

        with pytest.raises(ValidationError, match=r"^in\.jsonl:9: bad line"):
            write_csv(source(), tmp_path, registry=registry, actor="t", workers=2,
                      source="in.jsonl")  # fmt: skip

    def test_a_worker_that_crashes(self, tmp_path, registry, monkeypatch):
        def boom(self, rels):
            raise RuntimeError("disk on fire")

        monkeypatch.setattr(neo4j_import._Writer, "relationships", boom)
        with pytest.raises(StoreError, match="a CSV worker failed: RuntimeError: disk on fire"):
            write_csv(_input(), tmp_path, registry=registry, actor="t", workers=2)
