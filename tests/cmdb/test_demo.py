from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cmdb.demo import COLLIDING_CHANGES, DEFECTS, HIDDEN_SPOF, STALE_DAYS, build_demo
from cmdb.filters import CIFilter, RecordFilter, RelFilter
from cmdb.model import CI, Batch, Change, Problem
from cmdb.registry import load_registry
from cmdb.settings import Settings
from cmdb.store import open_store
from cmdb.validation import validate_batch

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
PARTIES = {"customer", "supplier", "support_group", "location"}


@pytest.fixture(scope="module")
def batch() -> Batch:
    return build_demo(now=NOW)


@pytest.fixture(scope="module")
def cis(batch: Batch) -> dict[str, CI]:
    return {ci.id: ci for ci in batch.cis}


@pytest.fixture(scope="module")
def out_edges(batch: Batch) -> dict[str, set[tuple[str, str]]]:
    out: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for rel in batch.relationships:
        out[rel.source].add((rel.type, rel.target))
    return out


def _members(batch: Batch) -> dict[str, list[str]]:
    members: dict[str, list[str]] = defaultdict(list)
    for rel in batch.relationships:
        if rel.type == "member_of":
            members[rel.target].append(rel.source)
    return members


class TestBuildDemo:
    def test_is_deterministic_for_a_fixed_now(self, batch: Batch) -> None:
        assert build_demo(now=NOW).model_dump() == batch.model_dump()

    def test_moves_with_now(self, batch: Batch) -> None:
        later = build_demo(now=NOW + timedelta(days=1))
        assert [c.id for c in later.cis] == [c.id for c in batch.cis]
        assert later.cis[0].content() == batch.cis[0].content()
        assert later.records[-1] != batch.records[-1]

    def test_size(self, batch: Batch) -> None:
        assert 300 <= len(batch.cis) <= 500
        assert len(batch.relationships) > len(batch.cis)

    def test_passes_the_registry(self, batch: Batch) -> None:
        validate_batch(batch, load_registry(), lookup=lambda ids: {})

    def test_every_business_service_has_an_sla_and_a_customer(
        self, batch: Batch, cis: dict[str, CI], out_edges: dict[str, set[tuple[str, str]]]
    ) -> None:
        consumed = {r.target for r in batch.relationships if r.type == "consumes"}
        services = [c for c in batch.cis if c.ci_class == "business_service"]
        assert len(services) == 5
        for svc in services:
            slas = [t for (ty, t) in out_edges[svc.id] if ty == "covered_by"]
            assert len(slas) == 1 and cis[slas[0]].ci_class == "sla"
            assert 0.9 < cis[slas[0]].attributes["availability_target"] < 1
            assert svc.id in consumed
            assert any(r.type == "provides" and r.target == svc.id for r in batch.relationships)

    def test_every_technical_ci_is_supported_by_its_group(
        self, cis: dict[str, CI], out_edges: dict[str, set[tuple[str, str]]]
    ) -> None:
        for ci in cis.values():
            if ci.ci_class in PARTIES:
                continue
            assert ci.support_group in {"sg-desktop", "sg-server", "sg-network",
                                        "sg-database", "sg-application"}, ci.id  # fmt: skip
            if ci.id not in DEFECTS["orphan"]:
                groups = [t for (ty, t) in out_edges[ci.id] if ty == "supported_by"]
                assert groups == [ci.support_group], ci.id

    def test_redundancy_groups_have_spare_members(self, batch: Batch) -> None:
        registry = load_registry()
        members = _members(batch)
        groups = [c for c in batch.cis if registry.is_group(c.ci_class)]
        assert len(groups) >= 20
        for grp in groups:
            assert grp.min_required is not None, grp.id
            assert len(members[grp.id]) >= grp.min_required + 1, grp.id
        assert sorted(members["cl-core-sw"]) == ["sw-core-01", "sw-core-02"]
        atm = next(g for g in groups if g.id == "pool-atm-fep")
        assert (atm.min_required, len(members[atm.id])) == (2, 3)

    def test_rac_nodes_are_minicomputers_behind_the_hidden_spof(
        self, batch: Batch, cis: dict[str, CI], out_edges: dict[str, set[tuple[str, str]]]
    ) -> None:
        nodes = _members(batch)["cl-core-rac"]
        hosts = [t for n in nodes for (ty, t) in out_edges[n] if ty == "runs_on"]
        assert hosts == ["pm-core-db-01", "pm-core-db-02"]
        for host in hosts:
            assert cis[host].attributes["form"] == "minicomputer"
            assert ("connected_to", HIDDEN_SPOF) in out_edges[host]
        assert not any(t for (ty, t) in out_edges[HIDDEN_SPOF] if ty == "member_of")

    def test_records_reference_existing_cis(self, batch: Batch, cis: dict[str, CI]) -> None:
        record_ids = {r.id for r in batch.records}
        for rec in batch.records:
            assert rec.ci_ids and set(rec.ci_ids) <= cis.keys(), rec.id
            if isinstance(rec, Problem):
                assert set(rec.incident_ids) <= record_ids
                for root in (rec.suspected_root, rec.confirmed_root):
                    assert root is None or root in cis

    def test_has_open_incidents_and_every_change_type(self, batch: Batch) -> None:
        open_on = {c for r in batch.records if getattr(r, "is_open", False) for c in r.ci_ids}
        assert {"pm-core-db-01", "prn-br03-01", "vm-exch-01"} <= open_on
        changes = [r for r in batch.records if isinstance(r, Change)]
        assert {c.type.value for c in changes} == {"normal", "standard", "emergency"}
        assert {"implemented", "failed"} <= {c.status.value for c in changes}
        future = [c for c in changes if c.status.value in ("approved", "requested")]
        assert future and all(c.window_start and c.window_start > NOW for c in future)

    def test_colliding_changes_take_down_both_core_switches(self, batch: Batch) -> None:
        first, second = (r for r in batch.records if r.id in COLLIDING_CHANGES)
        assert isinstance(first, Change) and isinstance(second, Change)
        assert first.window_start and first.window_end and second.window_start
        assert second.window_end
        assert first.window_start < second.window_end and second.window_start < first.window_end
        members = set(_members(batch)["cl-core-sw"])
        assert set(first.ci_ids) | set(second.ci_ids) == members
        assert not set(first.ci_ids) & set(second.ci_ids)


