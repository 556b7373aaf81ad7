"""The console's shell and views in a real browser: log-in, search as you type, a CI page, the
change assessment, root cause, audit, and a write that a reader is refused (403) and an analyst
may do.

Assumptions: the ``console`` fixture serves the demo CMDB (an IT outsourcer running a bank's
estate) with one key per role; its ids are stable (``sw-core-01`` the DC core switch A with IP
10.10.0.11, ``sw-dc-acc-05`` with IP 10.10.0.17, ``CHG-000101`` the NX-OS upgrade colliding with
``CHG-000102``, ``INC-000001`` on the core banking database server ``pm-core-db-01``). Scores
depend on the time of day (service hours), so the tests check structure and ids, not numbers.
The one write (an analyst opening an incident) is resolved again at once, so the other browser
tests sharing the server see the demo's open incidents only.

Speed: loading the console (and its graph library) costs about a second, so besides the log-in
tests, which start from a fresh page, ``view`` keeps one logged-in page per role for the module
and moves it between routes by changing the hash, as a user clicking links does. A JavaScript
error or CSP violation on such a page fails the test during which it happened.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from cmdb.enums import Role
from tests.console.conftest import VIEWPORT, PageErrors

GO = """hash => {
    document.getElementById('view').replaceChildren();
    if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
    else location.hash = hash;
}"""


@pytest.fixture(scope="module")
def _pages() -> Iterator[tuple[dict[Role, Any], PageErrors]]:
    """One logged-in page per role, opened when first asked for, and the errors they saw."""
    errors = PageErrors()
    pages: dict[Role, Any] = {}
    yield pages, errors
    for page in pages.values():
        page.context.close()


@pytest.fixture
def view(_pages, console, browser) -> Iterator[Callable[..., Any]]:
    """``view(role, hash)``: the role's page (logged in once), showing ``#<hash>``."""
    pages, errors = _pages

    def go(role: Role, hash: str = "/search") -> Any:
        if role not in pages:
            page = browser.new_context(viewport=VIEWPORT, accept_downloads=True).new_page()
            errors.watch(page)
            page.goto(console.url + "/")
            page.fill("#login-key", console.keys[role])
            page.click("#login-submit")
            page.wait_for_selector("[data-testid=whoami]")
            pages[role] = page
        page = pages[role]
        page.evaluate(GO, "#" + hash.removeprefix("#"))
        return page

    errors.clear()
    yield go
    assert not errors, "\n".join(errors)


def _search(page, text: str):
    page.fill("#search", "")
    page.locator("#search").press_sequentially(text)
    return page.locator("#search-results [data-testid=search-result]")


class TestLogIn:
    def test_a_good_key_logs_in_and_shows_who_and_role(self, open_console):
        page = open_console(Role.ANALYST)
        who = page.locator("[data-testid=whoami]")
        assert "web-analyst" in who.inner_text()
        assert "analyst" in who.inner_text()
        page.click("#logout")
        page.wait_for_selector("#login-key")
        assert page.locator("[data-testid=whoami]").count() == 0

    def test_a_bad_key_shows_the_401_and_stays_logged_out(self, open_console):
        page = open_console(login=False)
        page.fill("#login-key", "cmdb_KEY-000999_not-a-real-key")
        page.click("#login-submit")
        error = page.locator("[data-testid=error]")
        error.wait_for()
        assert "401" in error.inner_text()
        assert page.locator("[data-testid=whoami]").count() == 0
        assert page.locator("#login-key").is_visible()

    def test_a_key_revoked_during_the_session_returns_to_the_log_in(self, open_console, console):
        admin = {"Authorization": f"Bearer {console.keys[Role.ADMIN]}"}
        keys = f"{console.url}/api/v1/api-keys"
        new = httpx.post(keys, headers=admin, json={"role": "reader", "name": "web-revoked"})
        assert new.status_code == 201, new.text
        page = open_console(login=False)
        page.fill("#login-key", new.json()["token"])
        page.click("#login-submit")
        page.wait_for_selector("[data-testid=whoami]")
        assert httpx.delete(f"{keys}/{new.json()['id']}", headers=admin).status_code == 200
        page.click("nav a[data-view=audit]")
        page.locator("#login-key").wait_for()
        assert "401" in page.locator("[data-testid=error]").inner_text()


