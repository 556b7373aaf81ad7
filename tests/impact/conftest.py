"""Fixtures for the impact tests: the shared vectors, loaded into a fresh store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cmdb.model import CI, Batch, Relationship
from cmdb.settings import Settings
from cmdb.store import open_store

REPO = Path(__file__).resolve().parents[2]
VECTORS = (REPO.parent / "shared" / "vectors" / "impact").resolve()

CLASS_MAP = {"server": "physical_server"}
REQUIRED = {"database": {"engine": "oracle"}, "middleware": {"product": "mq"}}


def vector_files() -> list[Path]:
    files = sorted(VECTORS.glob("*.json"))
    if not files:
        raise RuntimeError(f"no impact vectors found in {VECTORS}")
    return files


def vector_batch(vector: dict) -> Batch:
    cis = []
    for raw in vector["cis"]:
        cls = CLASS_MAP.get(raw["class"], raw["class"])
        cis.append(CI(id=raw["id"], ci_class=cls, name=raw["id"],
                      attributes=dict(REQUIRED.get(cls, {})),
                      min_required=raw.get("min_required")))
    rels = [Relationship(source=r["source"], type=r["type"], target=r["target"])
            for r in vector["relationships"]]
    return Batch(cis=cis, relationships=rels)


@pytest.fixture
def vector_store(tmp_path):
    """A factory: a fresh SQLite store holding the given vector."""
    stores = []

    def load(vector: dict):
        store = open_store(Settings(db=tmp_path / f"v{len(stores)}.db"))
        stores.append(store)
        store.apply(vector_batch(vector), actor="test")
        return store

    yield load
    for s in stores:
        s.close()


def load_vector(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))
