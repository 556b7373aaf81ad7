"""The root-cause ranker's model: marginal likelihoods with the unknown rates integrated out.

Assumptions:

- Only CIs that would alert (``monitored``) and the symptoms themselves are *observable*; the
  others say nothing by staying quiet. Of the observable CIs a candidate's failure makes down or
  degraded (its *alerting radius*, the candidate included), each alerts with an unknown
  detection rate ``p``; every other observable CI alerts by itself with an unknown noise rate
  ``q``. Neither is a constant: both have a uniform prior and are integrated out, so

      log P(symptoms | c) = log B(E+1, T−E+1) + log B(N+1, (U−T)−N+1)

  with ``E`` the symptoms explained out of ``T`` observable CIs in the radius, ``N`` the other
  symptoms and ``U`` the observable CIs. A radius of silent CIs costs its candidate, a radius
  that matches the symptoms wins, and neither the detection rate nor the noise rate needs
  tuning: the data decide them.
- Ordered evidence (onset along paths, down versus degraded) is a count of agreements ``a`` and
  disagreements ``d`` scored against a coin (:func:`order_evidence`): the Bayes factor of "the
  evidence follows the candidate at an unknown rate of at least a half" against "it is random".
  No weight is tuned either.
- A set of ``k`` causes among ``K`` candidates pays ``log C(K, k)`` (a uniform prior over sets),
  which is the stopping rule of the greedy cover.

>>> round(log_beta(1, 1), 3), round(marginal(2, 2, 0, 100), 3) > round(marginal(2, 5, 0, 100), 3)
(0.0, True)
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["log_beta", "log_choose", "marginal", "marginal_array", "order_evidence"]


def log_beta(a: float, b: float) -> float:
    """log B(a, b)."""
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def log_choose(n: int, k: int) -> float:
    """log C(n, k)."""
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def marginal(e: int, t: int, n_other: int, u: int) -> float:
    """log P(symptoms | cause) with both rates integrated out (see the module): ``e`` of ``t``
    observable CIs of the radius alerting, ``n_other`` of the ``u − t`` others."""
    return log_beta(e + 1, t - e + 1) + log_beta(n_other + 1, u - t - n_other + 1)


def marginal_array(e: np.ndarray, t: np.ndarray, n_other: np.ndarray, u: int) -> np.ndarray:
    """:func:`marginal` over arrays, through a table of log factorials."""
    lf = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, u + 2, dtype=np.float64)))])

    def lb(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # log B(a+1, b+1)
        return lf[a] + lf[b] - lf[a + b + 1]

    return lb(e, t - e) + lb(n_other, u - t - n_other)


def order_evidence(agree: int, disagree: int) -> float:
    """The Bayes factor (log) of ``agree`` agreements and ``disagree`` disagreements: "the
    evidence follows the candidate at an unknown rate of at least a half" (uniform on [1/2, 1])
    against chance (a half). Positive when they mostly agree, negative when they mostly do not.

    With ``n = agree + disagree``, the integral is ``B(a+1, d+1)·P(Bin(n+1, 1/2) <= a)``."""
    n = agree + disagree
    ks = np.arange(agree + 1, dtype=np.float64)
    terms = math.lgamma(n + 2) - _lgamma(ks + 1) - _lgamma(n + 2 - ks) - (n + 1) * math.log(2)
    top = float(terms.max())
    tail = top + math.log(float(np.exp(terms - top).sum()))
    return math.log(2) + log_beta(agree + 1, disagree + 1) + tail + n * math.log(2)


def _lgamma(x: np.ndarray) -> np.ndarray:
    return np.asarray([math.lgamma(v) for v in x.tolist()], dtype=np.float64)
