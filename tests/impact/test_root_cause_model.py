"""The root-cause model: the ranking's marginal likelihood against a brute-force integral, and
the onset order's Bayes factor."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from impact.root_cause_evidence import onset_evidence
from impact.root_cause_model import marginal, onset_fit, rank_marginal


def brute(e: int, t: int, n: int, u: int, grid: int = 1500) -> float:
    """The ranking's marginal by a 2-D midpoint rule: ``p`` uniform, ``q`` log-uniform from
    ``1/(2u)``, restricted to ``q < min(1, t/(u−t))·p``."""
    floor = 0.5 / u
    p = (np.arange(grid) + 0.5) / grid
    q = np.exp(math.log(floor) * (1 - (np.arange(grid) + 0.5) / grid))
    pp, qq = np.meshgrid(p, q, indexing="ij")
    inside = qq < min(1.0, t / max(u - t, 1)) * pp
    ll = e * np.log(pp) + (t - e) * np.log1p(-pp) + n * np.log(qq) + (u - t - n) * np.log1p(-qq)
    ll = np.where(inside, ll, -np.inf)
    top = ll.max()
    return float(top + math.log(np.exp(ll - top).mean()) - math.log(inside.mean()))


class TestRankMarginal:
    @pytest.mark.parametrize(
        ("e", "t", "n", "u"),
        [(2, 4, 20, 26), (22, 24, 0, 26), (3, 9, 0, 26), (1, 1, 0, 1), (9, 10, 1, 24)],
    )
    def test_matches_the_integral(self, e, t, n, u):
        got = rank_marginal(np.asarray([e]), np.asarray([t]), np.asarray([n]), u)[0]
        assert got == pytest.approx(brute(e, t, n, u), abs=0.02)

    def test_arrays_agree_with_one_at_a_time(self):
        e, t, n = np.asarray([1, 3, 3, 5]), np.asarray([1, 9, 4, 300]), np.asarray([4, 2, 2, 0])
        together = rank_marginal(e, t, n, 2000)
        alone = [rank_marginal(e[i : i + 1], t[i : i + 1], n[i : i + 1], 2000)[0] for i in range(4)]
        assert together == pytest.approx(alone)

    def test_noise_is_rarer_than_the_failure(self):
        # 2 of 22 symptoms explained by a radius of 4 cannot beat 22 of 24: with both rates
        # free (the plain form) the background "alerting at 90%" made it close
        few, many = rank_marginal(np.asarray([2, 22]), np.asarray([4, 24]), np.asarray([20, 0]), 26)
        assert many - few > 20
        assert marginal(22, 24, 0, 26) - marginal(2, 4, 20, 26) < 10

    @pytest.mark.parametrize("silent", [1, 3, 10])
    def test_silent_cis_cost(self, silent):
        e = np.asarray([5, 5])
        scores = rank_marginal(e, e + np.asarray([0, silent]), np.asarray([0, 0]), 100)
        assert scores[0] > scores[1]


class TestOnsetFit:
    def test_nearest_first_is_evidence_for(self):
        assert onset_fit(np.asarray([0, 1, 1, 2]), np.asarray([0.0, 1, 2, 3])) > 1

    def test_reversed_is_evidence_against(self):
        assert onset_fit(np.asarray([0, 1, 2, 3]), np.asarray([3.0, 2, 1, 0])) < -1

    @pytest.mark.parametrize(
        ("hops", "times"), [([0, 1, 2], [5.0, 5.0, 5.0]), ([1, 1, 1], [0.0, 2.0, 1.0])]
    )
    def test_ties_and_one_distance_say_nothing(self, hops, times):
        assert onset_fit(np.asarray(hops), np.asarray(times)) == pytest.approx(0)

    def test_grows_with_symptoms_not_pairs(self):
        # a perfect order of 1 + 40 symptoms: pairwise counting gave 40 agreeing pairs per
        # layer; here the factor per symptom is at most log(2)
        hops = np.asarray([0] + [1] * 40)
        fit = onset_fit(hops, np.arange(41, dtype=float))
        assert 1 < fit < 40 * math.log(2)

    def test_evidence_words_and_value(self):
        now = datetime(2026, 1, 7, tzinfo=UTC)
        onset = {ci: now + timedelta(minutes=k) for k, ci in enumerate(["db", "a1", "a2"])}
        ev = onset_evidence({"db": 0, "a1": 1, "a2": 1}, onset)
        assert ev is not None and ev.detail == "onset order fits 2 of 2 pairs along its paths"
        assert ev.value > 0
        assert onset_evidence({"a1": 1, "a2": 1}, onset) is None