class TestDefects:
    def test_kinds(self) -> None:
        assert set(DEFECTS) == {"missing_owner", "orphan", "stale", "duplicate",
                                "missing_recommended"}  # fmt: skip
        assert all(DEFECTS.values())

    def test_missing_owner(self, cis: dict[str, CI]) -> None:
        assert {c.id for c in cis.values() if not c.owner} == set(DEFECTS["missing_owner"])

    def test_orphans_have_no_relationships(self, batch: Batch, cis: dict[str, CI]) -> None:
        linked = {r.source for r in batch.relationships} | {r.target for r in batch.relationships}
        assert set(cis) - linked == set(DEFECTS["orphan"])

    def test_stale(self, cis: dict[str, CI]) -> None:
        cutoff = NOW - timedelta(days=30)
        stale = {c.id for c in cis.values() if c.last_seen and max(c.last_seen.values()) < cutoff}
        assert stale == set(DEFECTS["stale"])
        for ci_id in stale:
            assert NOW - max(cis[ci_id].last_seen.values()) >= timedelta(days=STALE_DAYS)

    def test_duplicates_share_an_identifier(self, cis: dict[str, CI]) -> None:
        ids = DEFECTS["duplicate"]
        assert len(ids) % 2 == 0
        for a, b in zip(ids[::2], ids[1::2], strict=True):
            one, two = cis[a].identifiers, cis[b].identifiers
            assert cis[a].ci_class == cis[b].ci_class
            assert (one.serial_number and one.serial_number == two.serial_number) or (
                set(one.hostnames) & set(two.hostnames)
            )

    @pytest.mark.parametrize("key", ["serial_number", "hostnames", "ips", "macs"])
    def test_no_other_shared_identifiers(self, cis: dict[str, CI], key: str) -> None:
        def values(ci: CI) -> list[str]:
            value = getattr(ci.identifiers, key)
            return value if isinstance(value, list) else [value] if value else []

        counts = Counter(v for ci in cis.values() for v in values(ci))
        sharing = {c.id for c in cis.values() if any(counts[v] > 1 for v in values(c))}
        assert sharing <= set(DEFECTS["duplicate"])

    def test_missing_recommended(self, cis: dict[str, CI]) -> None:
        registry = load_registry()
        lacking = {
            c.id for c in cis.values() if registry.missing_recommended(c.ci_class, c.attributes)
        }
        assert lacking == set(DEFECTS["missing_recommended"])


