"""Field-level differences between two documents (cmdb.diff)."""

from __future__ import annotations

import pytest

from cmdb.diff import FieldChange, diff_documents


class TestDiffDocuments:
    @pytest.mark.parametrize(
        ("before", "after", "expected"),
        [
            ({"a": 1}, {"a": 1}, []),
            ({"a": 1}, {"a": 2}, ["a: 1 -> 2"]),
            ({"owner": "x"}, {"owner": None}, ["owner: 'x' -> None"]),
            ({"owner": "x"}, {}, ["owner: 'x' -> None"]),
            ({}, {"owner": "x"}, ["owner: None -> 'x'"]),
            ({"owner": None}, {}, []),
            (
                {"attributes": {"engine": "oracle 12", "os": "AIX"}},
                {"attributes": {"engine": "oracle 19", "os": "AIX"}},
                ["attributes.engine: 'oracle 12' -> 'oracle 19'"],
            ),
            ({"attributes": {"a": 1}}, {"attributes": {}}, ["attributes.a: 1 -> None"]),
            ({"attributes": {}}, {"attributes": {"a": [1]}}, ["attributes.a: None -> [1]"]),
            ({"ips": ["10.0.0.1"]}, {"ips": ["10.0.0.2"]}, ["ips: ['10.0.0.1'] -> ['10.0.0.2']"]),
            (
                {"a": 1, "b": 1},
                {"c": 1, "b": 2, "a": 2},
                ["a: 1 -> 2", "b: 1 -> 2", "c: None -> 1"],
            ),
            (None, {"a": 1}, ["a: None -> 1"]),
        ],
    )
    def test_changes(self, before, after, expected):
        assert [str(c) for c in diff_documents(before, after)] == expected

    def test_ignore_top_level_keys(self):
        before = {"version": 1, "name": "A", "attributes": {"version": "1"}}
        after = {"version": 2, "name": "A", "attributes": {"version": "2"}}
        assert diff_documents(before, after, ignore={"version"}) == [
            FieldChange(path="attributes.version", before="1", after="2")
        ]

    def test_changes_are_frozen(self):
        change = diff_documents({"a": 1}, {"a": 2})[0]
        with pytest.raises(ValueError, match="frozen"):
            change.path = "b"
