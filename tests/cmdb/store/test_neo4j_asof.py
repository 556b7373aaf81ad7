"""Neo4j's point-in-time read on a real server: each entity's last entry, ordered by entity id
on the client, and a query plan that streams (a server-side sort of every document once took a
normal 100k-CI load over the server's transaction memory limit)."""

from __future__ import annotations

import itertools
import random

import pytest
from neo4j import GraphDatabase

from cmdb.filters import HistoryFilter
from cmdb.model import Batch
from cmdb.store.neo4j import AS_OF_QUERY
from tests.cmdb.store.test_contract import ci, rel
from tests.neo4j_support import neo4j_settings_or_skip

pytestmark = pytest.mark.neo4j

# operators that hold every row before they pass one on
_MATERIALISING = {"Sort", "PartialSort", "Top", "PartialTop"}


def _operators(plan) -> set[str]:
    found = {plan["operatorType"].split("@")[0]}
    for child in plan.get("children", []):
        found |= _operators(child)
    return found


def test_as_of_plan_holds_no_document_set():
    settings = neo4j_settings_or_skip()
    auth = (settings.neo4j_user, settings.neo4j_password.get_secret_value())
    with GraphDatabase.driver(settings.store, auth=auth) as driver, driver.session() as s:
        plan = s.run("EXPLAIN " + AS_OF_QUERY, entity="ci", at=None).consume().plan
    ops = _operators(plan)
    assert "EagerAggregation" in ops  # the one eager step: an id and a number per entity
    assert not ops & _MATERIALISING, ops


def test_as_of_orders_by_entity_id_whatever_the_write_order(store):
    ids = [f"app-{i:03d}" for i in range(40)]
    random.Random(7).shuffle(ids)
    for chunk in (ids[:15], ids[15:]):
        store.apply(Batch(cis=[ci(i) for i in chunk]), actor="t")
    pairs = itertools.pairwise(ids)
    store.apply(Batch(relationships=[rel(a, b) for a, b in pairs]), actor="t")
    at = store.history_as_of("ci", _now(store))
    assert [e.entity_id for e in at] == sorted(ids)
    rels = [e.entity_id for e in store.history_as_of("relationship", _now(store))]
    assert rels == sorted(rels) and len(rels) == len(ids) - 1


def _now(store):
    return store.history(HistoryFilter())[-1].at
