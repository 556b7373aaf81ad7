"""The registry's conventions, checked by walking it (as Cartography's test_model does)."""

from __future__ import annotations

import pytest

from cmdb.enums import Propagation
from cmdb.errors import RegistryError, RelationshipRuleError, UnknownClassError, ValidationError
from cmdb.registry import NAME_RE, load_registry

REG = load_registry()


class TestConventions:
    @pytest.mark.parametrize("name", sorted(REG.classes))
    def test_class(self, name):
        spec = REG.classes[name]
        assert NAME_RE.match(name)
        assert spec.category in REG.categories
        assert spec.label, "every class has a human label"
        assert not (set(spec.required) & set(spec.recommended)), "required is not recommended"
        if spec.group:
            assert spec.availability is None, "a group's availability comes from its members"

    @pytest.mark.parametrize("name", sorted(REG.relationships))
    def test_relationship_type(self, name):
        spec = REG.relationships[name]
        assert NAME_RE.match(name) and spec.inverse and spec.allowed
        for src, dst in spec.allowed:
            for end in (src, dst):
                assert end == "*" or end in REG.classes or end in REG.categories

    def test_every_class_can_take_part_in_a_relationship(self):
        for name in REG.classes:
            assert any(
                REG._matches(src, name) or REG._matches(dst, name)
                for spec in REG.relationships.values()
                for src, dst in spec.allowed
            ), name

    def test_issue_coverage(self):
        wanted_classes = {
            "customer",
            "business_service",
            "technical_service",
            "application",
            "application_instance",
            "container",
            "pod",
            "database",
            "database_instance",
            "middleware",
            "physical_server",
            "virtual_machine",
            "hypervisor",
            "cluster",
            "hypervisor_cluster",
            "storage",
            "switch",
            "router",
            "firewall",
            "load_balancer",
            "desktop",
            "printer",
            "support_group",
            "supplier",
            "location",
            "sla",
        }
        assert wanted_classes <= set(REG.classes)
        wanted_types = {
            "depends_on",
            "runs_on",
            "hosted_on",
            "connected_to",
            "member_of",
            "uses",
            "provides",
            "consumes",
            "located_in",
            "supported_by",
            "supplied_by",
            "covered_by",
        }
        assert wanted_types <= set(REG.relationships)

    @pytest.mark.parametrize(
        ("name", "propagation"),
        [
            ("depends_on", Propagation.TO_SOURCE),
            ("provides", Propagation.TO_TARGET),
            ("member_of", Propagation.MEMBERSHIP),
            ("located_in", Propagation.NONE),
            ("covered_by", Propagation.NONE),
        ],
    )
    def test_propagation(self, name, propagation):
        assert REG.rel_type(name).propagation is propagation


class TestRules:
    @pytest.mark.parametrize(
        ("src", "rel", "dst"),
        [
            ("application", "runs_on", "virtual_machine"),
            ("virtual_machine", "hosted_on", "hypervisor"),
            ("physical_server", "member_of", "cluster"),
            ("customer", "consumes", "business_service"),
            ("business_service", "covered_by", "sla"),
            ("switch", "located_in", "location"),
        ],
    )
    def test_allowed(self, src, rel, dst):
        REG.check_relationship(src, rel, dst)

    @pytest.mark.parametrize(
        ("src", "rel", "dst", "error"),
        [
            ("location", "runs_on", "application", RelationshipRuleError),
            ("application", "member_of", "database", RelationshipRuleError),
            ("application", "consumes", "business_service", RelationshipRuleError),
            ("spaceship", "depends_on", "application", UnknownClassError),
        ],
    )
    def test_refused(self, src, rel, dst, error):
        with pytest.raises(error):
            REG.check_relationship(src, rel, dst)

    @pytest.mark.parametrize(
        ("attrs", "match"),
        [
            ({}, "field 'attributes.engine': required"),
            ({"engine": "oracle", "version": 19}, "expected str, got int"),
            ({"engine": "excel"}, "'excel' is not one of"),
        ],
    )
    def test_attributes(self, attrs, match):
        with pytest.raises(ValidationError, match=match):
            REG.validate_attributes("database", attrs)

    def test_missing_recommended(self):
        assert REG.missing_recommended("database", {"engine": "oracle"}) == ["version"]


class TestUserRegistry:
    def test_extends_and_overrides(self, tmp_path):
        path = tmp_path / "r.yaml"
        path.write_text(
            "categories:\n  atm_estate: {label: ATMs}\n"
            "classes:\n  atm: {category: atm_estate, label: ATM}\n"
            "relationships:\n  connected_to:\n    propagation: to_source\n    extend: true\n"
            "    allowed: [[atm_estate, network]]\n"
        )
        reg = load_registry(path)
        reg.check_relationship("atm", "connected_to", "switch")
        reg.check_relationship("physical_server", "connected_to", "switch")  # kept
        assert reg.fingerprint != REG.fingerprint

    @pytest.mark.parametrize(
        ("text", "match"),
        [
            ("classes: [", "invalid YAML"),
            ("- a\n- b\n", "expected a mapping"),
            ("classes:\n  x: {category: nope}\n", "unknown category 'nope'"),
            ("classes:\n  Bad-Name: {category: network}\n", "must match"),
            ("relationships:\n  r: {propagation: up}\n", "field 'relationships.r.propagation'"),
            (
                "relationships:\n  r: {propagation: none, allowed: [[ghost, '*']]}\n",
                "unknown class or category 'ghost'",
            ),
            ("surprise: 1\n", "field 'surprise'"),
        ],
    )
    def test_bad_files(self, tmp_path, text, match):
        path = tmp_path / "r.yaml"
        path.write_text(text)
        with pytest.raises(RegistryError, match=match) as caught:
            load_registry(path)
        message = str(caught.value)
        assert message.startswith(f"{path}") and "\n" not in message, message

    @pytest.mark.parametrize(
        ("text", "where"),
        [
            ("classes: [", "r.yaml:1: invalid YAML (expected the node content"),
            ("classes:\n  a: b\n c: d\n", "r.yaml:3: invalid YAML (expected <block end>"),
            ("classes:\n  x:\n\t- y\n", "r.yaml:3: invalid YAML (found character '\\t'"),
            ("a: 'unclosed\n", "r.yaml:2: invalid YAML (found unexpected end of stream, column 1)"),
            ("a: !!python/object:os.system x\n", "r.yaml:1: invalid YAML (could not determine"),
        ],
    )
    def test_yaml_errors_are_one_line_with_the_line(self, tmp_path, text, where):
        path = tmp_path / "r.yaml"
        path.write_text(text)
        with pytest.raises(RegistryError) as caught:
            load_registry(path)
        message = str(caught.value)
        assert message.startswith(f"{tmp_path}/{where}"), message
        assert "\n" not in message and "<unicode string>" not in message
