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
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from operator import itemgetter
from typing import Any, TypeVar

from pydantic import ValidationError as PydanticError
from pydantic_core import from_json

from cmdb.bulk import no_gc
from cmdb.enums import Lifecycle
from cmdb.errors import StoreError
from cmdb.filters import CIFilter, RelFilter
from cmdb.import_plan import STORE_OWNED
from cmdb.model import CI, AnyRecord, Identifiers, Relationship
from cmdb.store.protocol import GraphStore
from cmdb.store.stored import UnreadableDocumentError, parse
from cmdb.store.stored import unreadable as stored_unreadable

__all__ = [
    "Doc",
    "attribute_names",
    "ci_doc",
    "ci_docs",
    "export_ci_docs",
    "iter_ci_docs",
    "iter_relationship_docs",
    "keeps_texts",
    "moved_on",
    "paged",
    "rel_doc",
    "relationship_docs",
    "stored_ci_doc",
    "stored_rel_doc",
    "unreadable",
]

T = TypeVar("T")
K = TypeVar("K")
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
    if doc is not None and _has_id_fields(doc["identifiers"]):
        return doc
    return ci_doc(_model(CI, text))


def stored_rel_doc(text: str) -> Doc:
    """The export document of a relationship's stored JSON text (see :func:`stored_ci_doc`)."""
    doc = _parsed(text, _REL_FIELDS)
    return doc if doc is not None else rel_doc(_model(Relationship, text))


def _model(cls: type[CI] | type[Relationship], text: str) -> Any:
    """The stored text through its model (:func:`cmdb.store.stored.parse`), failing as an
    export: a text the model cannot read is a :class:`StoreError` naming the item."""
    try:
        return parse(cls, text)
    except UnreadableDocumentError as exc:
        raise unreadable(exc) from None


def unreadable(exc: PydanticError | UnreadableDocumentError) -> StoreError:
    """The export's error for a document the store holds but its model cannot read
    (pydantic's error, or the store's :class:`UnreadableDocumentError`)."""
    base = exc if isinstance(exc, UnreadableDocumentError) else stored_unreadable(exc)
    return StoreError(f"{base}; cannot export")


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


def _as_stored(text: str, whole: Callable[[str], Doc], fields: tuple[str, ...]) -> Doc:
    """A stored text parsed as it is, for a reader of neither its times nor the store-owned
    fields (which it keeps): when it has the model's ``fields`` in the model's order (a CI's
    identifiers too) and its attributes are an object, the model would give the same values
    for every other field (see the module). Anything else is ``whole(text)``."""
    try:
        doc = from_json(text, cache_strings="keys")
    except ValueError:
        return whole(text)
    if (
        isinstance(doc, dict)
        and tuple(doc) == fields
        and isinstance(doc["attributes"], dict)
        and (fields is not _CI_FIELDS or _has_id_fields(doc["identifiers"]))
    ):
        return doc
    return whole(text)


def _has_id_fields(ids: Any) -> bool:
    return isinstance(ids, dict) and tuple(ids) == _ID_FIELDS


def _page_docs(
    texts: list[str] | None,
    stored: Callable[[str], Doc],
    models: Callable[[], list[T]],
    to_doc: Callable[[T], Doc],
    form: str,
) -> list[Doc]:
    """A page's documents: ``stored`` of each of its stored ``texts`` (``form`` ``cells``:
    :func:`_as_stored`, ``attributes``: :func:`_light`), or, for a store without them (None),
    ``to_doc`` of each of ``models()``."""
    with no_gc():  # a page of small acyclic dicts: collections would only walk them again
        if texts is None:
            return [to_doc(m) for m in models()]
        if form == "whole":
            return [stored(text) for text in texts]
        if form == "cells":
            fields = _CI_FIELDS if stored is stored_ci_doc else _REL_FIELDS
            return [_as_stored(text, stored, fields) for text in texts]
        return [_light(text, stored) for text in texts]


