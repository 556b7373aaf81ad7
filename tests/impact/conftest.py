"""Fixtures shared by the store-backed impact tests: a small estate with a single point of
failure and a redundant pool."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cmdb.model import CI, Batch, Relationship
from cmdb.settings import Settings
from cmdb.store import open_store

NOW = datetime(2026, 1, 7, 12, 0, tzinfo=UTC)  # a Wednesday


def estate_batch() -> Batch:
    """A payment service on one server (a single point of failure) and a mail service on a
    1-of-2 web pool; a customer consumes payments."""

    def ci(ci_id, cls, crit="medium", **kw):
        return CI(id=ci_id, ci_class=cls, name=ci_id, criticality=crit, **kw)

    cis = [
        ci("svc-pay", "business_service", "critical"),
        ci("svc-mail", "business_service", "low"),
        ci("cust-a", "customer"),
        ci("app-pay", "application", "high"),
        ci("app-mail", "application"),
        ci("db-pay", "database", "high", attributes={"engine": "oracle"}),
        ci("srv-1", "physical_server"),
        ci("cl-web", "cluster", min_required=1),
        ci("web-1", "application_instance"),
        ci("web-2", "application_instance"),
        ci("pc-1", "desktop", "low"),
    ]
    rels = [
        ("cust-a", "consumes", "svc-pay"),
        ("app-pay", "provides", "svc-pay"),
        ("app-mail", "provides", "svc-mail"),
        ("app-pay", "depends_on", "db-pay"),
        ("db-pay", "runs_on", "srv-1"),
        ("app-mail", "runs_on", "cl-web"),
        ("web-1", "member_of", "cl-web"),
        ("web-2", "member_of", "cl-web"),
    ]
    return Batch(
        cis=cis, relationships=[Relationship(source=s, type=t, target=d) for s, t, d in rels]
    )


@pytest.fixture
def estate(tmp_path):
    store = open_store(Settings(db=tmp_path / "estate.db"), create=True)
    store.apply(estate_batch(), actor="test")
    yield store
    store.close()
