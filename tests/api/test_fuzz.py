"""The API against its own OpenAPI: schemathesis generates requests for every operation, in
process, and every answer must be documented (status, content type, headers, body schema) and
never a 5xx. All of schemathesis' checks run, as configured by default. Deterministic
(``derandomize``), without shrinking (a failure shows the first failing request as generated),
and small enough to run in the default suite (about 45 s of CPU on the demo store).

One pass with an admin key over every operation; a second one with a reader key over the
writes (each must be refused, with a documented status, and change nothing).

"Schema-valid data is accepted" (schemathesis' ``positive_data_acceptance``) runs as our own
check with the same default statuses, plus, for a few operations only, the statuses a schema
cannot rule out because they depend on what the store holds or on the time: each with its
reason in :data:`STATE_DEPENDENT`. Names the registry defines are enums in the OpenAPI
(:mod:`api.schema_names`), empty strings are refused by the schema, so neither is excused.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.app import create_app
from api.deps import ApiState
from cmdb.enums import Role
from cmdb.settings import Settings

MAX_EXAMPLES = 8
FUZZ = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
)


# One app for the schema (its store is opened on first use); each test points it at a fresh
# copy of the demo store. (``schemathesis.pytest.from_fixture`` fails on pytest 9.)
APP = create_app(Settings(db="/nonexistent/fuzz.db"))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(autouse=True)
def fresh_store(api_env):
    APP.state.cmdb = ApiState(api_env.settings)
    yield
    APP.state.cmdb.close()


ACCEPTED = {401, 403, 404, 409, 429}
"""Besides 2xx and 3xx: schemathesis' own default for schema-valid requests, without 5xx."""

_IF_MATCH = (412, 428), "needs If-Match with the current ETag, which generated data cannot know"
STATE_DEPENDENT: dict[str, tuple[tuple[int, ...], str]] = {
    "PATCH /api/v1/cis/{ci_id}": _IF_MATCH,
    "DELETE /api/v1/cis/{ci_id}": _IF_MATCH,
    "POST /api/v1/incidents/{incident_id}/resolve": _IF_MATCH,
    "POST /api/v1/cis": ((422,), "attribute values are typed by the class's schema"),
    "POST /api/v1/relationships": (
        (422,),
        "both ends must be stored CIs whose classes the type's rule table allows, never one CI",
    ),
    "POST /api/v1/changes": ((422,), "the window must end after it starts"),
    "POST /api/v1/impact/change-risk": ((422,), "the window must end after it starts"),
    "POST /api/v1/impact/root-cause": ((422,), "at least one symptom (CI, incident or alert)"),
    "POST /api/v1/import": ((415, 422), "the body must parse as the format it names"),
    "GET /api/v1/audit": ((422,), "'since' and 'at' must not be in the future, 'since' <= 'at'"),
    "GET /api/v1/audit/report": ((422,), "as GET /audit"),
    "GET /api/v1/history": ((422,), "'since' must not be after 'until'"),
    "GET /api/v1/discovery/diff": ((422,), "a source must be one the store has seen"),
    "POST /api/v1/api-keys": ((422,), "'expires_at' must be in the future"),
}


def _accepts(case, response) -> None:
    """schemathesis' positive-data check, with :data:`STATE_DEPENDENT`."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    status = response.status_code
    excused, why = STATE_DEPENDENT.get(f"{case.method.upper()} {case.path}", ((), ""))
    assert status < 400 or status in ACCEPTED or status in excused, (
        f"schema-valid {case.method.upper()} {case.formatted_path} got {status}: "
        f"{response.text[:300]}" + (f" (excused there: {excused}, {why})" if excused else "")
    )


@schema.parametrize()
@FUZZ
def test_every_operation_as_admin(case, api_env):
    response = case.call_and_validate(
        headers=api_env.headers(Role.ADMIN), excluded_checks=[positive_data_acceptance]
    )
    _accepts(case, response)


@schema.include(method=["POST", "PATCH", "PUT", "DELETE"]).parametrize()
@FUZZ
def test_writes_as_reader_are_refused(case, api_env):
    before = APP.state.cmdb.store.version()
    response = case.call_and_validate(headers=api_env.headers(Role.READER))
    assert response.status_code >= 400, response.text
    assert APP.state.cmdb.store.version() == before, "a reader's request changed the store"
