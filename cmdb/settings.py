"""Settings, read from the environment (``CMDB_*``) and command-line overrides.

Nothing is read at import time: call :func:`load_settings` where settings are needed.

>>> Settings(db="/tmp/x.db").store_uri
'sqlite:////tmp/x.db'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from platformdirs import user_cache_dir, user_data_dir
from pydantic import Field, SecretStr
from pydantic import ValidationError as PydanticError
from pydantic_settings import BaseSettings, SettingsConfigDict

from cmdb.errors import ConfigError

__all__ = ["Settings", "default_cache_dir", "default_db_path", "load_settings"]


def default_db_path() -> Path:
    """The embedded store's default file, in the user's data directory."""
    return Path(user_data_dir("graph-cmdb", appauthor=False)) / "cmdb.db"


def default_cache_dir() -> Path:
    """Where snapshots of stores whose own directory is read-only are cached
    (``$XDG_CACHE_HOME/graph-cmdb`` on Linux), in a subdirectory per store id."""
    return Path(user_cache_dir("graph-cmdb", appauthor=False))


class Settings(BaseSettings):
    """``CMDB_STORE`` (a URI: ``sqlite:///path``, ``neo4j://host:7687``, ``bolt://…``,
    ``neo4j+s://…``) wins over ``CMDB_DB`` (a path to the embedded store's file).
    ``CMDB_READ_ONLY=1`` opens the embedded store read-only even where the file is writable
    (it is opened read-only anyway when the file or its directory is not writable)."""

    model_config = SettingsConfigDict(env_prefix="CMDB_", extra="ignore")

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

    @property
    def store_uri(self) -> str:
        if self.store:
            return self.store
        return f"sqlite:///{self.db or default_db_path()}"


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with non-None ``overrides`` (from CLI options) on top."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except PydanticError as exc:
        err = exc.errors()[0]
        name = "CMDB_" + "_".join(str(p) for p in err["loc"]).upper()
        raise ConfigError(f"setting {name}: {err['msg']}") from None
