"""Export documents: each CI and relationship as the dict an export writes (its ``to_json()``
without the store-owned fields), read a page at a time, without a model where the store hands
over the JSON text it keeps.

Assumptions: a store that keeps each item as the JSON text of ``item.to_json()`` (SQLite does)
offers ``find_ci_texts(CIFilter)`` and ``find_relationship_texts(RelFilter)`` beside
``find_cis`` and ``find_relationships`` (the same items in the same order); any other store
(Neo4j) is read through its models. A stored text is taken as it is when it has exactly the
model's fields in the model's order (on a CI, the identifiers' fields too) and its times are the
model's own UTC text (``2026-01-01T00:00:00.500000Z``): a document that this store wrote from a
validated model, which validating again would give back unchanged. Any other text (an older
store's, one missing a field) goes through the model, so the export is the same text on either
path; a text the model cannot read fails as the model path fails (but a text of the right
shape holding a value the model would refuse, which only a hand-edited file can hold, is
exported as it stands). The text methods are looked up
on the store's class, not on the instance, so a wrapper that overrides only ``find_cis`` is read
through its ``find_cis``.

Parsing the text (``pydantic_core.from_json``) and writing the dict with pydantic's serialiser
(``pydantic_core.to_json``) gives the bytes ``model_dump_json`` gives, at about three times the
rate of ``model_validate_json`` then ``model_dump_json``.

>>> doc = stored_ci_doc(CI(id="srv-1", ci_class="physical_server", name="H").model_dump_json())
>>> doc["id"], doc["class"], "version" in doc
('srv-1', 'physical_server', False)
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Iterator
from typing import Any

from pydantic_core import from_json

from cmdb.bulk import no_gc
from cmdb.enums import Lifecycle
from cmdb.errors import StoreError
from cmdb.filters import CIFilter, RelFilter
from cmdb.import_plan import STORE_OWNED
from cmdb.model import CI, AnyRecord, Identifiers, Relationship
from cmdb.store.protocol import GraphStore

__all__ = [
    "Doc",
    "ci_doc",
    "ci_docs",
    "export_ci_docs",
    "iter_ci_docs",
    "iter_relationship_docs",
    "keeps_texts",
    "moved_on",
    "rel_doc",
    "relationship_docs",
    "stored_ci_doc",
    "stored_rel_doc",
]

Doc = dict[str, Any]
"""An item's export document: ``model_dump(mode="json", by_alias=True)`` without the fields
the store owns (``created_at``, ``updated_at``, ``version``)."""

_CI_FIELDS = tuple(f.alias or name for name, f in CI.model_fields.items())
_ID_FIELDS = tuple(Identifiers.model_fields)
_REL_FIELDS = tuple(Relationship.model_fields)
_UTC_TEXT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{6})?Z")
"""How pydantic writes an aware UTC datetime: a stored time in any other form goes through the
model, which would rewrite it."""


def ci_doc(ci: CI) -> Doc:
    """The export document of a CI model."""
    return ci.model_dump(mode="json", by_alias=True, exclude=STORE_OWNED)


def rel_doc(rel: Relationship) -> Doc:
    """The export document of a relationship model."""
    return rel.model_dump(mode="json", exclude=STORE_OWNED)


def _parsed(text: str, fields: tuple[str, ...]) -> Doc | None:
    """The stored text as a dict, if it is the model's own document (see the module)."""
    try:
        doc = from_json(text, cache_strings="keys")
    except ValueError:
        return None
    if not isinstance(doc, dict) or tuple(doc) != fields:
        return None
    for name in ("last_seen", "stale_since"):
        times = doc[name]
        if times and not (
            isinstance(times, dict)
            and all(isinstance(t, str) and _UTC_TEXT.fullmatch(t) for t in times.values())
        ):
            return None
    for name in STORE_OWNED:
        del doc[name]
    return doc


def stored_ci_doc(text: str) -> Doc:
    """The export document of a CI's stored JSON text, read through the model only when the
    text is not the model's own document."""
    doc = _parsed(text, _CI_FIELDS)
    if doc is not None and isinstance(ids := doc["identifiers"], dict) and tuple(ids) == _ID_FIELDS:
        return doc
    return ci_doc(CI.model_validate_json(text))


def stored_rel_doc(text: str) -> Doc:
    """The export document of a relationship's stored JSON text (see :func:`stored_ci_doc`)."""
    doc = _parsed(text, _REL_FIELDS)
    return doc if doc is not None else rel_doc(Relationship.model_validate_json(text))