def ci_docs(store: GraphStore, flt: CIFilter, *, form: str = "whole") -> list[Doc]:
    """The export documents of ``store.find_cis(flt)``, from stored text where there is one.
    ``form`` says what is to be read of each: ``whole`` (the export document), ``cells``
    (neither times nor store-owned fields, which it may hold: a lighter check) or
    ``attributes`` (only the key and the attributes: a lighter parse)."""
    texts = _reader(store, "find_ci_texts")
    page = texts(store, flt) if texts is not None else None
    return _page_docs(page, stored_ci_doc, partial(store.find_cis, flt), ci_doc, form)


def relationship_docs(store: GraphStore, flt: RelFilter, *, form: str = "whole") -> list[Doc]:
    """The export documents of ``store.find_relationships(flt)`` (see :func:`ci_docs`)."""
    texts = _reader(store, "find_relationship_texts")
    page = texts(store, flt) if texts is not None else None
    models = partial(store.find_relationships, flt)
    return _page_docs(page, stored_rel_doc, models, rel_doc, form)


def attribute_names(
    store: GraphStore, what: str, *, include_retired: bool, page_size: int
) -> list[str]:
    """The sorted names of the attributes of the CIs (``what`` = ``cis``, non-retired ones
    unless ``include_retired``) or relationships (active ones unless ``include_retired``) an
    export writes: asked of the store where it can answer (``attribute_names``: SQLite reads
    them from its stored JSON with ``json_each``, about 3.5 times faster than parsing each
    text here), else read from every item's document, a page at a time.

    >>> class Store:
    ...     def find_cis(self, flt):
    ...         return [CI(id="a", ci_class="application", name="A", attributes={"z": 1, "b": 2})]
    >>> attribute_names(Store(), "cis", include_retired=False, page_size=10)
    ['b', 'z']
    """
    ask = getattr(type(store), "attribute_names", None)
    names = ask(store, what, include_retired=include_retired) if ask is not None else None
    if names is not None:
        return sorted(names)
    docs = iter_ci_docs if what == "cis" else iter_relationship_docs
    pages = docs(store, include_retired=include_retired, page_size=page_size, form="attributes")
    return sorted({k for doc in pages for k in doc["attributes"]})


def moved_on(after: Any, first: Any) -> None:
    """Guard against a store that ignores the cursor (the page would repeat for ever)."""
    if after is not None and first is not None and first <= after:
        raise StoreError(f"the store ignored the paging cursor (after {after!r}); cannot export")


def paged(
    read: Callable[[K | None], Sequence[T]], key: Callable[[T], K], page_size: int
) -> Iterator[T]:
    """Every item ``read(after)`` gives, page after page: ``after`` is None, then the ``key``
    of the last item of the previous page; a page shorter than ``page_size`` is the last.

    >>> items = [1, 2, 3, 4, 5]
    >>> list(paged(lambda a: [i for i in items if a is None or i > a][:2], int, 2))
    [1, 2, 3, 4, 5]
    """
    after: K | None = None
    while True:
        page = read(after)
        moved_on(after, key(page[0]) if page else None)
        yield from page
        if len(page) < page_size:
            return
        after = key(page[-1])


def iter_ci_docs(
    store: GraphStore, *, include_retired: bool, page_size: int, form: str = "whole"
) -> Iterator[Doc]:
    """Every CI's document (non-retired ones unless ``include_retired``) in id order, a page
    at a time (``form``: see :func:`ci_docs`)."""

    def read(after: str | None) -> list[Doc]:
        flt = CIFilter(include_retired=include_retired, after=after, limit=page_size)
        return ci_docs(store, flt, form=form)

    return paged(read, itemgetter("id"), page_size)


def _key(doc: Doc) -> tuple[str, str, str]:
    return (doc["source"], doc["type"], doc["target"])


def iter_relationship_docs(
    store: GraphStore, *, include_retired: bool, page_size: int, form: str = "whole"
) -> Iterator[Doc]:
    """Every relationship's document (active ones unless ``include_retired``) in key order
    (``form``: see :func:`ci_docs`)."""

    def read(after: tuple[str, str, str] | None) -> list[Doc]:
        flt = RelFilter(include_retired=include_retired, after=after, limit=page_size)
        return relationship_docs(store, flt, form=form)

    return paged(read, _key, page_size)


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
