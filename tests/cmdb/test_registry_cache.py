"""The built-in registry's JSON cache: the same data as the YAML, read without a YAML parser,
and never in the way (a bad or unwritable cache falls back to the YAML)."""

from __future__ import annotations

import json
from importlib import resources

import pytest
import yaml

from cmdb import registry as registry_module
from cmdb.registry import load_registry


def _yaml_data() -> dict:
    text = resources.files("cmdb").joinpath("registry.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    """An empty user cache directory, and a registry parsed afresh (and again afterwards)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    registry_module._builtin.cache_clear()
    yield tmp_path / "cache"
    registry_module._builtin.cache_clear()


def _cache_files(home):
    return sorted((home / "graph-cmdb" / "registry").glob("*"))


class TestBuiltinCache:
    def test_the_first_parse_writes_the_yaml_as_json(self, cache_home):
        assert registry_module._builtin() == _yaml_data()
        [cached] = _cache_files(cache_home)
        assert cached.name.startswith("builtin-") and cached.suffix == ".json"
        assert json.loads(cached.read_text()) == _yaml_data()

    def test_a_later_process_reads_the_json_without_yaml(self, cache_home, monkeypatch):
        expected = _yaml_data()
        fingerprint = load_registry().fingerprint  # parses the YAML and writes the cache
        registry_module._builtin.cache_clear()

        def no_yaml(*args, **kwargs):
            raise AssertionError("parsed the YAML again")

        monkeypatch.setattr(yaml, "load", no_yaml)
        assert registry_module._builtin() == expected
        assert load_registry().fingerprint == fingerprint

    @pytest.mark.parametrize("junk", ["", "{not json", "[1, 2]", "null"])
    def test_a_bad_cache_is_parsed_again_and_replaced(self, cache_home, junk):
        registry_module._builtin()
        [cached] = _cache_files(cache_home)
        cached.write_text(junk)
        registry_module._builtin.cache_clear()
        assert registry_module._builtin() == _yaml_data()
        assert json.loads(cached.read_text()) == _yaml_data()

    def test_an_unwritable_cache_is_skipped(self, tmp_path, monkeypatch):
        blocker = tmp_path / "a-file"
        blocker.write_text("")
        monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # no directory can be made in it
        registry_module._builtin.cache_clear()
        try:
            assert registry_module._builtin() == _yaml_data()
            assert load_registry().is_group("cluster")
        finally:
            registry_module._builtin.cache_clear()

    def test_another_registry_text_has_another_cache_file(self):
        a = registry_module._json_cache("classes: {}\n")
        b = registry_module._json_cache("classes: {a: {}}\n")
        assert a != b and a.parent == b.parent
