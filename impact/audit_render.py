"""The audit as text: Markdown, JUnit XML (for pipelines), and the stand-alone evidence report
(HTML or Markdown) that maps findings to ISO/IEC 20000-1 requirements.

Assumptions: every function is pure (an :class:`~impact.audit.AuditResult` and the config in,
a string out) and escapes every value it did not write itself; the HTML has inline CSS and an
inline SVG chart, no script and no external file, so it can be handed over as one file.

>>> from datetime import UTC, datetime
>>> from impact.audit import AuditResult
>>> from impact.audit_scores import Scores
>>> r = AuditResult(at=datetime(2026, 1, 1, tzinfo=UTC), store="sqlite:///x.db", store_id="ab",
...     store_version=3, config="audit_rules.yaml", rules=("orphan",), checked=0, findings=(),
...     counts={"orphan": 0}, scores=Scores(overall=100.0, dimensions={}, classes={}))
>>> 'failures="0"' in to_junit(r)
True
"""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET
from collections import defaultdict

from cmdb.audit_config import DIMENSIONS, AuditConfig
from impact.audit import AuditResult, Finding

__all__ = ["to_html", "to_junit", "to_markdown", "to_report_markdown"]

_MAX_LISTED = 200  # findings listed per rule in the reports (the JSON has all)


def _by_rule(result: AuditResult) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = defaultdict(list)
    for f in result.findings:
        out[f.rule].append(f)
    return out


