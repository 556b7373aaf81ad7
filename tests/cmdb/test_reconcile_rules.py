"""Identification rules as data (registry), derived ids, precedence, and manual provenance."""

from __future__ import annotations

import re

import pytest

from cmdb import ops
from cmdb.errors import RegistryError, ValidationError
from cmdb.model import CI, ID_PATTERN, Identifiers
from cmdb.reconcile import DiscoverySettings, parse_duration
from cmdb.reconcile_match import STANDARD_KINDS, discovered_id, rule_values
from cmdb.reconcile_plan import DEFAULT_PRECEDENCE, Precedence
from cmdb.registry import load_registry


class TestRegistryIdentification:
    def test_built_in_rules_follow_the_issue_order_and_name_known_components(self, registry):
        rules = registry.identification.default
        assert rules[:5] == (
            ("serial_number",),
            ("fqdn",),
            ("hostname", "domain"),
            ("mac",),
            ("k8s_uid",),
        )
        assert rules[-1] == ("parent", "name")
        for cls, sets in [("default", rules), *registry.identification.classes.items()]:
            assert cls == "default" or cls in registry.classes
            for rule in sets:
                singles = [c for c in rule if c in STANDARD_KINDS]
                assert len(rule) > 1 or singles or rule == ("name",), rule

    def test_user_file_overrides_per_class_and_keeps_the_default(self, tmp_path):
        path = tmp_path / "reg.yaml"
        path.write_text("identification:\n  classes:\n    database: [[name], [serial_number]]\n")
        reg = load_registry(path)
        assert reg.identification.rules("database") == (("name",), ("serial_number",))
        assert reg.identification.rules("application") == load_registry().identification.default

    @pytest.mark.parametrize(
        "text, message",
        [
            ("identification: {classes: {robot: [[name]]}}\n", "unknown class 'robot'"),
            ("identification: {default: [[]]}\n", "bad identifier set"),
            ("identification: {default: [[Name]]}\n", "bad identifier set"),
            ("identification: {default: [[name, name]]}\n", "bad identifier set"),
        ],
    )
    def test_bad_rules(self, tmp_path, text, message):
        path = tmp_path / "reg.yaml"
        path.write_text(text)
        with pytest.raises(RegistryError, match=message):
            load_registry(path)


class TestDiscoveredId:
    @pytest.mark.parametrize(
        "key",
        [
            "k8s:Deployment/shop/cart",
            "web",
            "a b/c",
            "ü:x",
            "x" * 300,
            "-lead:x",
            "inventory:srv 1",
        ],
    )
    def test_valid_and_deterministic(self, key):
        got = discovered_id("inventory", key)
        assert re.match(ID_PATTERN, got) and got == discovered_id("inventory", key)

    def test_keeps_readable_keys_and_never_merges_two_keys(self):
        assert discovered_id("compose", "compose:shop/web") == "compose:shop/web"
        assert discovered_id("inventory", "web") == "inventory:web"
        assert discovered_id("i", "a b") != discovered_id("i", "a-b")
        assert discovered_id("i", "a b") != discovered_id("i", "a b", 1)


class TestRuleValues:
    @pytest.mark.parametrize(
        "rule, expected",
        [
            (("serial_number",), ["sn-1"]),
            (("hostname",), ["a", "b"]),
            (("hostname", "domain"), ["a|x.org"]),
            (("namespace", "kind", "name"), ["application|shop|deployment|cart"]),
            (("parent", "name"), ["application|p-1|cart"]),
            (("mac",), []),
            (("cloud_id", "name"), []),
        ],
    )
    def test_values(self, rule, expected):
        ids = Identifiers(serial_number="SN-1", hostnames=["A", "b"])
        got = rule_values(
            rule,
            ci_class="application",
            name="Cart",
            identifiers=ids,
            attributes={"domain": "X.org", "namespace": "shop", "kind": "Deployment"},
            parent="P-1",
        )
        assert got == expected


class TestSettings:
    def test_precedence_and_staleness_from_the_environment(self, monkeypatch):
        monkeypatch.setenv("CMDB_DISCOVERY_PRECEDENCE", "kubernetes, manual, inventory")
        monkeypatch.setenv("CMDB_DISCOVERY_STALE_RUNS", "0")
        monkeypatch.setenv("CMDB_DISCOVERY_STALE_AGE", "12h")
        opts = DiscoverySettings.load().options()
        assert opts["precedence"].order == ("kubernetes", "manual", "inventory")
        assert opts["stale_after_runs"] is None and opts["stale_after"].total_seconds() == 43200

    def test_defaults(self, monkeypatch):
        for name in ("PRECEDENCE", "STALE_RUNS", "STALE_AGE"):
            monkeypatch.delenv(f"CMDB_DISCOVERY_{name}", raising=False)
        opts = DiscoverySettings.load().options()
        assert opts["precedence"].order == DEFAULT_PRECEDENCE
        assert (opts["stale_after_runs"], opts["stale_after"]) == (2, None)

    def test_unknown_source_ranks_last(self):
        p = Precedence()
        assert p.may_set("inventory", "custom") and not p.may_set("custom", "inventory")

    @pytest.mark.parametrize("text", ["30", "d", "3x", ""])
    def test_bad_duration(self, text):
        with pytest.raises(ValidationError, match="expected a duration"):
            parse_duration(text)


def test_update_ci_records_manual_provenance_for_what_it_changes(sqlite_store):
    ops.create_ci(
        sqlite_store,
        CI(
            id="s",
            ci_class="physical_server",
            name="S",
            attributes={"os": "aix", "role": "db"},
            provenance={"attributes.os": "inventory"},
        ),
        actor="t",
    )
    got = ops.update_ci(
        sqlite_store,
        "s",
        fields={"owner": "bob", "identifiers": {"fqdn": "s.x"}},
        set_attributes={"os": "linux"},
        unset=["role"],
        actor="alice",
    )
    assert got.provenance == {
        "attributes.os": "manual",
        "owner": "manual",
        "identifiers.fqdn": "manual",
        "attributes.role": "manual",
    }
