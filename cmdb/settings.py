"""Settings, read from the environment (``CMDB_*``) and command-line overrides.

Nothing is read at import time: call :func:`load_settings` where settings are needed.

Assumptions: every setting is one environment variable, ``CMDB_`` and the field's name in any
case (``CMDB_DB``, ``cmdb_db``); a list-valued one (``CMDB_API_CORS_ORIGINS``) is JSON, every
other one a plain string that the field's type reads (``CMDB_READ_ONLY=1``,
``CMDB_STALE_DAYS=14``). Values given to :class:`Settings` win over the environment. This is
what ``pydantic-settings`` did with this one source; it is read here by hand because importing
``pydantic-settings`` (with ``asyncio``, ``argparse`` and ``dotenv``) cost every command
about 45 ms of a 0.3 s start (docs/benchmarks.md, "CLI process start").

>>> Settings(db="/tmp/x.db").store_uri
'sqlite:////tmp/x.db'
>>> environment({"CMDB_READ_ONLY": "1", "cmdb_stale_days": "7", "HOME": "/root"})
{'read_only': '1', 'stale_days': '7'}
>>> environment({"CMDB_API_CORS_ORIGINS": '["https://ops.example"]'})
{'api_cors_origins': ['https://ops.example']}
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic import ValidationError as PydanticError

from cmdb.errors import ConfigError

__all__ = ["Settings", "default_cache_dir", "default_db_path", "environment", "load_settings"]

ENV_PREFIX = "CMDB_"
_JSON_FIELDS = frozenset({"api_cors_origins"})  # the list-valued settings: JSON in the env


def default_db_path() -> Path:
    """The embedded store's default file, in the user's data directory."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("graph-cmdb", appauthor=False)) / "cmdb.db"


def default_cache_dir() -> Path:
    """Where snapshots of stores whose own directory is read-only are cached
    (``$XDG_CACHE_HOME/graph-cmdb`` on Linux), in a subdirectory per store id."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("graph-cmdb", appauthor=False))


class Settings(BaseModel):
    """``CMDB_STORE`` (a URI: ``sqlite:///path``, ``neo4j://host:7687``, ``bolt://…``,
    ``neo4j+s://…``) wins over ``CMDB_DB`` (a path to the embedded store's file).
    ``CMDB_READ_ONLY=1`` opens the embedded store read-only even where the file is writable
    (it is opened read-only anyway when the file or its directory is not writable).

    Every field is read from its ``CMDB_*`` variable (see :func:`environment`) unless given."""

    model_config = ConfigDict(extra="ignore", validate_default=True)

    db: Path | None = None
    store: str | None = None
    registry: Path | None = None
    neo4j_user: str = "neo4j"
    neo4j_password: SecretStr | None = None
    neo4j_database: str | None = None
    actor: str | None = None
    read_only: bool = False
    stale_days: float = Field(default=30.0, gt=0)
    audit_rules: Path | None = None
    """A YAML file of audit rules over the packaged ones (``CMDB_AUDIT_RULES``)."""
    risk_weights: Path | None = None
    """A YAML file of change-risk weights over the packaged ones (``CMDB_RISK_WEIGHTS``)."""
    # the REST API (``cmdb serve``)
    api_max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    """The largest request body the API accepts (413 above it); imports are one request."""
    api_cors_origins: list[str] = Field(default_factory=list)
    """Origins allowed to call the API from a browser (``CMDB_API_CORS_ORIGINS='["https://…"]'``);
    none by default: CORS is off."""

    @model_validator(mode="before")
    @classmethod
    def _with_environment(cls, data: Any) -> Any:
        """The environment under the values given."""
        return {**environment(), **data} if isinstance(data, dict) else data

    @property
    def store_uri(self) -> str:
        if self.store:
            return self.store
        return f"sqlite:///{self.db or default_db_path()}"


def environment(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The settings ``environ`` (default: ``os.environ``) gives, by field name: ``CMDB_NAME``
    in any case; JSON decoded for list-valued fields (:class:`~cmdb.errors.ConfigError` naming
    the variable when it is not JSON); other values as strings, which the field reads."""
    environ = os.environ if environ is None else environ
    found: dict[str, Any] = {}
    for key, value in environ.items():
        name = key.lower().removeprefix(ENV_PREFIX.lower())
        if len(name) == len(key) or name not in Settings.model_fields:
            continue
        if name in _JSON_FIELDS:
            try:
                found[name] = json.loads(value)
            except ValueError as exc:
                raise ConfigError(f"setting {key}: not JSON ({exc})") from None
        else:
            found[name] = value
    return found


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with non-None ``overrides`` (from CLI options) on top."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except PydanticError as exc:
        err = exc.errors()[0]
        name = ENV_PREFIX + "_".join(str(p) for p in err["loc"]).upper()
        raise ConfigError(f"setting {name}: {err['msg']}") from None
