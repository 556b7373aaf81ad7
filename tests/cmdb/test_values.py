"""One reading of attribute text for the CLI's --set and CSV cells (cmdb.values)."""

from __future__ import annotations

import pytest

from cmdb.errors import ValidationError
from cmdb.values import declared_type, parse_attributes, parse_value, split_assignments


class TestParseValue:
    @pytest.mark.parametrize(
        ("text", "declared", "value"),
        [
            ("12.2", "str", "12.2"),  # a version stays text when the registry says str
            ("19c", "str", "19c"),
            ('"12"', "str", "12"),  # a quoted JSON string is unquoted
            ('"unclosed', "str", '"unclosed'),
            ("true", "str", "true"),
            ("12.2", None, 12.2),
            ("8", "int", 8),
            ("8", None, 8),
            ("0.999", "float", 0.999),
            ("true", "bool", True),
            ("null", None, None),
            ('["a", "b"]', "list", ["a", "b"]),
            ('{"x": 1}', None, {"x": 1}),
            ("AIX 7.2", None, "AIX 7.2"),
            ("eight", "int", "eight"),  # left as text; validation names the expected type
            ("NaN", None, "NaN"),
            ("Infinity", "float", "Infinity"),
            ("", None, ""),
        ],
    )
    def test_values(self, text, declared, value):
        assert parse_value(text, declared) == value
        assert type(parse_value(text, declared)) is type(value)


class TestParseAttributes:
    def test_follows_the_registry(self, registry):
        assert declared_type(registry, "database", "version") == "str"
        got = parse_attributes(
            registry, "database", {"version": "12.2", "engine": "oracle", "port": "1521"}
        )
        assert got == {"version": "12.2", "engine": "oracle", "port": 1521}

    @pytest.mark.parametrize("ci_class", [None, "spaceship"])
    def test_without_a_known_class(self, registry, ci_class):
        assert parse_attributes(registry, ci_class, {"version": "12.2"}) == {"version": 12.2}


class TestSplitAssignments:
    def test_pairs(self):
        assert split_assignments(["a=1", " b =x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}

    @pytest.mark.parametrize("item", ["novalue", "=x", " =x"])
    def test_bad(self, item):
        with pytest.raises(ValidationError, match="field '--set': expected NAME=VALUE"):
            split_assignments([item])
