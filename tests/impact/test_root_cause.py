"""Root cause: ranking, equivalents by set, what may be a cause, what counts as silent, time and
state evidence, cause sets, the store form, and a quality floor for the time-aware ranking."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from bench.bench_root_cause import inject
from bench.rc_topologies import TOPOLOGIES
from cmdb.alerts import Alert, monitored_mask
from cmdb.errors import NotFoundError, ValidationError
from cmdb.generator import generate_topology
from cmdb.model import Batch, Change, Incident
from cmdb.registry import load_registry
from cmdb.topology import Topology
from impact.blast import blast_radius
from impact.root_cause import rank_root_causes, root_cause_report, smallest_cause_set
from impact.root_cause_evidence import CHANGE_PRIOR
from tests.impact.conftest import NOW

CLASSES = ("application", "cluster", "business_service", "desktop", "switch")
CATEGORIES = ("software", "group", "service", "enduser", "network")


def graph(edges: list[tuple[str, str, str]], groups: dict[str, int] | None = None) -> Topology:
    """A snapshot from ``(source, type, target)`` edges; a CI's class is guessed from its id
    (``svc*`` service, ``pc*`` desktop, ``sw*`` switch, a group in ``groups`` with its k)."""
    groups = groups or {}
    ids = list(dict.fromkeys([x for s, _, d in edges for x in (s, d)]))
    at = {ci: i for i, ci in enumerate(ids)}

    def cls(ci: str) -> int:
        if ci in groups:
            return 1
        for code, prefix in ((2, "svc"), (3, "pc"), (4, "sw")):
            if ci.startswith(prefix):
                return code
        return 0

    types = ("depends_on", "member_of", "provides")
    return Topology.build(
        version=1,
        class_names=CLASSES,
        class_categories=CATEGORIES,
        rel_type_names=types,
        propagation=("to_source", "membership", "to_target"),
        ids=ids,
        class_code=[cls(c) for c in ids],
        is_group=[c in groups for c in ids],
        min_required=[groups.get(c, 0) for c in ids],
        src=[at[s] for s, _, _ in edges],
        dst=[at[d] for _, _, d in edges],
        rtype=[types.index(t) for _, t, _ in edges],
    )


def dep(*pairs: str) -> list[tuple[str, str, str]]:
    """``"a>b"``: a depends on b."""
    return [(p.split(">")[0], "depends_on", p.split(">")[1]) for p in pairs]


def chain() -> Topology:
    """a1, a2, a3 depend on db, db on san; a4 on other."""
    return graph(dep("a1>db", "a2>db", "a3>db", "db>san", "a4>other"))


def pool() -> Topology:
    """web-1/web-2 form pool (1 of 2), which app runs on; app provides svc."""
    edges = [("web-1", "member_of", "pool"), ("web-2", "member_of", "pool")]
    edges += [*dep("app>pool"), ("app", "provides", "svc")]
    return graph(edges, {"pool": 1})


def ids(ranked) -> list[str]:
    return [c.id for c in ranked]


class TestRankRootCauses:
    def test_common_dependency_first(self):
        ranked = rank_root_causes(chain(), ["a1", "a2", "a3"], top=3)
        best = ranked[0]
        assert (best.id, best.explained, best.unexplained) == ("db", ("a1", "a2", "a3"), ())
        assert best.blast_radius_size == 3 and best.coverage == 1.0
        assert "explains 3 of 3 symptoms" in best.why

    def test_noise_stays_unexplained(self):
        best = rank_root_causes(chain(), ["a1", "a2", "a3", "a4"], top=1)[0]
        assert (best.id, best.unexplained) == ("db", ("a4",))

    def test_unrelated_same_size_candidates_stay_apart(self):
        # s1, s2 need b (nothing else); c1..c5 each also feed one silent CI: same symptoms,
        # same radius size, unrelated. They used to merge into one class with a log(5) bonus
        # that outranked b; only the same radius *set* makes candidates indistinguishable.
        pairs = ["s1>b", "s2>b"]
        for k in range(1, 6):
            pairs += [f"s1>c{k}", f"s2>c{k}", f"y{k}>c{k}"]
        ranked = rank_root_causes(graph(dep(*pairs)), ["s1", "s2"], top=8)
        assert ranked[0].id == "b"
        assert all(c.equivalents == () for c in ranked)
        assert {f"c{k}" for k in range(1, 6)} <= set(ids(ranked))

    def test_same_set_is_equivalent(self):
        # a and b need each other: either failing takes down both and s
        ranked = rank_root_causes(graph(dep("a>b", "b>a", "s>a")), ["s"], top=3)
        pair = next(c for c in ranked if c.id in ("a", "b"))
        assert (pair.id, pair.equivalents) == ("a", ("b",))
        assert "indistinguishable from b" in pair.why

    def test_equivalents_keep_the_single_score(self):
        alone = rank_root_causes(graph(dep("s>a")), ["s"], top=3)
        cycle = rank_root_causes(graph(dep("a>b", "b>a", "s>a")), ["s"], top=3)
        a_alone = next(c for c in alone if c.id == "a")
        a_cycle = next(c for c in cycle if c.id == "a")
        assert a_cycle.score < a_alone.score  # one more silent CI, and no bonus for a class

    @pytest.mark.parametrize("symptoms", [["app", "svc"], ["svc"]])
    def test_logical_cis_are_never_causes(self, symptoms):
        ranked = rank_root_causes(pool(), symptoms, top=10)
        assert "svc" not in ids(ranked)

    def test_a_pool_member_explains_only_the_pool(self):
        ranked = rank_root_causes(pool(), ["app", "svc"], top=10)
        assert ids(ranked)[0] == "app"
        assert not {"web-1", "web-2"} & set(ids(ranked))

    def test_degraded_pool_points_at_a_member(self):
        alerts = [Alert(id="pool", time=NOW, state="degraded")]
        ranked = rank_root_causes(pool(), [], alerts=alerts, top=5)
        assert set(ids(ranked)[:2]) == {"web-1", "web-2"}
        assert ids(ranked).index("pool") > 1
        state = next(e for e in ranked[-1].evidence if e.kind == "state")
        assert state.value < 0 and "would be down" in state.detail

    @pytest.mark.parametrize(("monitored", "first"), [(False, "sw"), (True, "pc1")])
    def test_only_alerting_cis_are_silent_evidence(self, monitored, first):
        t = graph(dep(*[f"pc{k}>sw" for k in range(1, 14)]))
        mask = ~t.category_mask("enduser") if not monitored else None
        ranked = rank_root_causes(t, ["pc1", "pc2", "pc3"], monitored=mask, top=5)
        assert ids(ranked)[0] == first

    @pytest.mark.parametrize(
        ("order", "first"), [(("p", "s1", "s2", "q"), "p"), (("q", "s1", "s2", "p"), "q")]
    )
    def test_the_failure_alerts_first(self, order, first):
        # s1 and s2 need both p and q: p and q explain as much, the other being noise
        t = graph(dep("s1>p", "s2>p", "s1>q", "s2>q"))
        alerts = [Alert(id=ci, time=NOW + timedelta(minutes=k)) for k, ci in enumerate(order)]
        ranked = rank_root_causes(t, [], alerts=alerts, top=2)
        assert ids(ranked) == [first, "q" if first == "p" else "p"]
        assert "onset order fits 2 of 2 pairs" in ranked[0].why
        assert "onset order fits 0 of 2 pairs" in ranked[1].why

    def test_confidence_is_a_distribution(self):
        ranked = rank_root_causes(chain(), ["a1", "a2", "a3", "a4"], top=5)
        conf = [c.confidence for c in ranked]
        assert all(0 <= x <= 1 for x in conf) and sum(conf) == pytest.approx(1, abs=0.01)
        assert conf == sorted(conf, reverse=True)

    def test_recent_change_names_itself(self):
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
        alerts = [Alert(id="pool", time=NOW, state="degraded")]
        ranked = rank_root_causes(pool(), [], alerts=alerts, records=[change, old], now=NOW)
        assert ranked[0].id == "web-2"
        ev = ranked[0].evidence[0]
        assert (ev.kind, ev.record_id, ev.value, ev.at) == (
            "change",
            "chg-1",
            CHANGE_PRIOR,
            NOW - timedelta(hours=5),
        )
        assert "change chg-1 (implemented" in ranked[0].why

    def test_incident_evidence_within_window(self):
        inc = Incident(id="inc-1", ci_ids=["san"], opened_at=NOW - timedelta(hours=1))
        ranked = rank_root_causes(chain(), ["a1", "a2", "a3"], records=[inc], now=NOW, top=2)
        assert ranked[0].id == "san"
        far = rank_root_causes(
            chain(), ["a1", "a2", "a3"], records=[inc], now=NOW, window_hours=0.5
        )
        assert far[0].id == "db"

    def test_to_json(self):
        data = rank_root_causes(chain(), ["a1", "a2"], top=1)[0].to_json()
        assert set(data) >= {"id", "class", "confidence", "explained", "silent", "why"}
        best = rank_root_causes(chain(), ["a1", "a2"], top=1)[0]
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
            rank_root_causes(chain(), symptoms, top=top)


class TestSmallestCauseSet:
    def test_two_unrelated_incidents(self):
        quiet = [f"o{k}>hub" for k in range(30)]  # an estate around them, all quiet
        t = graph(dep("a1>db1", "a2>db1", "a3>db1", "b1>db2", "b2>db2", "b3>db2", *quiet))
        found = smallest_cause_set(t, ["a1", "a2", "a3", "b1", "b2", "b3"])
        assert found is not None
        assert sorted(found.causes) == ["db1", "db2"] and found.unexplained == ()
        assert 0.5 < found.confidence <= 1 and "2 independent failures" in found.why

    @pytest.mark.parametrize("symptoms", [["a1", "a2", "a3"], ["a1", "a2", "a3", "a4"]])
    def test_one_cause_is_enough(self, symptoms):
        assert smallest_cause_set(chain(), symptoms) is None


def _inject(t: Topology, rng: np.random.Generator) -> tuple[str, list[Alert]]:
    """The benchmark's injection (bench/bench_root_cause.py), kept small: 60% of a failure's
    alerting radius (the failed CI included) alert, delayed along their paths, plus 20% noise."""
    pool_ = np.flatnonzero(~t.is_group & ~t.category_mask("service", "customer", "agreement"))
    while True:
        failed = t.ids[int(rng.choice(pool_))]
        listed = [a for a in blast_radius(t, [failed]).affected() if a.state.value != "at_risk"]
        if len(listed) >= 4:
            break
    alerts = [Alert(id=failed, time=NOW)] if rng.random() < 0.6 else []
    for a in listed:
        if rng.random() < 0.6:
            delay = timedelta(seconds=60 * (len(a.path) - 1) + rng.exponential(30))
            alerts.append(Alert(id=a.id, time=NOW + delay, state=a.state.value))
    alerts = alerts or [Alert(id=listed[0].id, time=NOW, state=listed[0].state.value)]
    inside = {a.id for a in listed} | {failed}
    want = len(alerts) + round(0.2 * len(alerts))
    while len(alerts) < want:
        other = t.ids[int(rng.integers(t.n))]
        if other not in inside and other not in {a.ci_id for a in alerts}:
            at = NOW + timedelta(seconds=float(rng.uniform(-60, 300)))
            alerts.append(Alert(id=other, time=at))
    return failed, alerts


class TestQuality:
    def test_time_aware_top3_on_a_generated_estate(self):
        t = generate_topology(3_000, seed=11)
        rng = np.random.default_rng(11)
        top1 = top3 = 0
        for _ in range(30):
            failed, alerts = _inject(t, rng)
            ranked = rank_root_causes(t, [], alerts=alerts, now=NOW, top=3)
            top3 += any(failed == c.id or failed in c.equivalents for c in ranked)
            top1 += failed == ranked[0].id or failed in ranked[0].equivalents
        assert top3 / 30 >= 0.85 and top1 / 30 >= 0.6  # measured 1.0 and 0.73

    def test_top1_on_microservice_topologies(self):
        # the benchmark's own cases at 60% alerting and 20% noise, 30 per topology: the plain
        # binomial likelihood baseline reaches 52% here, the ranker with times 70%, without 59%
        reg = load_registry()
        with_times = ids_only = 0
        for make in TOPOLOGIES.values():
            t = make()
            mon = monitored_mask(t, reg)
            rng = np.random.default_rng(1)
            for _ in range(30):
                failed, alerts = inject(t, mon, rng, rate=0.6, noise=0.2)
                ids_ = list(dict.fromkeys(a.ci_id for a in alerts))
                timed = rank_root_causes(t, [], alerts=alerts, monitored=mon, now=NOW, top=1)
                plain = rank_root_causes(t, ids_, monitored=mon, now=NOW, top=1)
                with_times += failed in (timed[0].id, *timed[0].equivalents)
                ids_only += failed in (plain[0].id, *plain[0].equivalents)
        assert with_times / 90 >= 0.62 and ids_only / 90 >= 0.55


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
        # the symptom that explains the others and started first is the most specific answer
        assert ids(report.candidates)[0] == "app-pay"
        assert not {"svc-pay", "cust-a"} & set(ids(report.candidates))
        assert report.to_json()["incidents"] == ["inc-1", "inc-2"]

    def test_recent_records_are_evidence(self, estate):
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
        records = {e.record_id for e in report.candidates[0].evidence if e.record_id}
        assert records == {"inc-9", "chg-9"}

    @pytest.mark.parametrize(("monitored", "silent"), [(True, ("svc-pay",)), (False, ())])
    def test_monitored_attribute_overrides_the_class(self, estate, monitored, silent):
        svc = estate.get_ci("svc-pay")
        attrs = {**svc.attributes, "monitored": monitored}
        estate.apply(Batch(cis=[svc.model_copy(update={"attributes": attrs})]), actor="t")
        report = root_cause_report(estate, ci_ids=["db-pay", "app-pay"], now=NOW, top=5)
        db = next(c for c in report.candidates if c.id == "db-pay")
        assert db.silent == silent

    def test_two_unrelated_incidents_offer_a_cause_set(self, estate):
        report = root_cause_report(
            estate, ci_ids=["app-pay", "svc-pay", "app-mail", "svc-mail"], now=NOW
        )
        assert report.cause_set is not None
        assert sorted(report.cause_set.causes) == ["app-mail", "app-pay"]

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
