"""Translate Neo4j driver errors into :mod:`cmdb.errors`, in one place.

Like httpx's ``map_httpcore_exceptions``: every driver call of the Neo4j store runs inside
:func:`map_driver_errors`, so no ``neo4j.exceptions`` type ever reaches a caller. Errors of the
project itself (a :class:`~cmdb.errors.ValidationError` raised inside a write transaction) pass
through unchanged. Each message is one line that names the server.

>>> from neo4j.exceptions import ServiceUnavailable
>>> try:
...     with map_driver_errors("bolt://db:7687", "neo4j"):
...         raise ServiceUnavailable("Couldn't connect to db:7687 (reason [Errno 111] refused)")
... except StoreUnavailableError as err:
...     print(err)
cannot reach Neo4j at bolt://db:7687 (connection refused)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from neo4j import exceptions as nx

from cmdb.errors import (
    ConfigError,
    ConflictError,
    StoreError,
    StoreUnavailableError,
)

__all__ = ["map_driver_errors"]


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    if text.startswith("{") and getattr(exc, "message", None):  # a server error's own text
        text = str(getattr(exc, "message", ""))
    return (text.strip() or type(exc).__name__).splitlines()[0]


_REASONS = (
    ("refused", "connection refused"),
    ("timed out", "timed out"),
    ("name or service not known", "unknown host"),
    ("name resolution", "unknown host"),
    ("no route to host", "no route to host"),
)


def _reason(exc: BaseException) -> str:
    text = str(exc).lower()
    return next((reason for needle, reason in _REASONS if needle in text), _first_line(exc))


@contextmanager
def map_driver_errors(uri: str, user: str) -> Iterator[None]:
    """Run a block of driver calls, re-raising driver errors as :mod:`cmdb.errors` types."""
    try:
        yield
    except nx.AuthError:
        raise StoreUnavailableError(
            f"Neo4j at {uri} rejected the credentials for user '{user}'"
        ) from None
    except (nx.ServiceUnavailable, nx.SessionExpired) as exc:
        raise StoreUnavailableError(f"cannot reach Neo4j at {uri} ({_reason(exc)})") from None
    except nx.ConstraintError as exc:
        raise ConflictError(f"Neo4j at {uri} refused a write: {_first_line(exc)}") from None
    except nx.TransientError as exc:  # still failing after the managed transaction's retries
        raise StoreUnavailableError(
            f"Neo4j at {uri} is busy: {exc.code}: {_first_line(exc)}"
        ) from None
    except nx.ConfigurationError as exc:
        raise ConfigError(f"bad Neo4j settings for {uri}: {_first_line(exc)}") from None
    except nx.Neo4jError as exc:
        raise StoreError(f"Neo4j at {uri} failed: {exc.code}: {_first_line(exc)}") from None
    except nx.DriverError as exc:
        raise StoreError(f"Neo4j driver error for {uri}: {_first_line(exc)}") from None
