"""End-to-end CLI tests for `cmdb audit` and `cmdb audit report`: formats, selection, exit
codes (0 pass, 1 below --fail-under, 2 usage error, 3 store unreachable)."""

from __future__ import annotations

import contextlib
import io
import json
import xml.etree.ElementTree as ET

import pytest

from cmdb.demo import DEFECTS


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from tests.cli.conftest import Cmdb

    runner = Cmdb(tmp_path_factory.mktemp("audit") / "cli.db")
    runner("demo")
    return runner


def as_json(result):
    return json.loads(result.stdout)


class TestAudit:
    def test_json_has_findings_counts_and_scores(self, demo):
        data = as_json(demo("audit", "-f", "json"))
        assert set(data) >= {"findings", "counts", "scores", "store_id", "store_version", "at"}
        owners = {f["ci"] for f in data["findings"] if f["rule"] == "missing_owner"}
        assert set(DEFECTS["missing_owner"]) <= owners
        assert 0 <= data["scores"]["overall"] <= 100
        assert set(data["scores"]["dimensions"]) == {"completeness", "correctness", "compliance"}

    def test_table(self, demo):
        out = demo("audit").stdout
        assert out.startswith("overall ") and "missing_owner" in out

    def test_table_lists_the_first_findings_of_each_rule(self, demo):
        everything = as_json(demo("audit", "-f", "json"))
        counts, total = everything["counts"], len(everything["findings"])
        out = demo("audit", "--limit", "1").stdout
        shown = sum(min(n, 1) for n in counts.values())
        assert shown < total
        assert f"{shown} of {total} findings, the first 1 of each rule" in " ".join(out.split())
        out = demo("audit", "--limit", "0").stdout
        assert f"{total} findings" in out and " of " not in out.splitlines()[-1]
        for f in everything["findings"]:
            assert f["ci"] in out or (f["relationship"] or "")[:10] in out

    def test_json_text_is_that_of_the_dump(self, demo):
        from cli.output import emit_json, emit_model
        from impact.audit import AuditResult

        text = demo("audit", "-f", "json").stdout
        result = AuditResult.model_validate_json(text)
        for emit, arg in ((emit_json, result.to_json()), (emit_model, result)):
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                emit(arg)
            assert buf.getvalue() == text

    def test_markdown(self, demo):
        assert demo("audit", "-f", "markdown").stdout.startswith("# CMDB audit: ")

    def test_junit_parses(self, demo):
        root = ET.fromstring(demo("audit", "-f", "junit").stdout)
        assert root.tag == "testsuites" and int(root.get("failures")) > 0

    def test_rule_and_skip_rule(self, demo):
        data = as_json(demo("audit", "-f", "json", "--rule", "orphan", "--rule", "stale"))
        assert data["rules"] == ["orphan", "stale"]
        assert {f["ci"] for f in data["findings"]} == set(DEFECTS["orphan"] + DEFECTS["stale"])
        data = as_json(demo("audit", "-f", "json", "--skip-rule", "orphan,stale"))
        assert "orphan" not in data["rules"] and "stale" not in data["rules"]

    def test_class(self, demo):
        data = as_json(demo("audit", "-f", "json", "--class", "desktop"))
        assert {f["ci_class"] for f in data["findings"]} == {"desktop"}
        assert list(data["scores"]["classes"]) == ["desktop"]

    def test_config_file_tunes_rules(self, demo, tmp_path):
        path = tmp_path / "rules.yaml"
        path.write_text("stale:\n  days: 100000\n")
        data = as_json(demo("audit", "-f", "json", "-r", "stale", "--config", str(path)))
        assert data["findings"] == []


class TestExitCodes:
    def test_pass_is_0(self, demo):
        demo("audit", "--fail-under", "1", code=0)

    def test_below_threshold_is_1(self, demo):
        result = demo("audit", "--fail-under", "100", "-f", "json", code=1)
        assert as_json(result)["scores"]["overall"] < 100

    @pytest.mark.parametrize(
        "args",
        [
            ("--rule", "nope"),
            ("--skip-rule", "nope"),
            ("--class", "nope"),
            ("--fail-under", "101"),
            ("--format", "xml"),
        ],
    )
    def test_usage_errors_are_2(self, demo, args):
        result = demo("audit", *args, code=2)
        assert result.stderr.count("\n") == 1

    def test_bad_config_is_2(self, demo, tmp_path):
        path = tmp_path / "rules.yaml"
        path.write_text("stale: [")
        demo("audit", "--config", str(path), code=2)

    def test_unreachable_store_is_3(self, tmp_path):
        from tests.cli.conftest import Cmdb

        Cmdb(tmp_path / "missing.db")("audit", code=3)


class TestReport:
    def test_html(self, demo):
        page = demo("audit", "report", "--format", "html").stdout
        assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "8.2.6" in page

    def test_md(self, demo):
        text = demo("audit", "report", "--format", "md").stdout
        assert text.startswith("# Configuration audit: evidence report")
