"""The audit as Markdown, JUnit XML and the stand-alone evidence report."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from cmdb.audit_config import load_audit_config
from cmdb.model import Batch
from impact.audit import run_audit
from impact.audit_render import to_html, to_junit, to_markdown, to_report_markdown
from tests.impact.test_audit import CONFIG, _open, ci, clean_batch


@pytest.fixture
def clean(tmp_path):
    with _open(tmp_path / "a.db") as store:
        store.apply(clean_batch(), actor="test")
        yield store


@pytest.fixture
def result(clean):
    clean.apply(
        Batch(
            cis=[
                ci("vm", "virtual_machine", owner=None, name="<script>x</script>"),
                ci("vm2", "virtual_machine", name="<script>x</script>"),
            ]
        ),
        actor="t",
    )
    return run_audit(clean, CONFIG)


class TestJUnit:
    def test_one_case_per_rule_failing_with_findings(self, result):
        root = ET.fromstring(to_junit(result))
        cases = {c.get("name"): c for c in root.iter("testcase")}
        assert set(cases) == set(result.rules)
        assert cases["missing_owner"].find("failure") is not None
        assert cases["relationship_rule"].find("failure") is None
        assert root.get("failures") == str(sum(1 for n in result.counts.values() if n))

    def test_fail_under_adds_a_score_case(self, result):
        root = ET.fromstring(to_junit(result, fail_under=100))
        score = [c for c in root.iter("testcase") if c.get("name") == "score"]
        assert score and score[0].find("failure") is not None
        root = ET.fromstring(to_junit(result, fail_under=1))
        assert (
            next(c for c in root.iter("testcase") if c.get("name") == "score").find("failure")
            is None
        )


class TestMarkdown:
    def test_scores_counts_findings(self, result):
        text = to_markdown(result)
        assert text.startswith(f"# CMDB audit: {result.scores.overall:.1f} / 100")
        assert "| missing_owner | 1 |" in text
        assert "| missing_owner | vm | virtual_machine |" in text


class TestEvidenceReport:
    def test_html_stands_alone(self, result):
        page = to_html(result, load_audit_config())
        assert page.startswith("<!DOCTYPE html>") and "<style>" in page and "<svg" in page
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
        assert "<script" not in page and "&lt;script&gt;" in page
        assert "<link" not in page

    def test_html_names_date_store_and_clauses(self, result):
        page = to_html(result, load_audit_config())
        assert result.store_id in page and f"store version {result.store_version}" in page
        assert f"{result.at:%Y-%m-%d %H:%M}" in page
        for clause in ("8.2.6", "8.5.1", "8.6.1", "8.6.3"):
            assert clause in page

    def test_chart_has_a_bar_per_dimension_and_class(self, result):
        page = to_html(result, load_audit_config())
        svg = page[page.index("<svg") : page.index("</svg>")]
        bars = svg.count('fill="#eef1f4"')
        assert bars == 1 + 3 + len(result.scores.classes)

    def test_markdown_report(self, result):
        text = to_report_markdown(result, load_audit_config())
        assert "8.2.6 Configuration management" in text and "### missing_owner (1)" in text
        assert "8.5.1 Change management" in text and "0 (no findings)" in text
