"""The audit rules: each one fires on bad data and stays silent on clean data; scores; every
deliberate defect of the demo CMDB is found by the rule named here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest

from cmdb.audit_config import load_audit_config
from cmdb.demo import DEFECTS, build_demo
from cmdb.enums import ChangeStatus
from cmdb.errors import ConfigError
from cmdb.model import CI, Batch, Change, Relationship
from cmdb.registry import load_registry
from cmdb.settings import Settings
from cmdb.store import open_store
from impact.audit import RULES, run_audit

NOW = datetime.now(UTC)
CONFIG = load_audit_config()


def ci(ci_id, cls, **kw):
    kw.setdefault("owner", "olga")
    kw.setdefault("support_group", "sg")
    kw.setdefault("identifiers", {"hostnames": [ci_id]})
    return CI(id=ci_id, ci_class=cls, name=kw.pop("name", f"{cls} {ci_id}"), **kw)


def rel(s, type_, t):
    return Relationship(source=s, type=type_, target=t)


def clean_batch() -> Batch:
    """A small estate on which no rule finds anything."""
    party = {"owner": None, "support_group": None}
    cis = [
        ci("loc", "location", attributes={"address": "1 Main St"}, **party),
        ci("sg", "support_group", attributes={"email": "a@b", "on_call": "x"}, **party),
        ci("cust", "customer", attributes={"segment": "retail", "contact": "c"}, **party),
        ci("svc", "business_service", attributes={"service_hours": "24x7"}),
        ci(
            "sla",
            "sla",
            attributes={
                "availability_target": 0.999,
                "response_minutes": 15,
                "resolution_hours": 4.0,
            },
        ),
        ci("app", "application", attributes={"version": "1", "vendor": "acme"}),
        ci("vm", "virtual_machine", attributes={"os": "linux"}, last_seen={"agent": NOW}),
        ci("hv", "hypervisor", attributes={"product": "kvm"}),
    ]
    rels = [
        rel("cust", "consumes", "svc"),
        rel("svc", "covered_by", "sla"),
        rel("app", "provides", "svc"),
        rel("app", "runs_on", "vm"),
        rel("vm", "hosted_on", "hv"),
        rel("hv", "located_in", "loc"),
        rel("app", "supported_by", "sg"),
    ]
    return Batch(cis=cis, relationships=rels)


def _open(path, registry=None):
    return open_store(Settings(db=path), registry=registry or load_registry(), create=True)


@pytest.fixture
def clean(tmp_path):
    store = _open(tmp_path / "a.db")
    store.apply(clean_batch(), actor="test")
    yield store
    store.close()


def hits(store, rule, **kw):
    result = run_audit(store, CONFIG, rules=[rule], **kw)
    return {f.relationship or f.ci for f in result.findings}


def _registry(tmp_path, text):
    path = tmp_path / "reg.yaml"
    path.write_text(text)
    return load_registry(path)


class TestCleanData:
    @pytest.mark.parametrize("rule", sorted(RULES))
    def test_every_rule_is_silent(self, clean, rule):
        assert hits(clean, rule) == set()

    def test_scores_are_100(self, clean):
        result = run_audit(clean, CONFIG)
        assert result.scores.overall == 100.0
        assert set(result.scores.dimensions.values()) == {100.0}
        assert result.checked == 8


# each case: the rule, a batch that spoils the clean estate, what the rule must name
SPOILERS = [
    (
        "recommended_attributes",
        Batch(cis=[ci("app", "application", attributes={"vendor": "acme"})]),
        {"app"},
    ),
    ("required_relationships", Batch(retire_relationships=[("app", "runs_on", "vm")]), {"app"}),
    ("orphan", Batch(cis=[ci("pc", "desktop", attributes={"os": "w", "user": "u"})]), {"pc"}),
    (
        "duplicate_identifier",
        Batch(cis=[ci("vm2", "virtual_machine", identifiers={"hostnames": ["VM"]})]),
        {"vm", "vm2"},
    ),
    (
        "duplicate_name",
        Batch(cis=[ci("vm2", "virtual_machine", name="Virtual_machine VM (old)")]),
        {"vm", "vm2"},
    ),
    (
        "stale",
        Batch(
            cis=[
                ci(
                    "vm9",
                    "virtual_machine",
                    attributes={"os": "linux"},
                    last_seen={"agent": NOW - timedelta(days=45)},
                ),
                ci("hv", "hypervisor", attributes={"product": "kvm"}, stale_since={"vcenter": NOW}),
            ]
        ),
        {"vm9", "hv"},
    ),
    (
        "dependency_cycle",
        Batch(
            cis=[ci("app2", "application", attributes={"version": "1", "vendor": "acme"})],
            relationships=[rel("app", "depends_on", "app2"), rel("app2", "depends_on", "app")],
        ),
        {"app", "app2"},
    ),
    ("missing_owner", Batch(cis=[ci("vm", "virtual_machine", owner=None)]), {"vm"}),
    (
        "missing_support_group",
        Batch(cis=[ci("hv", "hypervisor", support_group=None)]),
        {"hv"},
    ),
    ("service_without_sla", Batch(retire_relationships=[("svc", "covered_by", "sla")]), {"svc"}),
    (
        "critical_service_spof",
        Batch(
            cis=[
                ci(
                    "svc",
                    "business_service",
                    criticality="critical",
                    attributes={"service_hours": "24x7"},
                )
            ]
        ),
        {"svc"},
    ),
    (
        "impact_orphan",
        Batch(
            cis=[ci("sw", "switch", attributes={"vendor": "v", "model": "m"})],
            relationships=[rel("sw", "located_in", "loc")],
        ),
        {"sw"},
    ),
    (
        "unauthorized_change",
        Batch(
            cis=[ci("vm", "virtual_machine", attributes={"os": "bsd"}, last_seen={"agent": NOW})]
        ),
        {"vm"},
    ),
]


class TestRulesFire:
    @pytest.mark.parametrize(("rule", "batch", "expected"), SPOILERS, ids=[s[0] for s in SPOILERS])
    def test_fires_on_bad_data(self, clean, rule, batch, expected):
        clean.apply(batch, actor="test")
        assert hits(clean, rule) == expected

    def test_every_rule_has_a_spoiler_or_a_registry_case(self):
        covered = {s[0] for s in SPOILERS} | {
            "required_attributes",
            "relationship_rule",
            "sla_without_target",
        }
        assert covered == set(RULES)

    def test_required_attributes_after_the_registry_changed(self, tmp_path):
        store = _open(tmp_path / "a.db")
        store.apply(clean_batch(), actor="test")
        store.close()
        strict = _registry(
            tmp_path,
            "classes:\n  application:\n    category: software\n    attributes:\n"
            "      tier: {type: str, required: true}\n",
        )
        with _open(tmp_path / "a.db", strict) as store:
            result = run_audit(store, CONFIG, rules=["required_attributes"])
        assert [(f.ci, f.why) for f in result.findings] == [
            ("app", "field 'attributes.tier': required for class 'application'")
        ]

    def test_relationship_rule_after_the_registry_changed(self, tmp_path):
        store = _open(tmp_path / "a.db")
        store.apply(clean_batch(), actor="test")
        store.close()
        strict = _registry(
            tmp_path,
            "relationships:\n  runs_on:\n    propagation: to_source\n"
            "    allowed: [[software, storage]]\n",
        )
        with _open(tmp_path / "a.db", strict) as store:
            assert hits(store, "relationship_rule") == {"app|runs_on|vm"}

    def test_sla_without_target(self, tmp_path):
        lax = _registry(
            tmp_path,
            "classes:\n  sla:\n    category: agreement\n    attributes:\n"
            "      availability_target: {type: float}\n",
        )
        with _open(tmp_path / "a.db", lax) as store:
            batch = clean_batch()
            batch.cis[4] = ci("sla", "sla", attributes={})
            store.apply(batch, actor="test")
            assert hits(store, "sla_without_target") == {"sla"}


class TestRuleDetails:
    def test_a_cycle_through_a_redundancy_group_is_not_reported(self, clean):
        clean.apply(
            Batch(
                cis=[
                    ci("app2", "application", attributes={"version": "1", "vendor": "a"}),
                    ci("pool", "cluster", min_required=1),
                ],
                relationships=[
                    rel("app", "depends_on", "pool"),
                    rel("app2", "member_of", "pool"),
                    rel("app2", "depends_on", "app"),
                ],
            ),
            actor="test",
        )
        assert hits(clean, "dependency_cycle") == set()

    def test_a_member_of_a_redundant_group_is_no_impact_orphan(self, clean):
        clean.apply(
            Batch(
                cis=[
                    ci("pc", "desktop", attributes={"os": "w", "user": "u"}),
                    ci("desks", "cluster", min_required=1),
                ],
                relationships=[
                    rel("pc", "member_of", "desks"),
                    rel("cust", "depends_on", "desks"),
                    rel("pc", "located_in", "loc"),
                ],
            ),
            actor="test",
        )
        assert hits(clean, "impact_orphan") == set()

    def test_owners_are_not_asked_of_parties_and_places(self, clean):
        assert {
            c.id
            for c in clean.find_cis(__import__("cmdb.filters").filters.CIFilter())
            if c.owner is None
        } == {"loc", "sg", "cust"}
        assert hits(clean, "missing_owner") == set()

    def test_class_filter(self, clean):
        clean.apply(
            Batch(
                cis=[ci("vm", "virtual_machine", owner=None), ci("hv", "hypervisor", owner=None)]
            ),
            actor="t",
        )
        assert hits(clean, "missing_owner", classes=["hypervisor"]) == {"hv"}
        result = run_audit(clean, CONFIG, classes=["hypervisor"])
        assert result.checked == 1 and list(result.scores.classes) == ["hypervisor"]

    def test_unknown_rule(self, clean):
        with pytest.raises(ConfigError, match="unknown audit rule 'nope'"):
            run_audit(clean, CONFIG, rules=["nope"])

    def test_skip_rule(self, clean):
        result = run_audit(clean, CONFIG, skip=["stale"])
        assert "stale" not in result.rules and "orphan" in result.rules


class TestUnauthorizedChanges:
    def _change(self, start, end, cis, status=ChangeStatus.APPROVED):
        return Change(
            id=None, title="patch", ci_ids=cis, status=status, window_start=start, window_end=end
        )

    def _update_vm(self, store, os_):
        store.apply(
            Batch(
                cis=[ci("vm", "virtual_machine", attributes={"os": os_}, last_seen={"agent": NOW})]
            ),
            actor="ops",
            change_id="CHG-000001",
        )

    def test_outside_the_window_is_found(self, clean):
        start = datetime.now(UTC) + timedelta(hours=1)
        clean.apply(
            Batch(records=[self._change(start, start + timedelta(hours=2), ["vm"])]), actor="cab"
        )
        self._update_vm(clean, "bsd")
        result = run_audit(clean, CONFIG, rules=["unauthorized_change"])
        [finding] = result.findings
        assert finding.ci == "vm" and "attributes.os" in finding.why
        assert "naming CHG-000001" in finding.why

    def test_inside_the_window_is_accepted(self, clean):
        start = datetime.now(UTC) - timedelta(minutes=5)
        clean.apply(
            Batch(records=[self._change(start, start + timedelta(hours=2), ["vm"])]), actor="cab"
        )
        self._update_vm(clean, "bsd")
        assert hits(clean, "unauthorized_change") == set()

    def test_inside_the_window_but_out_of_scope_is_found(self, clean):
        start = datetime.now(UTC) - timedelta(minutes=5)
        clean.apply(
            Batch(records=[self._change(start, start + timedelta(hours=2), ["hv"])]), actor="cab"
        )
        self._update_vm(clean, "bsd")
        assert hits(clean, "unauthorized_change") == {"vm"}

    def test_a_requested_change_does_not_authorize(self, clean):
        start = datetime.now(UTC) - timedelta(minutes=5)
        change = self._change(start, start + timedelta(hours=2), ["vm"], ChangeStatus.REQUESTED)
        clean.apply(Batch(records=[change]), actor="cab")
        self._update_vm(clean, "bsd")
        assert hits(clean, "unauthorized_change") == {"vm"}

    def test_a_relationship_change_is_covered_by_either_end(self, clean):
        start = datetime.now(UTC) - timedelta(minutes=5)
        clean.apply(
            Batch(records=[self._change(start, start + timedelta(hours=2), ["vm"])]), actor="cab"
        )
        clean.apply(Batch(retire_relationships=[("app", "runs_on", "vm")]), actor="ops")
        assert hits(clean, "unauthorized_change") == set()
        clean.apply(Batch(retire_relationships=[("hv", "located_in", "loc")]), actor="ops")
        assert hits(clean, "unauthorized_change") == {"hv|located_in|loc"}

    def test_discovery_noise_is_not_a_change(self, clean):
        clean.apply(
            Batch(
                cis=[
                    ci(
                        "vm",
                        "virtual_machine",
                        attributes={"os": "linux"},
                        last_seen={"agent": NOW + timedelta(minutes=1)},
                    )
                ]
            ),
            actor="discovery:agent",
        )
        assert hits(clean, "unauthorized_change") == set()

    def test_history_before_since_is_not_read(self, clean):
        self._update_vm(clean, "bsd")
        later = datetime.now(UTC) + timedelta(seconds=1)
        assert hits(clean, "unauthorized_change", since=later) == set()


class TestScores:
    def test_weighted_by_rule_and_dimension(self, clean):
        clean.apply(Batch(cis=[ci("vm", "virtual_machine", owner=None)]), actor="t")
        result = run_audit(clean, CONFIG, rules=["missing_owner", "missing_support_group"])
        # compliance: 1 of 8 CIs fails a rule of weight 2, of 2 rules of weight 2 each
        assert result.scores.dimensions["compliance"] == pytest.approx(100 * (1 - 2 / 32))
        assert result.scores.classes["virtual_machine"].dimensions["compliance"] == 50.0
        assert result.scores.overall == pytest.approx((100 + 100 + 93.75) / 3, abs=0.01)


@pytest.fixture(scope="module")
def demo_audit(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    with _open(path) as store:
        store.apply(build_demo(now=NOW), actor="demo")
        yield run_audit(store, CONFIG)


class TestDemoDefects:
    """Every deliberate defect of the demo CMDB, and the rule that finds it."""

    RULE_OF: ClassVar[dict[str, str]] = {
        "missing_owner": "missing_owner",
        "orphan": "orphan",
        "stale": "stale",
        "duplicate": "duplicate_identifier",
        "missing_recommended": "recommended_attributes",
    }

    def test_every_kind_of_defect_has_a_rule(self):
        assert set(DEFECTS) <= set(self.RULE_OF)

    @pytest.mark.parametrize("defect", sorted(DEFECTS))
    def test_defect_is_found_by_its_rule(self, demo_audit, defect):
        found = {f.ci for f in demo_audit.findings if f.rule == self.RULE_OF[defect]}
        assert set(DEFECTS[defect]) <= found

    def test_the_hidden_spof_is_found(self, demo_audit):
        from cmdb.demo import HIDDEN_SPOF

        spof = [f for f in demo_audit.findings if f.rule == "critical_service_spof"]
        assert any(HIDDEN_SPOF in f.why.split(": ")[-1].split(", ") for f in spof)

    def test_demo_scores_are_high_but_not_perfect(self, demo_audit):
        assert 80 < demo_audit.scores.overall < 100
