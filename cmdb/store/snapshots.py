"""The on-disk cache of topology snapshots, shared by every process that opens one store.

Assumptions: processes read and publish at once with nothing to coordinate them but the file
system (POSIX rename and unlink). A snapshot is published as a *new* directory whose name carries
its key, ``<store id>-<version>-<registry fingerprint>-<state>-<unique>``, by one rename
(:meth:`~cmdb.topology.Topology.save`), is never changed afterwards, and is checked against its
manifest when read (:meth:`~cmdb.topology.Topology.load`): a reader sees one whole snapshot or
none. The store id makes a file restored from another store miss the cache; the state (a hash of
the store's last write) does the same for a copy that diverged at the same version.

Publishing removes the directories it supersedes: those of other store ids (the file was
replaced) and older states under the same registry. A reader that already mapped their files
keeps valid pages (an unlinked file lives on while mapped); one that had not opened them yet gets
None, and the store reads its state again and rebuilds if it must.

>>> import tempfile
>>> from cmdb.topology import Topology
>>> cache = SnapshotCache(Path(tempfile.mkdtemp()) / "cmdb.db.snapshots")
>>> key = SnapshotKey("ab12", 3, "f00d", "0")
>>> t = Topology.build(version=3, class_names=("application",), rel_type_names=("depends_on",),
...     propagation=("to_source",), ids=["a"], class_code=[0], is_group=[False],
...     min_required=[0], src=[], dst=[], rtype=[], store_id="ab12")
>>> cache.load(key) is None
True
>>> cache.publish(t, key)
>>> cache.load(key).ids.tolist(), cache.load(SnapshotKey("ab12", 4, "f00d", "0"))
(['a'], None)
>>> cache.latest("ab12", "f00d", schema_of(t)).version, cache.latest("ab12", "beef", schema_of(t))
(3, None)
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy loads only when a snapshot is read or written
    from cmdb.topology import Topology

__all__ = ["SnapshotCache", "SnapshotKey", "schema_of"]

_TMP_GRACE = 3600.0  # seconds before an unpublished temporary directory counts as abandoned


@dataclass(frozen=True)
class SnapshotKey:
    """Which state of which store a snapshot holds, under which registry."""

    store_id: str
    version: int
    fingerprint: str
    state: str

    @property
    def prefix(self) -> str:
        return f"{self.store_id}-{self.version}-{self.fingerprint}-{self.state}-"

    @property
    def tag(self) -> str:
        return f"{self.fingerprint}-{self.state}"


class SnapshotCache:
    """The snapshot directories under ``root`` (created on first publication)."""

    def __init__(self, root: Path):
        self.root = root

    def load(self, key: SnapshotKey, *, schema: tuple | None = None) -> Topology | None:
        """The newest whole snapshot published for ``key`` (and, when given, with this
        ``schema``: class names, class categories, relationship types, propagation); None if
        there is none."""
        try:
            names = sorted(
                (n for n in os.listdir(self.root) if n.startswith(key.prefix)), reverse=True
            )
        except OSError:
            return None
        for name in names:
            from cmdb.topology import Topology

            topo = Topology.load(
                self.root / name, store_id=key.store_id, version=key.version, tag=key.tag
            )
            if topo is not None and (schema is None or schema == schema_of(topo)):
                return topo
        return None

    def latest(self, store_id: str, fingerprint: str, schema: tuple) -> Topology | None:
        """The newest whole snapshot published for ``store_id`` under the registry
        ``fingerprint`` (and ``schema``), whatever its state: a base that the store may bring up
        to date from history, once it has checked that the snapshot is of its own past."""
        found = []
        try:
            for name in os.listdir(self.root):
                parts = name.split("-")
                if (
                    len(parts) == 5
                    and parts[0] == store_id
                    and parts[1].isdigit()
                    and parts[2] == fingerprint
                ):
                    found.append((int(parts[1]), name))
        except OSError:
            return None
        for _, name in sorted(found, reverse=True):
            from cmdb.topology import Topology

            topo = Topology.load(self.root / name, store_id=store_id)
            if topo is not None and schema == schema_of(topo):
                return topo
        return None

    def publish(self, topo: Topology, key: SnapshotKey) -> None:
        """Publish ``topo`` as the snapshot of ``key`` and remove the ones it supersedes.
        Raises :class:`OSError` when the cache directory cannot be written."""
        self.root.mkdir(parents=True, exist_ok=True)
        name = f"{key.prefix}{time.time_ns():016x}{secrets.token_hex(4)}"
        topo.save(self.root / name, tag=key.tag)
        self._clean(key, keep=name)

    def _clean(self, key: SnapshotKey, *, keep: str) -> None:
        now = time.time()
        for name in os.listdir(self.root):
            path = self.root / name
            if name == keep:
                continue
            if name.startswith(".tmp-"):
                with contextlib.suppress(OSError):
                    if now - path.stat().st_mtime > _TMP_GRACE:
                        shutil.rmtree(path, ignore_errors=True)
                continue
            parts = name.split("-")
            if len(parts) != 5 or not parts[1].isdigit():
                continue
            store_id, version, fingerprint, state = parts[0], int(parts[1]), parts[2], parts[3]
            superseded = fingerprint == key.fingerprint and (
                version < key.version or (version == key.version and state != key.state)
            )
            if store_id != key.store_id or superseded:
                shutil.rmtree(path, ignore_errors=True)


def schema_of(topo: Topology) -> tuple:
    """What a snapshot took from the registry: class names and categories, relationship
    types and their propagation."""
    return (
        topo.class_names,
        topo.class_categories,
        topo.rel_type_names,
        tuple(p.value for p in topo.propagation),
    )