def _md(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _subject(f: Finding) -> str:
    return f.relationship or f.ci


def to_markdown(result: AuditResult) -> str:
    """Scores, counts by rule and every finding, as Markdown."""
    lines = [
        f"# CMDB audit: {result.scores.overall:.1f} / 100",
        "",
        f"{result.checked} CIs checked at {result.at:%Y-%m-%d %H:%M} UTC; store {result.store} "
        f"(id {result.store_id}, version {result.store_version}); rules from {result.config}.",
        "",
        "| dimension | score |",
        "|---|---:|",
        *(f"| {d} | {s:.1f} |" for d, s in result.scores.dimensions.items()),
        "",
        "| rule | findings |",
        "|---|---:|",
        *(f"| {r} | {n} |" for r, n in result.counts.items()),
        "",
    ]
    if result.findings:
        lines += ["## Findings", "", "| rule | CI | class | why |", "|---|---|---|---|"]
        lines += [
            f"| {f.rule} | {_md(_subject(f))} | {f.ci_class} | {_md(f.why)} |"
            for f in result.findings
        ]
    return "\n".join(lines) + "\n"


def to_junit(result: AuditResult, *, fail_under: float | None = None) -> str:
    """One test suite per dimension, one test case per rule: a rule with findings fails, and
    its failure lists them; with ``fail_under`` a ``score`` case fails below it."""
    by_rule = _by_rule(result)
    root = ET.Element("testsuites", name="cmdb audit")
    total = failures = 0
    for dim in DIMENSIONS:
        rules = [r for r in result.rules if result.rule_dimensions.get(r) == dim]
        if not rules:
            continue
        suite = ET.SubElement(root, "testsuite", name=dim)
        n = bad = 0
        for rule in rules:
            case = ET.SubElement(suite, "testcase", classname=f"cmdb.audit.{dim}", name=rule)
            n += 1
            found = by_rule[rule]
            if found:
                bad += 1
                fail = ET.SubElement(
                    case, "failure", message=f"{len(found)} findings", type=found[0].severity
                )
                fail.text = "\n".join(f"{_subject(f)} ({f.ci_class}): {f.why}" for f in found)
        suite.set("tests", str(n))
        suite.set("failures", str(bad))
        total, failures = total + n, failures + bad
    if fail_under is not None:
        suite = ET.SubElement(root, "testsuite", name="score", tests="1")
        case = ET.SubElement(suite, "testcase", classname="cmdb.audit", name="score")
        below = result.scores.overall < fail_under
        if below:
            ET.SubElement(
                case,
                "failure",
                message=f"overall {result.scores.overall:.1f} is below {fail_under:g}",
            )
        suite.set("failures", str(int(below)))
        total, failures = total + 1, failures + int(below)
    root.set("tests", str(total))
    root.set("failures", str(failures))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


# -- the evidence report -------------------------------------------------------------------


def _clause_rows(result: AuditResult, config: AuditConfig) -> list[tuple]:
    by_rule = _by_rule(result)
    rows = []
    for c in config.clauses:
        run = [r for r in c.rules if r in result.rules]
        n = sum(len(by_rule[r]) for r in run)
        status = "not assessed" if not run else ("findings" if n else "no findings")
        rows.append((c, run, n, status))
    return rows


def to_report_markdown(result: AuditResult, config: AuditConfig) -> str:
    """The evidence report as Markdown."""
    lines = [
        "# Configuration audit: evidence report",
        "",
        f"- Date: {result.at:%Y-%m-%d %H:%M} UTC",
        f"- CMDB: {result.store} (store id {result.store_id}, store version "
        f"{result.store_version})",
        f"- Rules: {result.config}; CIs checked: {result.checked}",
        f"- Overall score: **{result.scores.overall:.1f} / 100**",
        "",
        "## Scores",
        "",
        "| | " + " | ".join(DIMENSIONS) + " | overall | CIs |",
        "|---|" + "---:|" * (len(DIMENSIONS) + 2),
        "| **all** | "
        + " | ".join(f"{result.scores.dimensions.get(d, 100):.1f}" for d in DIMENSIONS)
        + f" | {result.scores.overall:.1f} | {result.checked} |",
    ]
    for name, s in result.scores.classes.items():
        dims = " | ".join(f"{s.dimensions.get(d, 100):.1f}" for d in DIMENSIONS)
        lines.append(f"| {name} | {dims} | {s.overall:.1f} | {s.cis} |")
    lines += [
        "",
        "## ISO/IEC 20000-1 requirements",
        "",
        "| clause | requirement (paraphrased) | rules | findings |",
        "|---|---|---|---:|",
    ]
    for c, run, n, status in _clause_rows(result, config):
        lines.append(
            f"| {c.clause} {c.title} | {_md(c.requirement)} | {', '.join(run) or '—'} | "
            f"{n} ({status}) |"
        )
    by_rule = _by_rule(result)
    lines += ["", "## Findings by rule", ""]
    for rule in result.rules:
        found = by_rule[rule]
        why = config.rules[rule].why if rule in config.rules else ""
        lines += [f"### {rule} ({len(found)})", "", _md(why), ""]
        for f in found[:_MAX_LISTED]:
            lines.append(f"- `{_md(_subject(f))}` ({f.ci_class}): {_md(f.why)}")
        if len(found) > _MAX_LISTED:
            lines.append(f"- … and {len(found) - _MAX_LISTED} more (see `--format json`)")
        lines.append("")
    return "\n".join(lines)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem;
color:#1d2733;max-width:70rem}h1{margin-bottom:.2rem}h2{border-bottom:1px solid #d0d7de;
padding-bottom:.2rem;margin-top:2rem}table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top;
font-size:.9rem}th{background:#f3f5f7}td.n{text-align:right}.meta{color:#57606a}
.ok{color:#1a7f37;font-weight:600}.bad{color:#cf222e;font-weight:600}.na{color:#57606a}
.score{font-size:2.2rem;font-weight:700}code{font-size:.85rem}
"""


def _colour(score: float) -> str:
    return "#1a7f37" if score >= 90 else "#bf8700" if score >= 70 else "#cf222e"


def _chart(result: AuditResult) -> str:
    """Horizontal bars: overall and each dimension, then each class's overall score."""
    rows = [("overall", result.scores.overall)]
    rows += [(d, result.scores.dimensions.get(d, 100.0)) for d in DIMENSIONS]
    rows += [(f"class {n}", s.overall) for n, s in result.scores.classes.items()]
    bar, label, h = 360, 200, 18
    height = len(rows) * (h + 6) + 24
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label + bar + 60}" height="{height}" '
        'role="img" aria-label="Scores by dimension and class" font-size="12">'
    ]
    for k, (name, score) in enumerate(rows):
        y = k * (h + 6) + 4
        w = max(0.0, min(100.0, score)) / 100 * bar
        parts.append(
            f'<text x="{label - 6}" y="{y + 13}" text-anchor="end">{html.escape(name)}</text>'
            f'<rect x="{label}" y="{y}" width="{bar}" height="{h}" fill="#eef1f4"/>'
            f'<rect x="{label}" y="{y}" width="{w:.1f}" height="{h}" fill="{_colour(score)}"/>'
            f'<text x="{label + bar + 6}" y="{y + 13}">{score:.1f}</text>'
        )
    y = len(rows) * (h + 6) + 16
    for tick in (0, 50, 100):
        x = label + tick / 100 * bar
        parts.append(f'<text x="{x}" y="{y}" text-anchor="middle" fill="#57606a">{tick}</text>')
    parts.append("</svg>")
    return "".join(parts)


