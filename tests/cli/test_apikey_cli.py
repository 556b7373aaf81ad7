"""`cmdb apikey`: create (the token printed once), list (never a secret), revoke."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import typer

from cli.apikey import parse_expiry
from cmdb import apikeys
from cmdb.errors import AuthError
from cmdb.settings import Settings
from cmdb.store import open_store


def one_line(result) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def verify(cmdb, token):
    store = open_store(Settings(db=cmdb.db))
    try:
        return apikeys.verify_key(store, token)
    finally:
        store.close()


class TestCreate:
    def test_token_once_on_stdout_with_a_warning(self, cmdb):
        result = cmdb("apikey", "create", "--role", "analyst", "--name", "noc")
        token = result.stdout.strip()
        assert "\n" not in token and token.startswith("cmdb_KEY-000001_")
        assert "shown only once" in result.stderr and token not in result.stderr
        key = verify(cmdb, token)
        assert (key.name, key.role.value, key.expires_at) == ("noc", "analyst", None)

    def test_json_and_default_name_and_expiry_date(self, cmdb):
        out = cmdb("apikey", "create", "--role", "reader", "--expires", "2999-01-31", "-f", "json")
        body = json.loads(out.stdout)
        assert (body["name"], body["expires_at"]) == ("reader", "2999-02-01T00:00:00+00:00")
        assert "secret_sha256" not in body and verify(cmdb, body["token"]).id == body["id"]

    @pytest.mark.parametrize(
        ("args", "code", "message"),
        [
            (["--role", "root"], 2, "'root' is not one of"),
            ([], 2, "--role"),
            (["--role", "reader", "--expires", "soon"], 2, "not an ISO date or time"),
            (["--role", "reader", "--expires", "2020-01-01"], 1, "'--expires': is not in the"),
        ],
    )
    def test_bad_input_is_one_line(self, cmdb, args, code, message):
        result = cmdb("apikey", "create", *args, code=code)
        assert message in one_line(result) and result.stdout == ""
        assert json.loads(cmdb("apikey", "list", "-f", "json").stdout) == []


class TestParseExpiry:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("2027-01-31", datetime(2027, 2, 1, tzinfo=UTC)),
            ("2027-12-31", datetime(2028, 1, 1, tzinfo=UTC)),
            ("2027-01-31T18:00", datetime(2027, 1, 31, 18, tzinfo=UTC)),
            ("2027-01-31T18:00Z", datetime(2027, 1, 31, 18, tzinfo=UTC)),
            ("2027-01-31T18:00+02:00", datetime(2027, 1, 31, 16, tzinfo=UTC)),
        ],
    )
    def test_dates_are_whole_days_and_times_are_utc_by_default(self, text, expected):
        assert parse_expiry(text) == expected

    @pytest.mark.parametrize("text", ["2027-13-01", "31/01/2027", "", "2027-01-31T25:00"])
    def test_bad_text(self, text):
        with pytest.raises(typer.BadParameter, match="not an ISO date or time"):
            parse_expiry(text)


class TestList:
    def test_never_shows_a_secret(self, cmdb):
        tokens = [cmdb("apikey", "create", "--role", r).stdout.strip() for r in ("reader", "admin")]
        table = cmdb("apikey", "list")
        as_json = cmdb("apikey", "list", "-f", "json")
        assert "KEY-000002" in table.stdout
        assert [k["role"] for k in json.loads(as_json.stdout)] == ["reader", "admin"]
        for token in tokens:
            secret = apikeys.token_parts(token)[1]
            for out in (table.stdout + table.stderr, as_json.stdout):
                assert secret not in out and "sha256" not in out and "token" not in out


class TestRevoke:
    def test_revoked_key_stops_working_and_is_listed_when_asked(self, cmdb):
        token = cmdb("apikey", "create", "--role", "reader").stdout.strip()
        assert "revoked KEY-000001" in cmdb("apikey", "revoke", "KEY-000001").stderr
        with pytest.raises(AuthError, match="revoked"):
            verify(cmdb, token)
        assert json.loads(cmdb("apikey", "list", "-f", "json").stdout) == []
        listed = json.loads(cmdb("apikey", "list", "--include-revoked", "-f", "json").stdout)
        assert listed[0]["revoked_at"] is not None
        again = cmdb("apikey", "revoke", "KEY-000001", code=1)
        assert "already revoked" in one_line(again)

    def test_by_token_without_echoing_it(self, cmdb):
        token = cmdb("apikey", "create", "--role", "reader").stdout.strip()
        result = cmdb("apikey", "revoke", token)
        assert "KEY-000001" in result.stderr and token not in result.stdout + result.stderr

    def test_unknown_key_is_one_line(self, cmdb):
        result = cmdb("apikey", "revoke", "KEY-000042", code=1)
        assert "API key 'KEY-000042' not found" in one_line(result)

    def test_no_store_is_exit_3(self, tmp_path):
        from tests.cli.conftest import Cmdb

        result = Cmdb(tmp_path / "missing.db")("apikey", "list", code=3)
        assert "no store at" in one_line(result)
