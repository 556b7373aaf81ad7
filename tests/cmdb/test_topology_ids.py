"""The snapshot's id sequence (cmdb.topology_ids.Ids) against a plain list of str."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cmdb.errors import NotFoundError
from cmdb.generator import _layout, generate_topology
from cmdb.topology import Topology
from cmdb.topology_ids import Ids, _hash_one, hashes

unique_ids = st.lists(st.text(max_size=12), unique=True, max_size=40)


def loaded(ids: list[str], tmp_path, name: str = "snap") -> Ids:
    """``ids`` through a saved and memory-mapped snapshot."""
    n = len(ids)
    t = Topology.build(
        version=1,
        class_names=("application",),
        rel_type_names=("depends_on",),
        propagation=("to_source",),
        ids=ids,
        class_code=[0] * n,
        is_group=[False] * n,
        min_required=[0] * n,
        src=[],
        dst=[],
        rtype=[],
    )
    t.save(tmp_path / name)
    got = Topology.load(tmp_path / name)
    assert got is not None
    return got.ids


def edit(data, ids: list[str], *, most_gone: int, most_new: int) -> tuple:
    """Positions to drop from ``ids`` (ascending), the ids kept, where new ids go among the
    kept (ascending), the new ids (Unicode, none of the kept), and the list that gives."""
    gone = sorted(data.draw(st.sets(st.integers(0, max(len(ids) - 1, 0)), max_size=most_gone)))
    gone = [g for g in gone if g < len(ids)]
    kept = [x for i, x in enumerate(ids) if i not in set(gone)]
    new = data.draw(st.lists(st.text(max_size=10), unique=True, max_size=most_new))
    new = [v for v in new if v not in kept]
    at = sorted(data.draw(st.lists(st.integers(0, len(kept)), min_size=len(new))))[: len(new)]
    want = list(kept)
    for k, (pos, v) in enumerate(zip(at, new, strict=True)):
        want.insert(pos + k, v)
    return gone, kept, at, new, want


class TestIds:
    @given(unique_ids, st.data())
    @settings(max_examples=150)
    def test_behaves_as_the_list(self, ids, data):
        seq = Ids.from_list(ids)
        assert len(seq) == len(ids) and list(seq) == ids and seq.tolist() == ids
        assert seq == ids and seq == tuple(ids) and seq != [*ids, "extra"]
        for i in range(-len(ids), len(ids)):
            assert seq[i] == ids[i] and seq[np.int64(i)] == ids[i]
        lo, hi, step = (data.draw(st.integers(-45, 45) | st.none()) for _ in range(3))
        if step != 0:
            assert seq[lo:hi:step] == ids[lo:hi:step]
        if ids:
            pick = data.draw(st.lists(st.integers(0, len(ids) - 1), max_size=20))
            assert seq.take(pick) == [ids[i] for i in pick]
            assert seq[np.asarray(pick, np.int32)] == [ids[i] for i in pick]

    @given(unique_ids, st.lists(st.text(max_size=12), max_size=12), st.booleans())
    @settings(max_examples=150)
    def test_look_up_as_the_list(self, ids, probes, tabled):
        seq = Ids.from_list(ids)
        if tabled:
            seq.table()  # the hash table instead of the first scans of the blob
        for key in [*ids, *probes]:
            want = ids.index(key) if key in ids else -1
            assert seq.find(key) == want
            assert (key in seq) == (want >= 0)
            if want >= 0:
                assert seq.index(key) == want
            else:
                with pytest.raises(ValueError, match="is not in ids"):
                    seq.index(key)

    @given(unique_ids, unique_ids)
    def test_add_appends(self, head, tail):
        if set(head) & set(tail):
            return
        both = Ids.from_list(head) + tail
        assert both == head + tail
        assert all(both.find(k) == i for i, k in enumerate(head + tail))

    @given(
        st.lists(st.text(max_size=8), unique=True, min_size=64, max_size=300),
        st.lists(st.integers(0, 10**6), min_size=64, max_size=200),
    )
    @settings(max_examples=60)
    def test_large_takes_as_the_list(self, ids, picks):
        """From 64 ids on, one gather and one decode (cut at newlines, unless an id holds one)."""
        seq = Ids.from_list(ids)
        nodes = [p % len(ids) for p in picks]
        assert seq.take(nodes) == [ids[i] for i in nodes]
        assert seq[np.asarray(nodes)] == [ids[i] for i in nodes]
        assert list(seq) == ids

    @given(unique_ids, st.data())
    def test_drop_and_insert_as_the_list(self, ids, data):
        seq = Ids.from_list(ids)
        gone, kept, at, new, want = edit(data, ids, most_gone=5, most_new=6)
        dropped = seq.drop(gone)
        assert dropped == kept and all(dropped.find(k) == i for i, k in enumerate(kept))
        assert dropped.insert(at, new) == want

    @given(
        st.lists(st.text(max_size=10), unique=True, min_size=64, max_size=250),
        st.data(),
        st.booleans(),
    )
    @settings(max_examples=60)
    def test_drop_then_insert_many_as_the_list(self, ids, data, tabled):
        """Many positions at once (one gather per take from 64 ids on, Unicode and newlines
        in ids), on ids with and without their hash table: cut and joined as the list is."""
        seq = Ids.from_list(ids)
        if tabled:
            seq.table()
        gone, _, at, new, want = edit(data, ids, most_gone=len(ids), most_new=80)
        got = seq.drop(np.asarray(gone, np.int64)).insert(np.asarray(at, np.int64), new)
        assert got == want and got.tolist() == want and len(got) == len(want)
        if tabled:  # carried over: what building it again gives (equal hashes in any order)
            if gone or new:  # else it is ``seq`` itself
                assert got._hash is None and got._pending is not None
            h, order = got.table()
            h2, order2 = Ids.from_list(want).table()
            assert h.tolist() == h2.tolist() and order.dtype == order2.dtype
            pairs = set(zip(h.tolist(), order.tolist(), strict=True))
            assert pairs == set(zip(h2.tolist(), order2.tolist(), strict=True))
        else:
            assert got._hash is None and got._pending is None  # hashed when needed, as before
        assert all(got.find(k) == i for i, k in enumerate(want))
        assert seq == ids  # the ids it was made from are left as they were

    def test_insert_of_many_checks_them_all_at_once(self, monkeypatch):
        """Past ``_CHECK_EACH`` new ids, the result is checked through its hash table."""
        monkeypatch.setattr("cmdb.topology_ids._CHECK_EACH", 1)
        seq = Ids.from_list(["a", "c", "e"])
        assert seq.insert([1, 2], ["b", "d"]) == ["a", "b", "c", "d", "e"]
        with pytest.raises(ValueError, match="'e' appears more than once"):
            seq.insert([0, 3], ["x", "e"])

    def test_drop_and_insert_on_a_loaded_snapshot(self, tmp_path):
        ids = [f"ci-{i:03d}" for i in range(200)]
        got = loaded(ids, tmp_path)
        out = got.drop([0, 5, 199]).insert([0, 197], ["ci-000a", "ci-zz"])
        want = ["ci-000a", *(x for i, x in enumerate(ids) if i not in (0, 5, 199)), "ci-zz"]
        assert out == want and got == ids
        assert out._pending is not None  # the saved table, carried over when asked for
        assert out.table()[0].tolist() == Ids.from_list(want).table()[0].tolist()
        assert out.index("ci-zz") == len(want) - 1 and "ci-005" not in out

    def test_drop_and_insert_errors(self):
        seq = Ids.from_list(["a", "b", "c"])
        with pytest.raises(IndexError, match="ascending, distinct, in range"):
            seq.drop([2, 1])
        with pytest.raises(IndexError, match="ascending and in range"):
            seq.insert([4], ["d"])
        with pytest.raises(ValueError, match="one position per value"):
            seq.insert([0, 1], ["d"])
        with pytest.raises(ValueError, match="'b' appears more than once"):
            seq.insert([0], ["b"])

    def test_add_rejects_a_duplicate(self):
        with pytest.raises(ValueError, match="'a' appears more than once"):
            Ids.from_list(["a", "b"]) + ["c", "a"]  # noqa: RUF005

    @pytest.mark.parametrize("ids", [["a", "b", "a"], ["", "x", ""]])
    def test_duplicates_are_rejected(self, ids):
        with pytest.raises(ValueError, match="appears more than once"):
            Ids.from_list(ids)
        blob = "".join(ids).encode()
        offsets = np.cumsum([0, *(len(s.encode()) for s in ids)])
        with pytest.raises(ValueError, match="appears more than once"):
            Ids.from_blob(np.frombuffer(blob, np.uint8), offsets)

    def test_empty(self):
        seq = Ids.from_list([])
        assert len(seq) == 0 and seq == [] and list(seq) == [] and seq.find("a") == -1
        assert seq.table()[0].size == 0 and seq[0:5] == []
        with pytest.raises(IndexError):
            seq[0]

    def test_index_out_of_range(self):
        seq = Ids.from_list(["a", "b"])
        for bad in (2, -3):
            with pytest.raises(IndexError, match="out of range"):
                seq[bad]
        with pytest.raises(IndexError, match="out of range"):
            seq.take([0, 2])

    def test_offsets_must_span_the_blob(self):
        with pytest.raises(ValueError, match="do not span"):
            Ids(np.frombuffer(b"abc", np.uint8), np.array([0, 2]))
        with pytest.raises(ValueError, match="both its hashes and its order"):
            Ids(np.frombuffer(b"ab", np.uint8), np.array([0, 2]), order=np.array([0]))

    def test_ids_that_are_substrings_of_others(self):
        """A scan hit inside a longer id, or across two ids, is not a match."""
        seq = Ids.from_list(["abc", "b", "ab", "ca", "", "c"])
        for key, want in [("b", 1), ("ab", 2), ("bca", -1), ("ca", 3), ("", 4), ("c", 5)]:
            assert seq.find(key) == want

    @given(st.lists(st.binary(max_size=30), max_size=20))
    def test_vector_hash_is_the_scalar_one(self, keys):
        blob = np.frombuffer(b"".join(keys), np.uint8)
        offsets = np.cumsum([0, *map(len, keys)]).astype(np.int64)
        assert hashes(blob, offsets).tolist() == [_hash_one(k) for k in keys]

    @given(unique_ids)
    @settings(max_examples=40, deadline=None)
    def test_round_trip_through_a_snapshot(self, ids):
        import tempfile
        from pathlib import Path

        with tempfile.TemporaryDirectory() as tmp:
            got = loaded(ids, Path(tmp))
            assert got == ids and got == Ids.from_list(ids)
            assert all(got.find(k) == i for i, k in enumerate(ids))
            assert got.find("not-there\u0000") == -1


class TestTopologyIds:
    def test_build_keeps_an_ids_and_names_a_duplicate(self):
        seq = Ids.from_list(["a", "b"])
        t = Topology.build(
            version=1, class_names=("x",), rel_type_names=(), propagation=(), ids=seq,
            class_code=[0, 0], is_group=[False, False], min_required=[0, 0],
            src=[], dst=[], rtype=[],
        )  # fmt: skip
        assert t.ids is seq and t.index("b") == 1 and "a" in t and "c" not in t and 3 not in t
        with pytest.raises(NotFoundError):
            t.index("c")
        with pytest.raises(ValueError, match="'a' appears more than once"):
            Topology.build(
                version=1, class_names=("x",), rel_type_names=(), propagation=(), ids=["a", "a"],
                class_code=[0, 0], is_group=[False, False], min_required=[0, 0],
                src=[], dst=[], rtype=[],
            )  # fmt: skip

    def test_loaded_snapshot_looks_up_through_its_table(self, tmp_path):
        t = generate_topology(3_000, seed=2)
        t.save(tmp_path / "s")
        got = Topology.load(tmp_path / "s")
        assert got is not None
        assert isinstance(got.ids.blob, np.ndarray) and got.ids == t.ids
        for i in (0, 1, 1_500, 2_999):
            assert got.index(t.ids[i]) == i
        with pytest.raises(NotFoundError):
            got.index("sw-999999")

    def test_generator_blob_is_its_id_list(self):
        lay = _layout(5_000, 3)
        assert Ids.from_blob(*lay.id_blob()) == lay.ids()
