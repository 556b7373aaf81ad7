"""The project's exceptions, in one tree.

Every error a user can cause is a :class:`CMDBError`; the CLI and the API turn it into one
clear line (or one JSON problem) and a non-zero exit code. Anything else is a bug.

    CMDBError                       base class; ``str(err)`` is the one line a user sees
    ├── ValidationError             bad data: names the field, and the file and line when known
    │   ├── UnknownClassError       a CI class the registry does not define
    │   ├── UnknownRelTypeError     a relationship type the registry does not define
    │   └── RelationshipRuleError   a relationship between classes the rule table forbids
    ├── NotFoundError               a CI, relationship or record id that does not exist
    ├── ConflictError               a write that contradicts the stored state (duplicate id,
    │   │                           retired endpoint)
    │   └── StaleVersionError       the entity changed since the version the writer read
    ├── RegistryError               a class registry file that is itself invalid
    ├── ImportFormatError           an import file that cannot be parsed (names file and line)
    ├── ConfigError                 bad settings: an unknown store URI, a missing password
    ├── AuthError                   a missing, malformed, unknown, revoked or expired API key
    └── StoreError                  the store failed (a closed store, a read-only file)
        └── StoreUnavailableError   the store cannot be reached (connection refused, auth, busy)
            └── StoreNotFoundError  no store at that path (and the command does not create one)
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "CMDBError",
    "ConfigError",
    "ConflictError",
    "ImportFormatError",
    "NotFoundError",
    "RegistryError",
    "RelationshipRuleError",
    "StaleVersionError",
    "StoreError",
    "StoreNotFoundError",
    "StoreUnavailableError",
    "UnknownClassError",
    "UnknownRelTypeError",
    "ValidationError",
]


class CMDBError(Exception):
    """Base class of every user-facing error. ``str(err)`` is a complete sentence."""


class ValidationError(CMDBError):
    """Data that breaks the model or the registry.

    ``location`` is where the bad data came from (``"demo.json:12"``, ``"row 3"``) and ``field``
    the offending field; both are folded into the message.
    """

    def __init__(self, message: str, *, field: str | None = None, location: str | None = None):
        self.field = field
        self.location = location
        self.detail = message
        prefix = f"{location}: " if location else ""
        where = f"field '{field}': " if field else ""
        super().__init__(f"{prefix}{where}{message}")

    def at(self, location: str) -> ValidationError:
        """Return a copy of this error located at ``location`` (a file, line or batch item)."""
        located = f"{location}: {self.location}" if self.location else location
        err = type(self).__new__(type(self))
        ValidationError.__init__(err, self.detail, field=self.field, location=located)
        return err


class UnknownClassError(ValidationError):
    """A CI class that the registry does not define."""


class UnknownRelTypeError(ValidationError):
    """A relationship type that the registry does not define."""


class RelationshipRuleError(ValidationError):
    """A relationship whose class pair the registry's rule table does not allow."""


class NotFoundError(CMDBError):
    """An id that does not exist in the store."""

    def __init__(self, kind: str, ident: str):
        self.kind = kind
        self.ident = ident
        super().__init__(f"{kind} '{ident}' not found")


class ConflictError(CMDBError):
    """A write that contradicts what is stored."""


class ChangedDuringReadError(ConflictError):
    """A read in several pages (an export) during which the store changed: the pages could mix
    two states of it (a relationship without its CI)."""


class StaleVersionError(ConflictError):
    """A write guarded by a version that is no longer the stored one (a lost update avoided)."""

    def __init__(self, message: str, *, stored: int, expected: int):
        self.stored = stored
        self.expected = expected
        super().__init__(message)


class RegistryError(CMDBError):
    """A class registry file that is invalid."""


class ImportFormatError(CMDBError):
    """An import file that cannot be read; the message names the file and line."""


class ConfigError(CMDBError):
    """Settings that cannot work: an unknown store URI scheme, a missing credential."""


class AuthError(CMDBError):
    """An API key that does not authenticate; the message never repeats the key."""


class StoreError(CMDBError):
    """The store failed in a way the user cannot fix by changing their input."""


class StoreUnavailableError(StoreError):
    """The store cannot be reached: connection refused, authentication failed, timed out."""


class StoreNotFoundError(StoreUnavailableError):
    """No store exists at the path, and the command does not create one."""

    def __init__(self, path: object):
        self.path = path
        super().__init__(
            f"no store at {path}: create one with `cmdb init` (or check --db / CMDB_DB)"
        )
