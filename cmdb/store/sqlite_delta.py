"""What changed in a SQLite store since a topology snapshot, read for :mod:`cmdb.topology_delta`.

Assumptions: the caller holds one read transaction (so the key, the history and the rows read
here are one state). History names every CI and relationship a batch created, updated or
retired (``entity`` 'ci' / 'relationship', ids ``source|type|target``, ids never hold '|');
last-seen moves without history, so the writer logs those CIs in ``ci_touch`` (row number and
batch, the latest per CI). The state now of what they name is read from the ``ci`` and ``rel``
tables, the columns a rebuild reads, so a delta gives what a rebuild would.

A snapshot is an ancestor of the store's state when the store still has the batch the snapshot
saw last, at the same time (``mark`` = ``id@at``; empty before the first batch, of which every
state is a descendant): a copy of the file that took other writes since has other batches under
the same ids, and is rebuilt.
"""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING

from cmdb.enums import Criticality
from cmdb.registry import Registry

if TYPE_CHECKING:
    from cmdb.topology import Topology
    from cmdb.topology_delta import Delta

__all__ = ["CURSOR_SQL", "NOT_IN_SERVICE", "read_delta"]

NOT_IN_SERVICE = ("planned", "build")
CURSOR_SQL = (
    "SELECT coalesce((SELECT max(seq) FROM history), 0), "
    "coalesce((SELECT id || '@' || at FROM batch ORDER BY id DESC LIMIT 1), '')"
)
"""The history a snapshot reflects: the last history entry and the last batch (``id@at``)."""


def read_delta(
    db: sqlite3.Connection, registry: Registry, base: Topology, limit: int
) -> Delta | None:
    """The :class:`~cmdb.topology_delta.Delta` from ``base`` to the store's state now; None
    when ``base`` is not an ancestor of it, when more than ``limit`` entities changed, or when a
    CI has a class the registry does not know (a rebuild says which)."""
    import numpy as np

    from cmdb.topology_delta import Delta

    if base.rown is None:
        return None
    batch = int(base.mark.split("@", 1)[0]) if base.mark else 0  # "": before any batch
    row = db.execute("SELECT id || '@' || at FROM batch WHERE id = ?", (batch,)).fetchone()
    if batch and (row is None or row[0] != base.mark):
        return None
    try:
        touched = db.execute(
            "SELECT n FROM ci_touch WHERE batch_id > ? LIMIT ?", (batch, limit + 1)
        ).fetchall()
    except sqlite3.OperationalError:  # a read-only store from before ci_touch
        return None
    # by the seq range (`+entity`: an index on entity would read every entry of the kind)
    names = set(
        db.execute(
            "SELECT entity, entity_id FROM history WHERE seq > ? "
            "AND +entity IN ('ci', 'relationship') ORDER BY seq LIMIT ?",
            (base.seq, limit + 1),
        ).fetchall()
    )
    if len(names) + len(touched) > limit:
        return None
    ci_ids = [i for e, i in names if e == "ci"]
    rel_keys = [i.split("|") for e, i in names if e == "relationship"]
    cis = db.execute(
        "SELECT n, id, class, criticality, min_required, last_seen, availability, status "
        "FROM ci WHERE id IN (SELECT value FROM json_each(?1)) "
        "OR n IN (SELECT value FROM json_each(?2)) ORDER BY n",
        (json.dumps(ci_ids), json.dumps([n for (n,) in touched])),
    ).fetchall()
    rels = db.execute(
        "SELECT r.src, r.type, r.dst, r.status FROM json_each(?) k "
        "JOIN ci s ON s.id = k.value ->> 0 JOIN ci t ON t.id = k.value ->> 2 "
        "JOIN rel r ON r.src = s.n AND r.type = k.value ->> 1 AND r.dst = t.n",
        (json.dumps(rel_keys),),
    ).fetchall()
    class_code = {c: i for i, c in enumerate(registry.class_names)}
    type_code = {t: i for i, t in enumerate(registry.rel_type_names)}
    if any(r[2] not in class_code for r in cis) or any(r[1] not in type_code for r in rels):
        return None
    crit = {c.value: c.rank for c in Criticality}
    return Delta.of(
        keys=[r[0] for r in cis],
        ids=[r[1] for r in cis],
        live=[r[7] != "retired" for r in cis],
        class_code=[class_code[r[2]] for r in cis],
        is_group=[registry.is_group(r[2]) for r in cis],
        criticality=[crit[r[3]] for r in cis],
        min_required=[r[4] or 0 for r in cis],
        last_seen=[np.nan if r[5] is None else r[5] for r in cis],
        availability=[np.nan if r[6] is None else r[6] for r in cis],
        in_service=[r[7] not in NOT_IN_SERVICE for r in cis],
        edges=[(s, type_code[t], d, st == "active") for s, t, d, st in rels],
    )
