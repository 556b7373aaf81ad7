"""Settings read from ``CMDB_*`` by hand, checked against pydantic-settings (which read them
until it cost every command 45 ms of its start): the same environment gives the same settings,
or an error in both."""

from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import Field, SecretStr
from pydantic import ValidationError as PydanticError
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from cmdb.errors import ConfigError
from cmdb.settings import Settings, environment, load_settings


class Reference(BaseSettings):
    """The settings class as it was on pydantic-settings."""

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
    risk_weights: Path | None = None
    api_max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    api_cors_origins: list[str] = Field(default_factory=list)


def test_the_reference_has_the_same_fields():
    assert list(Reference.model_fields) == list(Settings.model_fields)


TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF), max_size=12)
VALUES = {
    "db": TEXT,
    "store": TEXT,
    "registry": TEXT,
    "neo4j_user": TEXT,
    "neo4j_password": TEXT,
    "actor": TEXT,
    "read_only": st.sampled_from(["1", "0", "true", "False", "yes", "off", "maybe", ""]),
    "stale_days": st.sampled_from(["7", "0.5", "0", "-1", "1e3", "soon", "", "nan"]),
    "api_max_body_bytes": st.sampled_from(["2048", "1024", "10", "1.5", "x"]),
    "api_cors_origins": st.sampled_from(['["https://a.example"]', "[]", '"x"', "[1]", "nope"]),
}


def _name(field: str, case: int) -> str:
    return (
        ("CMDB_" + field).upper()
        if case == 0
        else ("cmdb_" + field if case == 1 else "Cmdb_" + field.upper())
    )


@st.composite
def environments(draw):
    fields = draw(st.lists(st.sampled_from(sorted(VALUES)), unique=True, max_size=5))
    env = {_name(f, draw(st.integers(0, 2))): draw(VALUES[f]) for f in fields}
    env.update(draw(st.dictionaries(st.sampled_from(["HOME", "CMDB_OTHER", "CMDBX_DB"]), TEXT)))
    return env


def _dump(model) -> dict | str:
    data = model.model_dump()
    secret = data.get("neo4j_password")
    data["neo4j_password"] = secret.get_secret_value() if secret is not None else None
    return data


@settings(max_examples=150, deadline=None)
@given(env=environments())
def test_an_environment_gives_what_pydantic_settings_gave(env):
    with mock.patch.dict(os.environ, env, clear=True):
        try:
            expected = _dump(Reference())
        except (PydanticError, SettingsError):
            expected = "error"
        try:
            got = _dump(load_settings())
        except ConfigError:
            got = "error"
    assert got == expected


class TestEnvironment:
    def test_values_given_win_over_the_environment(self):
        with mock.patch.dict(os.environ, {"CMDB_DB": "/env.db", "CMDB_ACTOR": "env"}, clear=True):
            s = load_settings(db="/given.db", actor=None)
        assert (s.db, s.actor) == (Path("/given.db"), "env")

    def test_only_cmdb_names_of_fields_are_read(self):
        assert environment({"CMDB_NOPE": "1", "CMDBDB": "x", "DB": "y", "cmdb_db": "z"}) == {
            "db": "z"
        }

    @pytest.mark.parametrize(
        ("env", "match"),
        [
            (
                {"CMDB_STALE_DAYS": "soon"},
                "setting CMDB_STALE_DAYS: Input should be a valid number",
            ),
            ({"CMDB_STALE_DAYS": "0"}, "setting CMDB_STALE_DAYS: Input should be greater than 0"),
            ({"cmdb_api_cors_origins": "nope"}, r"setting cmdb_api_cors_origins: not JSON \("),
            ({"CMDB_API_CORS_ORIGINS": "[1]"}, "setting CMDB_API_CORS_ORIGINS_0: Input should be"),
            ({"CMDB_READ_ONLY": "maybe"}, "setting CMDB_READ_ONLY: Input should be a valid bool"),
        ],
    )
    def test_a_bad_value_names_its_variable(self, env, match):
        with mock.patch.dict(os.environ, env, clear=True), pytest.raises(ConfigError, match=match):
            load_settings()


def test_a_command_with_a_bad_json_setting_says_so_in_one_line(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from cli.main import app

    monkeypatch.setenv("CMDB_API_CORS_ORIGINS", "https://a.example")
    result = CliRunner().invoke(app, ["--db", str(tmp_path / "x.db"), "ci", "list"])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "error: setting CMDB_API_CORS_ORIGINS: not JSON (Expecting value: line 1 column 1 (char 0))"
    ]