class TestSearch:
    @pytest.mark.parametrize(
        ("text", "found"),
        [
            ("DC core switch A", "sw-core-01"),  # by name
            ("10.10.0.17", "sw-dc-acc-05"),  # by identifier (an IP)
            ("load_balancer", "lb-web-01"),  # by class
        ],
    )
    def test_finds_a_ci_as_you_type(self, view, text, found):
        page = view(Role.READER)
        hits = _search(page, text)
        hit = hits.filter(has_text=found).first
        hit.wait_for()
        assert hit.get_attribute("href") == f"#/ci/{found}"

    def test_arrow_keys_and_enter_open_the_ci(self, view):
        page = view(Role.READER)
        hits = _search(page, "10.10.0.17")
        hits.first.wait_for()
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        page.wait_for_selector("[data-testid=ci-page]")
        assert page.url.endswith("#/ci/sw-dc-acc-05")
        assert page.locator("#search-results").is_hidden()

    def test_enter_shows_every_hit_and_a_record_id_opens_the_record(self, view):
        page = view(Role.CHANGE_MANAGER)
        page.locator("main h1").click()
        page.keyboard.press("/")  # jumps to the search box
        assert page.evaluate("document.activeElement.id") == "search"
        _search(page, "core switch").first.wait_for()
        page.keyboard.press("Enter")
        page.locator("main [data-testid=search-result]", has_text="sw-core-02").wait_for()
        assert "#/search?q=core%20switch" in page.url
        _search(page, "CHG-000101")
        page.locator("#search-results a[href='#/change/CHG-000101']").wait_for()
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        page.wait_for_selector("[data-testid=change-risk-score]")


class TestCIPage:
    def test_shows_attributes_identifiers_freshness_relationships_records_history(self, view):
        page = view(Role.READER, "/ci/sw-core-01")
        page.wait_for_selector("[data-testid=ci-history] tbody tr")
        text = {
            part: page.locator(f"[data-testid=ci-{part}]").inner_text()
            for part in ("attributes", "identifiers", "freshness", "relationship-counts")
        }
        assert "Nexus 7010" in text["attributes"] and "zhao.lei" in text["attributes"]
        assert "10.10.0.11" in text["identifiers"] and "FDOF224772A" in text["identifiers"]
        assert "snmp" in text["freshness"] and "ago" in text["freshness"]
        assert "member_of" in text["relationship-counts"]
        page.locator("[data-testid=ci-relationship-counts] a", has_text="cl-core-sw").wait_for()
        records = page.locator("[data-testid=ci-open-records]")
        assert records.locator("a[href='#/change/CHG-000101']").count() == 1
        assert "created" in page.locator("[data-testid=ci-history]").inner_text()
        blast = page.locator("[data-testid=ci-blast-radius]")
        assert blast.get_attribute("href") == "#/impact?ci=sw-core-01"
        depends = page.locator("[data-testid=ci-depends-on]")
        assert depends.get_attribute("href") == "#/impact?ci=sw-core-01&mode=depends"

    def test_history_is_newest_first(self, view, console):
        headers = {"Authorization": f"Bearer {console.keys[Role.ADMIN]}"}
        base = f"{console.url}/api/v1/cis"
        body = {"id": "x-history-01", "class": "virtual_machine", "name": "VM first name"}
        created = httpx.post(base, headers=headers, json=body)
        assert created.status_code == 201, created.text
        for n, name in enumerate(("VM second name", "VM third name"), start=1):
            r = httpx.patch(
                f"{base}/x-history-01",
                headers={**headers, "If-Match": f'"{n}"'},
                json={"name": name},
            )
            assert r.status_code == 200, r.text
        page = view(Role.READER, "/ci/x-history-01")
        rows = page.locator("[data-testid=ci-history] tbody tr")
        rows.first.wait_for()
        assert rows.count() == 3
        assert "VM third name" in rows.first.inner_text()
        assert "created" in rows.last.inner_text()
        assert "newest first" in page.locator("[data-testid=ci-history]").inner_text()

    def test_a_hub_lists_its_first_relationships_and_counts_the_rest(self, view):
        page = view(Role.READER, "/ci/sup-lenovo")
        counts = page.locator("[data-testid=ci-relationship-counts]")
        counts.locator("a").first.wait_for()
        row = counts.locator("tr", has_text="supplied_by")
        assert "139" in row.inner_text()
        assert re.search(r"and \d+ more", row.inner_text())


class TestOpenIncident:
    def test_a_reader_is_refused_with_the_403(self, view):
        page = view(Role.READER, "/ci/prn-br01-01")
        form = page.locator("[data-testid=open-incident]")
        form.locator("#incident-title").fill("Paper jam")
        form.locator("button[type=submit]").click()
        error = form.locator("[data-testid=error]")
        error.wait_for()
        assert "403" in error.inner_text() and "analyst" in error.inner_text()

    def test_an_analyst_opens_it_with_its_priority(self, view, console):
        page = view(Role.ANALYST, "/ci/prn-br01-01")
        form = page.locator("[data-testid=open-incident]")
        form.locator("#incident-title").fill("Paper jam")
        form.locator("#incident-urgency").select_option("low")
        form.locator("button[type=submit]").click()
        opened = page.locator("[data-testid=incident-opened]")
        opened.wait_for()
        incident = re.search(r"INC-\d+", opened.inner_text())
        assert incident, opened.inner_text()
        try:
            assert "priority P" in opened.inner_text()
            records = page.locator("[data-testid=ci-open-records]")
            records.get_by_text(incident.group(0)).wait_for()
        finally:
            _resolve(console, incident.group(0))