def _reader(store: GraphStore, name: str) -> Callable[[Any, Any], list[str]] | None:
    return getattr(type(store), name, None)


def keeps_texts(store: GraphStore) -> bool:
    """Whether the store hands over its stored JSON texts (else the documents come from its
    models, and a writer that only needs JSON text may as well take it from the models)."""
    return (
        _reader(store, "find_ci_texts") is not None
        and _reader(store, "find_relationship_texts") is not None
    )


def _light(text: str, whole: Callable[[str], Doc]) -> Doc:
    """A stored text parsed as it is, for a reader of its key and ``attributes`` only: the
    model keeps both as the text has them (validating renames no attribute, changes no id).
    Anything else is ``whole(text)``."""
    try:
        doc = from_json(text, cache_strings="keys")
    except ValueError:
        return whole(text)
    return doc if isinstance(doc, dict) and isinstance(doc.get("attributes"), dict) else whole(text)


def ci_docs(store: GraphStore, flt: CIFilter, *, whole: bool = True) -> list[Doc]:
    """The export documents of ``store.find_cis(flt)``, from stored text where there is one.
    Not ``whole``: only each document's id and attributes are to be read (a lighter parse)."""
    texts = _reader(store, "find_ci_texts")
    if texts is None:
        models = store.find_cis(flt)
        with no_gc():  # a page of small acyclic dicts: collections would only walk them again
            return [ci_doc(ci) for ci in models]
    page = texts(store, flt)
    with no_gc():
        if whole:
            return [stored_ci_doc(text) for text in page]
        return [_light(text, stored_ci_doc) for text in page]


def relationship_docs(store: GraphStore, flt: RelFilter, *, whole: bool = True) -> list[Doc]:
    """The export documents of ``store.find_relationships(flt)`` (see :func:`ci_docs`)."""
    texts = _reader(store, "find_relationship_texts")
    if texts is None:
        models = store.find_relationships(flt)
        with no_gc():
            return [rel_doc(rel) for rel in models]
    page = texts(store, flt)
    with no_gc():
        if whole:
            return [stored_rel_doc(text) for text in page]
        return [_light(text, stored_rel_doc) for text in page]


def moved_on(after: Any, first: Any) -> None:
    """Guard against a store that ignores the cursor (the page would repeat for ever)."""
    if after is not None and first is not None and first <= after:
        raise StoreError(f"the store ignored the paging cursor (after {after!r}); cannot export")


def iter_ci_docs(
    store: GraphStore, *, include_retired: bool, page_size: int, whole: bool = True
) -> Iterator[Doc]:
    """Every CI's document (non-retired ones unless ``include_retired``) in id order, a page
    at a time (not ``whole``: see :func:`ci_docs`)."""
    after: str | None = None
    while True:
        flt = CIFilter(include_retired=include_retired, after=after, limit=page_size)
        page = ci_docs(store, flt, whole=whole)
        moved_on(after, page[0]["id"] if page else None)
        yield from page
        if len(page) < page_size:
            return
        after = page[-1]["id"]


def _key(doc: Doc) -> tuple[str, str, str]:
    return (doc["source"], doc["type"], doc["target"])


def iter_relationship_docs(
    store: GraphStore, *, include_retired: bool, page_size: int, whole: bool = True
) -> Iterator[Doc]:
    """Every relationship's document (active ones unless ``include_retired``) in key order
    (not ``whole``: see :func:`ci_docs`)."""
    after: tuple[str, str, str] | None = None
    while True:
        flt = RelFilter(include_retired=include_retired, after=after, limit=page_size)
        page = relationship_docs(store, flt, whole=whole)
        moved_on(after, _key(page[0]) if page else None)
        yield from page
        if len(page) < page_size:
            return
        after = _key(page[-1])


def export_ci_docs(
    store: GraphStore, records: list[AnyRecord], *, include_retired: bool, page_size: int
) -> Iterator[Doc]:
    """The exported CIs' documents plus those of the retired CIs that records link to, all in
    id order, so the file imports into an empty store."""
    docs = iter_ci_docs(store, include_retired=include_retired, page_size=page_size)
    linked = tuple(sorted({i for r in records for i in r.ci_ids}))
    if include_retired or not linked:
        return docs
    found = ci_docs(store, CIFilter(ids=linked, include_retired=True))
    extra = [d for d in found if d["status"] == Lifecycle.RETIRED.value]
    return heapq.merge(docs, extra, key=lambda d: d["id"]) if extra else docs
