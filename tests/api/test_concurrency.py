"""Concurrent clients against a real server: ``cmdb serve --workers 2`` (uvicorn, two worker
processes on one SQLite store) and four client processes that each create CIs, open incidents
and increment one shared CI's counter with If-Match read-modify-write retries.

Afterwards: every CI exists, the counter equals the number of increments that succeeded (no
lost update), incident ids are distinct and their number exact, and nothing answered a 5xx.
"""

from __future__ import annotations

import multiprocessing
import shutil
from collections import Counter

import httpx
import pytest

from cmdb.enums import Role
from tests.served import served

PROCESSES = 4
CIS_EACH = 8
INCIDENTS_EACH = 3
INCREMENTS_EACH = 6
SHARED = "conc/shared-counter"
MAX_TRIES = 200


@pytest.fixture
def server(_demo_template, tmp_path):
    """A served copy of the demo store, two workers: (base URL, keys, log file)."""
    template, keys = _demo_template
    db = tmp_path / "cmdb.db"
    shutil.copyfile(template, db)
    log = tmp_path / "server.log"
    with served(db, log, workers=2) as base:
        yield base, keys, log


def _increment(c: httpx.Client, statuses: Counter) -> int:
    """Add 1 to the shared counter with If-Match; re-read and retry on 412. Returns tries."""
    for tries in range(1, MAX_TRIES + 1):
        r = c.get(f"/api/v1/cis/{SHARED}")
        statuses[r.status_code] += 1
        r.raise_for_status()
        value = r.json()["attributes"]["cpu_count"]
        p = c.patch(
            f"/api/v1/cis/{SHARED}",
            json={"attributes": {"cpu_count": value + 1}},
            headers={"If-Match": r.headers["etag"]},
        )
        statuses[p.status_code] += 1
        if p.status_code == 200:
            return tries
        if p.status_code != 412:
            raise AssertionError(f"PATCH answered {p.status_code}: {p.text}")
    raise AssertionError(f"no increment after {MAX_TRIES} tries")


def client_process(base: str, token: str, n: int, incidents: bool) -> dict:
    """One client process: creates CIs, opens incidents and increments the counter, interleaved."""
    statuses: Counter = Counter()
    created, opened, increments, tries = [], [], 0, 0
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as c:
        for i in range(max(CIS_EACH, INCIDENTS_EACH, INCREMENTS_EACH)):
            if i < CIS_EACH:
                ci_id = f"conc/p{n}/ci-{i:03d}"
                r = c.post(
                    "/api/v1/cis",
                    json={"id": ci_id, "class": "virtual_machine", "name": f"VM {n}.{i}"},
                )
                statuses[r.status_code] += 1
                if r.status_code == 201:
                    created.append(r.json()["id"])
            if incidents and i < INCIDENTS_EACH:
                r = c.post(
                    "/api/v1/incidents",
                    json={"ci_ids": ["pm-core-db-01"], "urgency": "low", "title": f"conc {n}.{i}"},
                )
                statuses[r.status_code] += 1
                if r.status_code == 201:
                    opened.append(r.json()["id"])
            if i < INCREMENTS_EACH:
                tries += _increment(c, statuses)
                increments += 1
    return {
        "created": created,
        "opened": opened,
        "increments": increments,
        "tries": tries,
        "statuses": dict(statuses),
    }


def _has_route(base: str, token: str, method: str, path: str) -> bool:
    schema = httpx.get(f"{base}/openapi.json", headers={"Authorization": f"Bearer {token}"})
    return method.lower() in schema.json()["paths"].get(path, {})


def test_concurrent_clients_lose_nothing(server):
    base, keys, log = server
    admin = keys[Role.ADMIN]
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {admin}"}) as c:
        r = c.post(
            "/api/v1/cis",
            json={
                "id": SHARED,
                "class": "virtual_machine",
                "name": "Shared counter",
                "attributes": {"cpu_count": 1},
            },
        )
        assert r.status_code == 201, r.text
    incidents = _has_route(base, admin, "post", "/api/v1/incidents")
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(PROCESSES) as pool:
        results = pool.starmap(
            client_process, [(base, admin, n, incidents) for n in range(PROCESSES)]
        )
    statuses: Counter = Counter()
    for res in results:
        statuses.update({int(k): v for k, v in res["statuses"].items()})
    assert not [s for s in statuses if s >= 500], statuses
    created = [ci for res in results for ci in res["created"]]
    assert len(created) == len(set(created)) == PROCESSES * CIS_EACH, statuses
    increments = sum(res["increments"] for res in results)
    assert increments == PROCESSES * INCREMENTS_EACH
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {admin}"}) as c:
        for ci in created:
            assert c.get(f"/api/v1/cis/{ci}").status_code == 200, ci
        shared = c.get(f"/api/v1/cis/{SHARED}")
        assert shared.json()["attributes"]["cpu_count"] == 1 + increments
        assert shared.headers["etag"] == f'"{1 + increments}"'
        if incidents:
            opened = [i for res in results for i in res["opened"]]
            assert len(opened) == len(set(opened)) == PROCESSES * INCIDENTS_EACH, statuses
            for inc in opened:
                r = c.get(f"/api/v1/incidents/{inc}")
                assert r.status_code == 200 and r.json()["title"].startswith("conc "), r.text
    assert "Traceback" not in log.read_text()
    if not incidents:
        pytest.skip("POST /api/v1/incidents is not served: the incident part did not run")
