"""Releases: recording one (checks and errors) and assessing it as a whole, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cmdb.errors import ConfigError, NotFoundError, ValidationError
from cmdb.model import CI, Batch, Change, Incident, Relationship
from cmdb.workflows.releases import assess_release, create_release, load_release_policy
from impact.releases import ReleasePolicy


def at(hour: int) -> datetime:
    return datetime(2026, 1, 10, hour, tzinfo=UTC)


def pair_estate() -> Batch:
    """svc (critical, with an SLA) runs on a 1-of-2 pair of switches sw-a, sw-b; a mail service
    runs on sw-c alone; a desktop is used by nobody."""
    cis = [
        CI(id="svc", ci_class="business_service", name="Payments", criticality="critical"),
        CI(id="sla", ci_class="sla", name="Gold", attributes={"availability_target": 0.999}),
        CI(id="app", ci_class="application", name="App"),
        CI(id="pair", ci_class="cluster", name="Pair", min_required=1),
        CI(id="sw-a", ci_class="switch", name="A"),
        CI(id="sw-b", ci_class="switch", name="B"),
        CI(id="sw-c", ci_class="switch", name="C"),
        CI(id="mail", ci_class="business_service", name="Mail", criticality="low"),
        CI(id="pc-1", ci_class="desktop", name="PC"),
    ]
    rels = [
        ("app", "provides", "svc"),
        ("svc", "covered_by", "sla"),
        ("app", "depends_on", "pair"),
        ("sw-a", "member_of", "pair"),
        ("sw-b", "member_of", "pair"),
        ("mail", "depends_on", "sw-c"),
    ]
    changes = [
        Change(
            id="CHG-1", ci_ids=["sw-a"], status="approved", window_start=at(1), window_end=at(3)
        ),
        Change(id="CHG-2", ci_ids=["sw-b"], window_start=at(2), window_end=at(4)),
        Change(id="CHG-3", ci_ids=["pc-1"], type="standard", window_start=at(1), window_end=at(2)),
        Change(id="CHG-4", ci_ids=["sw-c"], window_start=at(1), window_end=at(2)),
        Change(id="CHG-9", ci_ids=["pc-1"], status="implemented"),
    ]
    return Batch(
        cis=cis,
        relationships=[Relationship(source=s, type=t, target=d) for s, t, d in rels],
        records=changes,
    )


@pytest.fixture
def pair(store):
    store.apply(pair_estate(), actor="test")
    return store


class TestCreateRelease:
    def test_allocates_an_id_and_derives_the_window(self, pair):
        rel = create_release(pair, change_ids=["CHG-1", "CHG-2"], actor="t")
        assert rel.id == "REL-000001" and rel.title == "Release of CHG-1, CHG-2"
        assert (rel.window_start, rel.window_end) == (at(1), at(4))
        assert rel.ci_ids == ["sw-a", "sw-b"] and rel.type.value == "normal"

    def test_a_given_window_and_type(self, pair):
        rel = create_release(
            pair,
            change_ids=["CHG-3"],
            release_type="emergency",
            window_start=at(5),
            window_end=at(6),
            title="urgent",
            actor="t",
        )
        assert (rel.type.value, rel.window_start, rel.title) == ("emergency", at(5), "urgent")

    @pytest.mark.parametrize(
        ("kwargs", "error", "match"),
        [
            ({"change_ids": []}, ValidationError, "at least one change"),
            ({"change_ids": ["CHG-404"]}, NotFoundError, "CHG-404"),
            ({"change_ids": ["INC-1"]}, ValidationError, "is a incident, not a change"),
            ({"change_ids": ["CHG-9"]}, ValidationError, "is implemented"),
            ({"change_ids": ["CHG-3"], "release_type": "urgent"}, ValidationError, "normal or"),
            ({"change_ids": ["CHG-3"], "window_start": at(1)}, ValidationError, "both ends"),
            (
                {"change_ids": ["CHG-3"], "window_start": at(3), "window_end": at(2)},
                ValidationError,
                "after window_start",
            ),
            (
                {
                    "change_ids": ["CHG-3"],
                    "window_start": datetime(2026, 1, 1),
                    "window_end": datetime(2026, 1, 2),
                },
                ValidationError,
                "timezone",
            ),
        ],
    )
    def test_errors(self, pair, kwargs, error, match):
        pair.apply(Batch(records=[Incident(id="INC-1", ci_ids=["pc-1"])]), actor="t")
        with pytest.raises(error, match=match):
            create_release(pair, actor="t", **kwargs)

    def test_a_change_is_in_one_open_release(self, pair):
        create_release(pair, change_ids=["CHG-1"], actor="t")
        with pytest.raises(ValidationError, match="already in the open release REL-000001"):
            create_release(pair, change_ids=["CHG-2", "CHG-1"], actor="t")


class TestAssessRelease:
    def test_k_of_n_is_counted_once_over_all_changes(self, pair):
        rel = create_release(pair, change_ids=["CHG-1", "CHG-2"], actor="t")
        a = assess_release(pair, rel.id, now=at(0))
        assert a.impact is not None and a.impact.state("svc").value == "down"
        assert a.together[0] == "pair" and set(a.together_services) == {"svc"}
        assert a.together_groups == ("pair",)
        for share in a.shares:
            assert share.services_down == () and share.down == 1
        assert [s.change_id for s in a.shares] == ["CHG-1", "CHG-2"]
        assert a.level == "critical" and a.decision == "approval" and a.approver == "CAB"
        assert "together its changes take pair" in a.headline
        # its own changes never collide with it
        assert {c.change_id for c in a.collisions} <= {"CHG-3", "CHG-4"}
        assert "CHG-1" not in {c.change_id for c in a.collisions}

    def test_collisions_with_other_changes_and_releases(self, pair):
        mine = create_release(pair, change_ids=["CHG-1"], actor="t")
        create_release(pair, change_ids=["CHG-2"], actor="t")
        a = assess_release(pair, mine.id, now=at(0))
        assert [c.change_id for c in a.release_collisions] == ["REL-000002"]
        assert a.release_collisions[0].down_together[:1] == ("app",)
        assert "CHG-2" in [c.change_id for c in a.collisions]
        assert any("overlaps releases REL-000002" in r for r in a.decision_reasons)

    def test_a_small_normal_release_needs_no_approval(self, pair):
        rel = create_release(pair, change_ids=["CHG-3"], actor="t")
        a = assess_release(pair, rel.id, now=at(0))
        assert (a.decision, a.emergency, a.emergency_notes) == ("no_approval", False, ())
        assert [(p.rule, p.passed) for p in a.policy] == [
            ("critical_outage", True),
            ("changes_approved", False),
        ]

    def test_emergency_on_an_sla_at_risk_is_refused(self, pair):
        pair.apply(Batch(records=[Incident(id="INC-1", ci_ids=["sw-b"])]), actor="t")
        rel = create_release(pair, change_ids=["CHG-1"], release_type="emergency", actor="t")
        a = assess_release(pair, rel.id, now=at(0))
        assert a.emergency and a.decision == "refused"
        assert a.headline.startswith("REFUSED by rule no_emergency_on_sla_at_risk")
        broken = [p for p in a.policy if not p.passed]
        assert broken[0].detail == "touches svc (SLA sla; open INC-1)"
        assert any("change_type factor counts 1" in n for n in a.emergency_notes)

    def test_an_emergency_needs_the_ecab_and_a_small_scope(self, pair, tmp_path):
        rel = create_release(pair, change_ids=["CHG-3"], release_type="emergency", actor="t")
        a = assess_release(pair, rel.id, now=at(0))
        assert a.decision == "approval" and a.approver == "emergency CAB (ECAB)"
        assert a.decision_reasons[0] == "emergency release: the emergency CAB (ECAB) decides"
        strict = tmp_path / "strict.yaml"
        strict.write_text(
            "rules:\n  tiny:\n    check: max_changes\n    applies_to: [emergency]\n"
            "    effect: block\n    limit: 1\n    why: one change\n"
        )
        two = create_release(
            pair, change_ids=["CHG-4", "CHG-2"], release_type="emergency", actor="t"
        )
        refused = assess_release(pair, two.id, policy=strict, now=at(0))
        assert refused.decision == "refused" and refused.policy_source == str(strict)
        assert [p.detail for p in refused.policy] == ["2 changes (at most 1)"]

    def test_not_a_release(self, pair):
        with pytest.raises(ValidationError, match="is a change, not a release"):
            assess_release(pair, "CHG-1")
        with pytest.raises(NotFoundError):
            assess_release(pair, "REL-404")


class TestReleasePolicy:
    def test_packaged_policy_loads(self):
        p = load_release_policy()
        assert p.source == "release_policy.yaml" and p.approval["emergency"]
        assert {r.check for r in p.rules} >= {"sla_at_risk", "max_changes"}

    @pytest.mark.parametrize(
        ("rule", "match"),
        [
            ({"check": "nope", "effect": "block", "applies_to": ["normal"]}, "unknown check"),
            ({"check": "max_level", "effect": "stop", "applies_to": ["normal"]}, "unknown effect"),
            ({"check": "max_level", "effect": "warn", "applies_to": ["x"]}, "applies_to"),
            ({"check": "max_level", "effect": "warn", "applies_to": ["normal"]}, "why"),
            (
                {"check": "max_changes", "effect": "warn", "applies_to": ["normal"], "why": "w"},
                "limit",
            ),
            (
                {"check": "max_level", "effect": "warn", "applies_to": ["normal"], "why": "w"},
                "level must be",
            ),
        ],
    )
    def test_invalid_rules_name_the_source(self, rule, match):
        data = {"approval": {"normal": "CAB", "emergency": "ECAB"}, "rules": {"r": rule}}
        with pytest.raises(ConfigError, match=f"release policy here: invalid.*{match}"):
            ReleasePolicy.from_mapping(data, source="here")

    def test_missing_approval_and_bad_files(self, tmp_path):
        with pytest.raises(ConfigError, match=r"approval\.emergency is missing"):
            ReleasePolicy.from_mapping({"approval": {"normal": "CAB"}}, source="x")
        bad = tmp_path / "bad.yaml"
        bad.write_text("- a list\n")
        with pytest.raises(ConfigError, match="expected a mapping"):
            load_release_policy(bad)
        with pytest.raises(ConfigError, match="cannot read release policy"):
            load_release_policy(tmp_path / "missing.yaml")
