"""The API against its own OpenAPI: schemathesis generates requests for every operation, in
process, and every answer must be documented (status, content type, headers, body schema) and
never a 5xx. All of schemathesis' checks run, as configured by default. Deterministic
(``derandomize``), without shrinking (a failure shows the first failing request as generated),
and small enough to run in the default suite (about 45 s of CPU on the demo store).

One pass with an admin key over every operation; a second one with a reader key over the
writes (each must be refused, with a documented status, and change nothing).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings

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


@schema.parametrize()
@FUZZ
def test_every_operation_as_admin(case, api_env):
    case.call_and_validate(headers=api_env.headers(Role.ADMIN))


@schema.include(method=["POST", "PATCH", "PUT", "DELETE"]).parametrize()
@FUZZ
def test_writes_as_reader_are_refused(case, api_env):
    before = APP.state.cmdb.store.version()
    response = case.call_and_validate(headers=api_env.headers(Role.READER))
    assert response.status_code >= 400, response.text
    assert APP.state.cmdb.store.version() == before, "a reader's request changed the store"