def _resolve(console, incident: str) -> None:
    """Resolve the incident a test opened, so other tests see the demo's open records."""
    headers = {"Authorization": f"Bearer {console.keys[Role.ADMIN]}"}
    api = f"{console.url}/api/v1/incidents/{incident}"
    etag = httpx.get(api, headers=headers).headers["etag"]
    done = httpx.post(f"{api}/resolve", headers={**headers, "If-Match": etag})
    assert done.status_code == 200, done.text


class TestChange:
    def test_the_list_of_changes_to_come_links_to_each(self, view):
        page = view(Role.CHANGE_MANAGER, "/change")
        page.locator("[data-testid=change-list] a[href='#/change/CHG-000101']").wait_for()

    def test_a_change_shows_its_score_factors_collisions_redundancy_and_impact(self, view):
        page = view(Role.CHANGE_MANAGER, "/change/CHG-000101")
        score = page.locator("[data-testid=change-risk-score]")
        score.wait_for()
        assert re.fullmatch(r"\d+(\.\d+)?", score.inner_text().strip())
        factors = page.locator("[data-testid=change-factors] tbody tr")
        assert factors.count() >= 5
        assert "blast radius" in page.locator("[data-testid=change-factors]").inner_text()
        collisions = page.locator("[data-testid=change-collisions]")
        assert collisions.locator("a[href='#/change/CHG-000102']").count() == 1
        assert "cl-core-sw" in page.locator("[data-testid=change-redundancy]").inner_text()
        affected = page.locator("[data-testid=change-affected]")
        assert "svc-core-banking" in affected.inner_text()
        affected.locator("a[href='#/ci/sla-core-banking']").wait_for()
        blast = page.locator("[data-testid=change-blast-radius]")
        assert "ci=sw-core-01" in (blast.get_attribute("href") or "")

    def test_a_reader_sees_the_change_but_the_risk_is_a_403(self, view):
        page = view(Role.READER, "/change/CHG-000101")
        error = page.locator("[data-testid=error]")
        error.wait_for()
        assert "403" in error.inner_text()
        assert "NX-OS upgrade" in page.locator("h1").inner_text()


class TestRootCause:
    def test_ranks_the_database_server_first_for_its_incident(self, view):
        page = view(Role.ANALYST, "/root-cause")
        form = page.locator("[data-testid=root-cause-form]")
        form.locator("input[value='INC-000001']").check()
        form.locator("button[type=submit]").click()
        first = page.locator("[data-testid=root-cause-candidate]").first
        first.wait_for()
        assert first.get_attribute("data-ci") == "pm-core-db-01"
        assert "Explains" in first.inner_text() and "dbi-core-rac-1" in first.inner_text()
        assert "incidents=INC-000001" in page.url

    def test_two_incidents_from_a_link_show_what_each_candidate_misses(self, view):
        page = view(Role.ANALYST, "/root-cause?incidents=INC-000001,INC-000003")
        candidates = page.locator("[data-testid=root-cause-candidate]")
        candidates.first.wait_for()
        assert candidates.count() >= 2
        assert "Misses" in candidates.first.inner_text()
        top = candidates.first.get_attribute("data-ci")
        assert top in {"pm-core-db-01", "vm-exch-01"}

    def test_a_reader_may_not_rank_root_causes(self, view):
        page = view(Role.READER, "/root-cause?incidents=INC-000002")
        error = page.locator("[data-testid=error]")
        error.wait_for()
        assert "403" in error.inner_text() and "analyst" in error.inner_text()
        assert page.locator("[data-testid=root-cause-candidate]").count() == 0


class TestAudit:
    def test_shows_scores_and_findings_linking_to_cis_with_filters(self, view):
        page = view(Role.READER, "/audit")
        scores = page.locator("[data-testid=audit-scores]")
        scores.wait_for()
        for dimension in ("completeness", "correctness", "compliance"):
            assert dimension in scores.inner_text()
        findings = page.locator("[data-testid=audit-finding]")
        assert findings.count() > 10
        assert findings.first.locator("a").get_attribute("href").startswith("#/ci/")
        page.select_option("#audit-rule", "orphan")
        assert findings.count() == len(
            [f for f in findings.all() if f.get_attribute("data-rule") == "orphan"]
        )
        assert 0 < findings.count() < 10
        assert "rule=orphan" in page.url
        with page.expect_download() as download:
            page.click("[data-testid=audit-report-html]")
        assert download.value.suggested_filename == "cmdb-audit.html"
        findings.first.locator("a").click()
        page.wait_for_selector("[data-testid=ci-page]")