class TestDemoInStore:
    def test_applies_and_round_trips(
        self, batch: Batch, cis: dict[str, CI], tmp_path: Path
    ) -> None:
        with open_store(Settings(db=tmp_path / "d.db"), create=True) as store:
            result = store.apply(batch, actor="demo")
            assert result.created == len(batch)
            assert len(store.find_cis(CIFilter())) == len(batch.cis)
            assert len(store.find_relationships(RelFilter())) == len(batch.relationships)
            assert len(store.find_records(RecordFilter())) == len(batch.records)
            for ci_id in ("pm-core-db-01", "cl-core-rac", "svc-core-banking", "pc-br02-009"):
                assert store.get_ci(ci_id).content() == cis[ci_id].content()
            assert store.get_ci("pc-br02-009").last_seen == cis["pc-br02-009"].last_seen
            assert store.apply(batch, actor="demo").created == 0


def _simulator(batch: Batch):
    """A reference k-of-n failure propagation over the registry's directions, for the tests."""
    registry = load_registry()
    dependents: dict[str, set[str]] = defaultdict(set)
    groups_of: dict[str, set[str]] = defaultdict(set)
    members: dict[str, set[str]] = defaultdict(set)
    for rel in batch.relationships:
        prop = registry.rel_type(rel.type).propagation
        if prop == "to_source":
            dependents[rel.target].add(rel.source)
        elif prop == "to_target":
            dependents[rel.source].add(rel.target)
        elif prop == "membership":
            groups_of[rel.source].add(rel.target)
            members[rel.target].add(rel.source)
    k = {ci.id: ci.min_required or 1 for ci in batch.cis if ci.min_required}

    def down(failed: set[str]) -> set[str]:
        out: set[str] = set()
        queue = list(failed)
        while queue:
            ci_id = queue.pop()
            if ci_id in out:
                continue
            out.add(ci_id)
            queue.extend(dependents[ci_id])
            queue.extend(g for g in groups_of[ci_id] if len(members[g] - out) < k[g])
        return out

    return down, members


class TestImpactShape:
    @pytest.mark.parametrize(
        ("failed", "target", "is_down"),
        [
            ({HIDDEN_SPOF}, "svc-core-banking", True),
            ({"sw-core-01"}, "svc-core-banking", False),
            ({"sw-core-01", "sw-core-02"}, "svc-core-banking", True),
            ({"pm-core-db-01"}, "svc-core-banking", False),
            ({"pm-atm-fep-01"}, "svc-atm-pos", False),
            ({"pm-atm-fep-01", "pm-atm-fep-03"}, "svc-atm-pos", True),
            ({"fw-dmz-01"}, "svc-online-banking", False),
            ({"lb-web-01", "lb-web-02"}, "svc-online-banking", True),
            ({"vm-ad-dc-01"}, "svc-email", False),
            ({"hv-01", "hv-02"}, "svc-email", False),
            ({"hv-01", "hv-02", "hv-03"}, "svc-email", True),
            ({"rt-br03"}, "cust-br03", True),
            ({"rt-br03"}, "svc-core-banking", False),
            ({"app-core-banking"}, "cust-br01", True),
            ({"db-core"}, "svc-online-banking", True),
        ],
    )
    def test_failures(self, batch: Batch, failed: set[str], target: str, is_down: bool) -> None:
        down, _ = _simulator(batch)
        assert (target in down(failed)) is is_down

    def test_the_hidden_spof_is_the_only_single_point_under_a_group(self, batch: Batch) -> None:
        down, members = _simulator(batch)
        # a site's desktops are a group that its router and access switch take down, by design
        groups = {g for g in members if not g.endswith("-desktops")}
        member_of = {
            m: {g for g in groups if m in members[g]}
            for m in {x for g in groups for x in members[g]}
        }
        singles = set()
        for ci in batch.cis:
            if ci.id not in groups and (down({ci.id}) & groups) - member_of.get(ci.id, set()):
                singles.add(ci.id)
        assert singles == {HIDDEN_SPOF}
