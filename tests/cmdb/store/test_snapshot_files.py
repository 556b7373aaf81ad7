"""Snapshot files: published once, checked on every load, cleaned up when superseded."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from cmdb.model import CI, Batch, Relationship
from cmdb.registry import load_registry
from cmdb.settings import Settings
from cmdb.store import open_store
from cmdb.store.snapshots import SnapshotCache, SnapshotKey
from cmdb.topology import MANIFEST, Topology


def topo(version: int = 1, store_id: str = "s1") -> Topology:
    return Topology.build(
        version=version,
        store_id=store_id,
        class_names=("application", "business_service", "cluster"),
        class_categories=("software", "service", "group"),
        rel_type_names=("depends_on", "member_of"),
        propagation=("to_source", "membership"),
        ids=["svc", "app", "pool"],
        class_code=[1, 0, 2],
        is_group=[False, False, True],
        min_required=[0, 0, 1],
        src=[0, 1],
        dst=[1, 2],
        rtype=[0, 1],
    )


class TestCategories:
    def test_category_mask(self):
        t = topo()
        assert t.category_mask("service").tolist() == [True, False, False]
        assert t.category_mask("service", "group").tolist() == [True, False, True]
        assert t.category_mask("nothing").tolist() == [False] * 3

    def test_default_is_no_category(self):
        t = Topology.build(
            version=1,
            class_names=("a", "b"),
            rel_type_names=(),
            propagation=(),
            ids=["x"],
            class_code=[1],
            is_group=[False],
            min_required=[0],
            src=[],
            dst=[],
            rtype=[],
        )
        assert t.class_categories == ("", "") and t.store_id == ""
        assert t.category_mask("service").tolist() == [False]

    def test_categories_run_parallel_to_classes(self):
        with pytest.raises(ValueError, match="parallel"):
            Topology.build(
                version=1,
                class_names=("a", "b"),
                class_categories=("x",),
                rel_type_names=(),
                propagation=(),
                ids=[],
                class_code=[],
                is_group=[],
                min_required=[],
                src=[],
                dst=[],
                rtype=[],
            )

    def test_stores_fill_them_from_the_registry_and_cache_them(self, tmp_path, registry):
        db = tmp_path / "c.db"
        with open_store(Settings(db=db), registry=registry, create=True) as s:
            s.apply(
                Batch(
                    cis=[
                        CI(id="svc", ci_class="business_service", name="S"),
                        CI(id="app", ci_class="application", name="A"),
                    ],
                    relationships=[Relationship(source="svc", type="depends_on", target="app")],
                ),
                actor="t",
            )
            built = s.topology()
        with open_store(Settings(db=db), registry=registry) as s:
            cached = s.topology()
        assert cached is not built
        for t in (built, cached):
            assert t.class_categories == tuple(
                registry.classes[c].category for c in registry.class_names
            )
            assert [t.ids[i] for i in np.flatnonzero(t.category_mask("service"))] == ["svc"]

    def test_a_registry_with_other_categories_never_reuses_a_snapshot(self, tmp_path, registry):
        """The registry fingerprint does not cover categories; the cache checks them."""
        db = tmp_path / "c.db"
        with open_store(Settings(db=db), registry=registry, create=True) as s:
            s.apply(Batch(cis=[CI(id="t", ci_class="technical_service", name="T")]), actor="t")
            assert s.topology().category_mask("service").tolist() == [True]
        user = tmp_path / "registry.yaml"
        user.write_text("classes:\n  technical_service: {category: software, label: T}\n")
        other = load_registry(user)
        with open_store(Settings(db=db), registry=other) as s:
            assert s.topology().category_mask("service").tolist() == [False]
            assert s.topology().category_mask("software").tolist() == [True]


class TestSaveAndLoad:
    def test_round_trip(self, tmp_path):
        t = topo()
        t.save(tmp_path / "snap", tag="fp")
        got = Topology.load(tmp_path / "snap", store_id="s1", version=1, tag="fp")
        assert got is not None
        assert (got.ids, got.class_categories, got.store_id) == (t.ids, t.class_categories, "s1")
        assert got.dependents.row(1).tolist() == t.dependents.row(1).tolist() == [0]
        assert isinstance(got.src, np.ndarray) and not isinstance(got.src, np.memmap)

    def test_a_published_directory_is_never_replaced(self, tmp_path):
        topo().save(tmp_path / "snap")
        with pytest.raises(FileExistsError):
            topo(version=2).save(tmp_path / "snap")
        assert Topology.load(tmp_path / "snap").version == 1
        assert [p.name for p in tmp_path.iterdir()] == ["snap"]  # no temporary left behind

    @pytest.mark.parametrize(
        "expect", [{"store_id": "s2"}, {"version": 2}, {"tag": "other"}], ids=str
    )
    def test_another_key_is_none(self, tmp_path, expect):
        topo().save(tmp_path / "snap", tag="fp")
        assert Topology.load(tmp_path / "snap", **expect) is None

    def test_no_manifest_is_none(self, tmp_path):
        topo().save(tmp_path / "snap")
        (tmp_path / "snap" / MANIFEST).unlink()
        assert Topology.load(tmp_path / "snap") is None

    def test_a_missing_array_is_none(self, tmp_path):
        topo().save(tmp_path / "snap")
        (tmp_path / "snap" / "dst.npy").unlink()
        assert Topology.load(tmp_path / "snap") is None

    @pytest.mark.parametrize("name", ["src", "class_code", "dependents.indptr", "ids"])
    def test_an_array_unlike_the_manifest_is_none(self, tmp_path, name):
        """What a torn read would see: an array of another snapshot, of another length."""
        topo().save(tmp_path / "snap")
        other = tmp_path / "other"
        big = Topology.build(
            version=1,
            class_names=("a",),
            rel_type_names=("depends_on",),
            propagation=("to_source",),
            ids=list("abcde"),
            class_code=[0] * 5,
            is_group=[False] * 5,
            min_required=[0] * 5,
            src=[0, 1, 2],
            dst=[1, 2, 3],
            rtype=[0, 0, 0],
        )
        big.save(other)
        os.replace(other / f"{name}.npy", tmp_path / "snap" / f"{name}.npy")
        assert Topology.load(tmp_path / "snap") is None

    def test_a_wrong_dtype_is_none(self, tmp_path):
        topo().save(tmp_path / "snap")
        np.save(tmp_path / "snap" / "src.npy", np.asarray([0, 1], np.int64))
        man = json.loads((tmp_path / "snap" / MANIFEST).read_text())
        man["arrays"]["src"]["dtype"] = "<i8"  # even when the manifest agrees
        (tmp_path / "snap" / MANIFEST).write_text(json.dumps(man))
        assert Topology.load(tmp_path / "snap") is None

    def test_an_unlinked_file_stays_readable_once_mapped(self, tmp_path):
        topo().save(tmp_path / "snap")
        got = Topology.load(tmp_path / "snap")
        for p in (tmp_path / "snap").iterdir():
            p.unlink()
        assert got.src.tolist() == [0, 1] and got.dependents.row(1).tolist() == [0]


def names(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir())


class TestSnapshotCache:
    def test_publishing_removes_what_it_supersedes(self, tmp_path):
        cache = SnapshotCache(tmp_path / "db.snapshots")
        cache.publish(topo(1), SnapshotKey("s1", 1, "fp", "a"))
        cache.publish(topo(1, "gone"), SnapshotKey("gone", 1, "fp", "a"))  # a replaced file
        cache.publish(topo(1), SnapshotKey("s1", 1, "fp2", "a"))  # another registry
        cache.publish(topo(2), SnapshotKey("s1", 2, "fp", "b"))
        kept = names(tmp_path / "db.snapshots")
        assert [n.split("-")[:4] for n in kept] == [["s1", "1", "fp2", "a"], ["s1", "2", "fp", "b"]]
        assert cache.load(SnapshotKey("s1", 1, "fp", "a")) is None
        assert cache.load(SnapshotKey("s1", 2, "fp", "b")).version == 2

    def test_same_version_other_state_is_superseded(self, tmp_path):
        cache = SnapshotCache(tmp_path / "c")
        cache.publish(topo(3), SnapshotKey("s1", 3, "fp", "a"))
        cache.publish(topo(3), SnapshotKey("s1", 3, "fp", "b"))
        assert [n.split("-")[3] for n in names(tmp_path / "c")] == ["b"]

    def test_abandoned_temporaries_are_removed_late(self, tmp_path):
        root = tmp_path / "c"
        (root / ".tmp-new").mkdir(parents=True)
        (root / ".tmp-old").mkdir()
        old = time.time() - 7200
        os.utime(root / ".tmp-old", (old, old))
        SnapshotCache(root).publish(topo(), SnapshotKey("s1", 1, "fp", "a"))
        assert ".tmp-new" in names(root) and ".tmp-old" not in names(root)

    def test_a_broken_newest_falls_back_to_an_older_whole_one(self, tmp_path):
        cache = SnapshotCache(tmp_path / "c")
        key = SnapshotKey("s1", 1, "fp", "a")
        cache.publish(topo(), key)
        cache.publish(topo(), key)
        newest = names(tmp_path / "c")[-1]
        (tmp_path / "c" / newest / "ids.npy").unlink()
        assert cache.load(key).ids == ["svc", "app", "pool"]

    def test_a_missing_cache_is_none(self, tmp_path):
        assert SnapshotCache(tmp_path / "nowhere").load(SnapshotKey("s", 1, "f", "a")) is None
