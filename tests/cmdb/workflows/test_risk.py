"""Risk weights from YAML (the packaged defaults and an override) and the change assessments
that load them; impact itself takes them as data."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime

import pytest

from cmdb.errors import ConfigError
from cmdb.model import Batch, Change
from cmdb.workflows import risk
from cmdb.workflows.risk import DEFAULT_WEIGHTS, assess_proposed, load_risk_weights
from tests.impact.reference import REPO
from tests.impact.test_change_risk import FACTORS

WINDOW = {
    "window_start": datetime(2026, 1, 10, 1, tzinfo=UTC),
    "window_end": datetime(2026, 1, 10, 2, tzinfo=UTC),
}


class TestLoadRiskWeights:
    def test_default(self):
        w = load_risk_weights()
        assert list(w.weights) == FACTORS and w.source == "risk_weights.yaml"
        assert w.level_for(0) == "low" and w.level_for(80) == "critical"

    def test_default_is_package_data(self):
        assert DEFAULT_WEIGHTS.parent == REPO / "cmdb" / "workflows" and DEFAULT_WEIGHTS.is_file()
        config = tomllib.loads((REPO / "pyproject.toml").read_text())
        assert "*.yaml" in config["tool"]["setuptools"]["package-data"]["cmdb.workflows"]

    def test_override_keeps_missing_sections(self, tmp_path):
        path = tmp_path / "w.yaml"
        path.write_text("levels: {low: 0, medium: 10, high: 20, critical: 30}\n")
        w = load_risk_weights(path)
        assert w.level_for(25) == "high" and w.source == str(path)
        assert list(w.weights) == FACTORS

    @pytest.mark.parametrize(
        ("text", "match"),
        [
            ("factors: [1, 2]", "invalid"),
            ("factors:\n  spof: {weight: -1}\n", "weights must"),
            ("levels: {low: 0, huge: 10}\n", "levels must"),
            ("a: [\n", "not valid YAML"),
            ("- 1\n", "mapping"),
            ("cab: {min_level: extreme}\n", "unknown level"),
            ("maintenance_windows: {default: 'sat 99:00-01:00'}\n", "bad maintenance window"),
            ("maintenance_windows: {timezone: Mars/Olympus}\n", "unknown timezone"),
        ],
    )
    def test_invalid(self, tmp_path, text, match):
        path = tmp_path / "bad.yaml"
        path.write_text(text)
        with pytest.raises(ConfigError, match=match):
            load_risk_weights(path)

    def test_missing_file(self, tmp_path):
        with pytest.raises(ConfigError, match="cannot read risk weights"):
            load_risk_weights(tmp_path / "none.yaml")


class TestAssess:
    @pytest.mark.parametrize("given", ["path", "loaded", "default"])
    def test_weights_as_path_data_or_default(self, estate, tmp_path, given):
        path = tmp_path / "strict.yaml"
        path.write_text("cab: {min_level: low}\n")
        weights = {"path": path, "loaded": load_risk_weights(path), "default": None}[given]
        result = assess_proposed(
            estate, ci_ids=["pc-1"], change_type="standard", weights=weights, **WINDOW
        )
        assert result.level == "low"
        assert result.cab_required is (given != "default")
        assert result.weights_source == (str(path) if given != "default" else "risk_weights.yaml")

    def test_assess_change_reads_the_override(self, estate, tmp_path):
        estate.apply(Batch(records=[Change(id="CHG-000001", ci_ids=["pc-1"], **WINDOW)]), actor="t")
        path = tmp_path / "w.yaml"
        path.write_text("cab: {min_level: low}\n")
        result = risk.assess_change(estate, "CHG-000001", weights=path)
        assert result.cab_required and result.weights_source == str(path)
        assert not risk.assess_change(estate, "CHG-000001").cab_required
