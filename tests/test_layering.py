"""The layers import downwards only (docs/architecture.md, "Layers and imports"), and
``impact/`` never writes to a store nor reads a file. Checked on the source with ``ast``, so a
violation fails here whether or not any test happens to run the offending line."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROJECT = ("api", "cli", "cmdb", "discovery", "impact")
BACKENDS = ("cmdb.store.sqlite", "cmdb.store.neo4j")


def _modules(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


def _name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (relative imports resolved), at any depth of the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = _name(path).split(".")
    if path.name != "__init__.py":
        here = here[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*here[: len(here) - node.level + 1], *filter(None, [base])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _violations(
    packages: tuple[str, ...], forbidden: tuple[str, ...], exempt: tuple[str, ...] = ()
) -> list[str]:
    out = []
    for package in packages:
        for path in _modules(package):
            if _under(_name(path), exempt):
                continue
            bad = sorted(m for m in _imports(path) if _under(m, forbidden))
            out += [f"{path.relative_to(REPO)} imports {m}" for m in bad]
    return out


class TestLayers:
    def test_the_checker_sees_imports(self):
        assert "cmdb.topology" in _imports(REPO / "impact" / "blast.py")
        assert "impact.priority" in _imports(REPO / "cmdb" / "workflows" / "incidents.py")
        assert _name(REPO / "cmdb" / "workflows" / "__init__.py") == "cmdb.workflows"

    def test_impact_imports_only_the_core_and_itself(self):
        assert _violations(("impact",), ("api", "cli", "discovery", "cmdb.workflows")) == []

    def test_the_core_never_imports_analysis_feeds_or_shells(self):
        forbidden = ("api", "cli", "discovery", "impact", "cmdb.workflows")
        assert _violations(("cmdb",), forbidden, exempt=("cmdb.workflows",)) == []

    @pytest.mark.parametrize(("shell", "other"), [("cli", "api"), ("api", "cli")])
    def test_shells_never_import_each_other_nor_a_backend(self, shell, other):
        assert _violations((shell,), (other, *BACKENDS)) == []

    def test_discovery_never_imports_a_backend(self):
        assert _violations(("discovery",), BACKENDS) == []


# calls that write to a store or read or write a file
_WRITES = {"apply"}
_FILES = {
    "open",
    "read_text",
    "read_bytes",
    "write_text",
    "write_bytes",
    "safe_load",
    "load",
    "save",
    "loadtxt",
    "fromfile",
    "tofile",
}


def _calls(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            out.append((node.lineno, name))
    return out


class TestImpactIsPure:
    def test_never_writes_to_a_store(self):
        found = [
            f"{p.relative_to(REPO)}:{line} calls .{name}("
            for p in _modules("impact")
            for line, name in _calls(p)
            if name in _WRITES
        ]
        assert found == []

    def test_never_reads_or_writes_files(self):
        found = [
            f"{p.relative_to(REPO)}:{line} calls {name}("
            for p in _modules("impact")
            for line, name in _calls(p)
            if name in _FILES
        ]
        assert found == []
        readers = ("yaml", "json", "pathlib", "io", "shutil", "tempfile", "pickle")
        assert _violations(("impact",), readers) == []
        assert not list((REPO / "impact").glob("*.yaml"))
