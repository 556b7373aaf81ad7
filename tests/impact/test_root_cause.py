"""Root cause: ranking, explanations, equivalents, boosts, the store form, and a quality floor."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from cmdb.errors import NotFoundError, ValidationError
from cmdb.generator import generate_topology
from cmdb.model import Batch, Change, Incident
from cmdb.topology import Topology
from impact.blast import blast_radius
from impact.root_cause import CHANGE_BOOST, rank_root_causes, root_cause_report
from tests.impact.conftest import NOW


def topo() -> Topology:
    """a1, a2 depend on db, db on san; a3 on other; web-1/web-2 form pool (1 of 2), which app
    runs on; svc is provided by app."""
    ids = ["a1", "a2", "db", "san", "a3", "other", "pool", "web-1", "web-2", "app", "svc"]
    i = {ci: n for n, ci in enumerate(ids)}
    edges = [
        ("a1", 0, "db"),
        ("a2", 0, "db"),
        ("db", 0, "san"),
        ("a3", 0, "other"),
        ("web-1", 1, "pool"),
        ("web-2", 1, "pool"),
        ("app", 0, "pool"),
        ("app", 2, "svc"),
    ]
    return Topology.build(
        version=1,
        class_names=("application", "cluster", "business_service"),
        rel_type_names=("depends_on", "member_of", "provides"),
        propagation=("to_source", "membership", "to_target"),
        ids=ids,
        class_code=[1 if c == "pool" else 2 if c == "svc" else 0 for c in ids],
        is_group=[c == "pool" for c in ids],
        min_required=[1 if c == "pool" else 0 for c in ids],
        src=[i[s] for s, _, _ in edges],
        dst=[i[d] for _, _, d in edges],
        rtype=[t for _, t, _ in edges],
    )


class TestRankRootCauses:
    def test_common_dependency_first(self):
        ranked = rank_root_causes(topo(), ["a1", "a2"], top=3)
        assert [c.id for c in ranked] == ["db", "san", "a1"]
        best = ranked[0]
        assert best.explained == ("a1", "a2") and best.unexplained == ()
        assert best.blast_radius_size == 2 and best.coverage == 1.0

    def test_noise_stays_unexplained(self):
        best = rank_root_causes(topo(), ["a1", "a2", "a3"], top=1)[0]
        assert (best.id, best.unexplained) == ("db", ("a3",))

    @pytest.mark.parametrize("symptoms", [["app", "svc"], ["svc"]])
    def test_group_members_are_equivalent(self, symptoms):
        ranked = rank_root_causes(topo(), symptoms, top=5)
        members = next(c for c in ranked if "web" in c.id)
        assert (members.id, members.equivalents) == ("web-1", ("web-2",))
        assert ranked.index(members) < [c.id for c in ranked].index("pool")

    def test_recent_change_breaks_a_tie(self):
        change = Change(
            id="chg-1",
            ci_ids=["web-2"],
            status="implemented",
            window_start=NOW - timedelta(hours=5),
            window_end=NOW - timedelta(hours=4),
        )
        old = Change(
            id="chg-0",
            ci_ids=["web-1"],
            status="implemented",
            window_start=NOW - timedelta(days=9),
            window_end=NOW - timedelta(days=8),
        )
        ranked = rank_root_causes(topo(), ["app", "svc"], records=[change, old], now=NOW)
        assert ranked[0].id == "web-2" and ranked[0].equivalents == ()
        assert [(b.record_id, b.value) for b in ranked[0].boosts] == [("chg-1", CHANGE_BOOST)]

    def test_incident_boost_within_window(self):
        inc = Incident(id="inc-1", ci_ids=["san"], opened_at=NOW - timedelta(hours=1))
        ranked = rank_root_causes(topo(), ["a1", "a2"], records=[inc], now=NOW, top=2)
        assert ranked[0].id == "san"
        far = rank_root_causes(topo(), ["a1", "a2"], records=[inc], now=NOW, window_hours=0.5)
        assert far[0].id == "db"

    def test_to_json(self):
        best = rank_root_causes(topo(), ["a1", "a2"], top=1)[0]
        data = best.to_json()
        assert set(data) == {
            "id",
            "class",
            "score",
            "coverage",
            "explained",
            "unexplained",
            "blast_radius_size",
            "boosts",
            "equivalents",
        }
        assert (data["class"], data["coverage"], data["explained"]) == (
            "application",
            1.0,
            ["a1", "a2"],
        )
        with pytest.raises(ValueError, match="frozen"):
            best.score = 0.0

    @pytest.mark.parametrize(
        ("symptoms", "top", "error", "match"),
        [
            (["ghost"], 3, NotFoundError, "CI 'ghost' not found"),
            ([], 3, ValidationError, "at least one symptom"),
            (["a1"], 0, ValidationError, "field 'top'"),
        ],
    )
    def test_errors(self, symptoms, top, error, match):
        with pytest.raises(error, match=match):
            rank_root_causes(topo(), symptoms, top=top)


def _inject(t: Topology, rng: np.random.Generator) -> tuple[str, list[str]]:
    """The benchmark's injection (bench/bench_root_cause.py), kept small: 60% of a failure's
    blast radius as symptoms plus 20% noise from outside it."""
    pool = np.flatnonzero((t.dependents.degree() + t.groups.degree() > 0) & ~t.is_group)
    while True:
        failed = t.ids[int(rng.choice(pool))]
        listed = [a.id for a in blast_radius(t, [failed]).affected()]
        if len(listed) >= 5:
            break
    k = round(0.6 * len(listed))
    symptoms = list(rng.choice(listed, size=k, replace=False))
    inside = set(listed) | {failed}
    while len(symptoms) < k + round(0.2 * k):
        other = t.ids[int(rng.integers(t.n))]
        if other not in inside and other not in symptoms:
            symptoms.append(other)
    return failed, symptoms


class TestQuality:
    def test_top3_on_a_generated_estate(self):
        t = generate_topology(20_000, seed=11)
        rng = np.random.default_rng(11)
        hits = 0
        for _ in range(30):
            failed, symptoms = _inject(t, rng)
            ranked = rank_root_causes(t, symptoms, top=3)
            hits += any(failed == c.id or failed in c.equivalents for c in ranked)
        assert hits / 30 >= 0.9


class TestRootCauseReport:
    def test_from_incidents(self, estate):
        estate.apply(
            Batch(
                records=[
                    Incident(id="inc-1", ci_ids=["app-pay"], opened_at=NOW - timedelta(hours=1)),
                    Incident(id="inc-2", ci_ids=["svc-pay", "cust-a"], opened_at=NOW),
                ]
            ),
            actor="t",
        )
        report = root_cause_report(estate, incident_ids=["inc-1", "inc-2"], now=NOW, top=3)
        assert report.symptoms == ("app-pay", "svc-pay", "cust-a")
        # a symptom that explains all the others is the most specific answer; then upstream
        assert [c.id for c in report.candidates] == ["app-pay", "db-pay", "srv-1"]
        assert report.to_json()["incidents"] == ["inc-1", "inc-2"]

    def test_recent_records_boost(self, estate):
        estate.apply(
            Batch(
                records=[
                    Incident(id="inc-1", ci_ids=["app-pay"], opened_at=NOW),
                    Incident(id="inc-9", ci_ids=["srv-1"], opened_at=NOW - timedelta(hours=2)),
                    Change(
                        id="chg-9",
                        ci_ids=["srv-1"],
                        status="implemented",
                        window_start=NOW - timedelta(hours=3),
                        window_end=NOW - timedelta(hours=2),
                    ),
                ]
            ),
            actor="t",
        )
        report = root_cause_report(estate, incident_ids=["inc-1"], ci_ids=["svc-pay"], now=NOW)
        assert report.candidates[0].id == "srv-1"
        assert {b.record_id for b in report.candidates[0].boosts} == {"inc-9", "chg-9"}

    @pytest.mark.parametrize(
        ("kwargs", "error", "match"),
        [
            ({}, ValidationError, "give symptom CIs or incidents"),
            ({"incident_ids": ["inc-x"]}, NotFoundError, "record 'inc-x' not found"),
            ({"incident_ids": ["chg-1"]}, ValidationError, "not an incident"),
        ],
    )
    def test_errors(self, estate, kwargs, error, match):
        estate.apply(Batch(records=[Change(id="chg-1", ci_ids=["pc-1"])]), actor="t")
        with pytest.raises(error, match=match):
            root_cause_report(estate, **kwargs)
