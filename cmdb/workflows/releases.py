"""Releases: group changes into a release, and assess it as one with the policy read from YAML.

Assumptions: a release groups one or more changes still to be done (requested or approved),
each in no other open release; its ``ci_ids`` are the union of its changes' CIs, and its window
runs from the earliest start to the latest end of its changes unless both ends are given. It
is applied as one batch with ``id=None``: the store allocates its id (``REL-000001``). The
policy (``release_policy.yaml`` next to this module, or ``--policy`` /
``CMDB_RELEASE_POLICY``) and the risk weights are read here and passed to
:func:`impact.releases.assess_release` as data.

>>> import os, tempfile
>>> from datetime import UTC, datetime
>>> from cmdb.model import CI, Batch
>>> from cmdb.settings import Settings
>>> from cmdb.store import open_store
>>> from cmdb.workflows.changes import record_change
>>> store = open_store(Settings(db=os.path.join(tempfile.mkdtemp(), "r.db")), create=True)
>>> _ = store.apply(Batch(cis=[CI(id="pc-1", ci_class="desktop", name="PC")]), actor="doc")
>>> at = lambda h: datetime(2026, 1, 10, h, tzinfo=UTC)
>>> c = record_change(store, ci_ids=["pc-1"], change_type="standard", title="re-image",
...                   window_start=at(1), window_end=at(2), actor="doc")
>>> rel = create_release(store, change_ids=[c.id], title="January", actor="doc")
>>> rel.id, rel.ci_ids, rel.window_end.hour
('REL-000001', ['pc-1'], 2)
>>> assess_release(store, rel.id).decision
'no_approval'
>>> store.close()
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from cmdb.enums import RecordKind, ReleaseType
from cmdb.errors import ValidationError
from cmdb.filters import RecordFilter
from cmdb.model import Batch, Change, Release
from cmdb.store.protocol import GraphStore
from cmdb.workflows.risk import Weights, _weights
from cmdb.yamlfile import read_mapping
from impact import releases
from impact.collisions import PENDING
from impact.releases import ReleaseAssessment, ReleasePolicy

__all__ = ["DEFAULT_POLICY", "assess_release", "create_release", "load_release_policy"]

DEFAULT_POLICY = Path(__file__).with_name("release_policy.yaml")

Policy = ReleasePolicy | str | Path | None


def load_release_policy(path: str | Path | None = None) -> ReleasePolicy:
    """The release policy in ``path`` (default: the packaged ``release_policy.yaml``);
    top-level sections missing from ``path`` come from the default. :class:`ConfigError` if
    it is invalid."""
    data: dict[str, Any] = read_mapping(DEFAULT_POLICY, "release policy")
    source = DEFAULT_POLICY.name
    if path is not None:
        data.update(read_mapping(Path(path), "release policy"))
        source = str(path)
    return ReleasePolicy.from_mapping(data, source=source)


def create_release(
    store: GraphStore,
    *,
    change_ids: Iterable[str],
    title: str = "",
    release_type: str = "normal",
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    actor: str,
) -> Release:
    """Record a release of the changes ``change_ids`` and return it as stored.

    :class:`~cmdb.errors.NotFoundError` for an unknown record;
    :class:`~cmdb.errors.ValidationError` for no change, a record that is not a change, a
    change already done or in another open release, an unknown type, or a bad window."""
    ids = list(dict.fromkeys(change_ids))
    if not ids:
        raise ValidationError("a release needs at least one change", field="change_ids")
    try:
        kind = ReleaseType(release_type)
    except ValueError:
        raise ValidationError(
            f"must be normal or emergency, got {release_type!r}", field="type"
        ) from None
    changes: list[Change] = []
    for cid in ids:
        rec = store.get_record(cid)
        if not isinstance(rec, Change):
            raise ValidationError(
                f"record '{cid}' is a {rec.kind}, not a change", field="change_ids"
            )
        if rec.status not in PENDING:
            raise ValidationError(
                f"change '{cid}' is {rec.status.value}: only requested or approved changes "
                "can be released",
                field="change_ids",
            )
        changes.append(rec)
    taken = {
        cid: r.id
        for r in store.find_records(RecordFilter(kinds=(RecordKind.RELEASE,), open_only=True))
        if isinstance(r, Release)
        for cid in r.change_ids
    }
    for cid in ids:
        if cid in taken:
            raise ValidationError(
                f"change '{cid}' is already in the open release {taken[cid]}", field="change_ids"
            )
    if (window_start is None) != (window_end is None):
        raise ValidationError("give both ends of the window, or neither", field="window")
    for name, at in (("window_start", window_start), ("window_end", window_end)):
        if at is not None and at.tzinfo is None:
            raise ValidationError("needs a timezone (e.g. 2026-01-03T22:00+00:00)", field=name)
    if window_start is None:
        starts = [c.window_start for c in changes if c.window_start is not None]
        ends = [c.window_end for c in changes if c.window_end is not None]
        window_start, window_end = (min(starts), max(ends)) if starts and ends else (None, None)
    elif window_end is not None and window_end <= window_start:
        raise ValidationError("must be after window_start", field="window_end")
    release = Release(
        id=None,
        title=title or "Release of " + ", ".join(ids),
        change_ids=ids,
        ci_ids=list(dict.fromkeys(ci for c in changes for ci in c.ci_ids)),
        type=kind,
        window_start=window_start,
        window_end=window_end,
    )
    done = store.apply(Batch(records=[release]), actor=actor)
    return cast(Release, store.get_record(done.allocated[0]))


def _policy(policy: Policy) -> ReleasePolicy:
    return policy if isinstance(policy, ReleasePolicy) else load_release_policy(policy)


def assess_release(
    store: GraphStore,
    release_id: str,
    *,
    weights: Weights = None,
    policy: Policy = None,
    now: datetime | None = None,
) -> ReleaseAssessment:
    """:func:`impact.releases.assess_release` with the risk weights and the release policy
    loaded when given as paths (None: the packaged defaults)."""
    return releases.assess_release(
        store, release_id, weights=_weights(weights), policy=_policy(policy), now=now
    )