def to_html(result: AuditResult, config: AuditConfig) -> str:
    """The evidence report as one stand-alone HTML page."""
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>CMDB configuration audit: evidence report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Configuration audit: evidence report</h1>",
        f'<p class="meta">{result.at:%Y-%m-%d %H:%M} UTC · CMDB {e(result.store)} · store id '
        f"{e(result.store_id)} · store version {result.store_version} · rules "
        f"{e(result.config)} · {result.checked} CIs checked</p>",
        f'<p>Overall score <span class="score" style="color:{_colour(result.scores.overall)}">'
        f"{result.scores.overall:.1f}</span> / 100</p>",
        "<h2>Scores by dimension and class</h2>",
        _chart(result),
        "<table><tr><th>class</th><th>CIs</th>"
        + "".join(f"<th>{d}</th>" for d in DIMENSIONS)
        + "<th>overall</th></tr>",
    ]
    for name, s in result.scores.classes.items():
        cells = "".join(f'<td class="n">{s.dimensions.get(d, 100):.1f}</td>' for d in DIMENSIONS)
        out.append(
            f'<tr><td>{e(name)}</td><td class="n">{s.cis}</td>{cells}'
            f'<td class="n">{s.overall:.1f}</td></tr>'
        )
    out += [
        "</table>",
        "<h2>ISO/IEC 20000-1 requirements</h2>",
        "<p class=meta>Clause numbers of ISO/IEC 20000-1:2018; each requirement is paraphrased "
        "in this project's words.</p>",
        "<table><tr><th>clause</th><th>requirement</th><th>rules</th><th>findings</th></tr>",
    ]
    for c, run, n, status in _clause_rows(result, config):
        css = {"findings": "bad", "no findings": "ok"}.get(status, "na")
        out.append(
            f"<tr><td><b>{e(c.clause)}</b> {e(c.title)}</td><td>{e(c.requirement)}</td>"
            f"<td>{e(', '.join(run) or '—')}</td>"
            f'<td class="n"><span class="{css}">{n}</span> ({e(status)})</td></tr>'
        )
    out.append("</table><h2>Findings by rule</h2>")
    by_rule = _by_rule(result)
    for rule in result.rules:
        found = by_rule[rule]
        spec = config.rules.get(rule)
        out.append(
            f"<h3>{e(rule)} ({len(found)})</h3><p class=meta>{e(spec.why if spec else '')}"
            f" · {e(spec.dimension if spec else '')} · severity {e(spec.severity if spec else '')}"
            "</p>"
        )
        if found:
            out.append("<table><tr><th>CI or relationship</th><th>class</th><th>why</th></tr>")
            for f in found[:_MAX_LISTED]:
                out.append(
                    f"<tr><td><code>{e(_subject(f))}</code></td><td>{e(f.ci_class)}</td>"
                    f"<td>{e(f.why)}</td></tr>"
                )
            out.append("</table>")
            if len(found) > _MAX_LISTED:
                out.append(f"<p class=meta>… and {len(found) - _MAX_LISTED} more.</p>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
