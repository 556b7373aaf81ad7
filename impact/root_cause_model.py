"""The root-cause ranker's model: marginal likelihoods with the unknown rates integrated out.

Assumptions:

- Only CIs that would alert (``monitored``) and the symptoms themselves are *observable*; the
  others say nothing by staying quiet. Of the observable CIs a candidate's failure makes down or
  degraded (its *alerting radius*, the candidate included), each alerts with an unknown
  detection rate ``p``; every other observable CI alerts by itself with an unknown noise rate
  ``q``. Neither is a constant: both are integrated out (:func:`rank_marginal`):

  - ``p`` is uniform on (0, 1);
  - ``q`` is scale-free (log-uniform) from half a noise alert in the whole estate,
    ``1/(2U)``, up to 1, since nothing says whether noise is one alert in a thousand or one in
    five: a uniform ``q`` would make a few unexplained symptoms cheap in a small system;
  - and the failure's own alerts outnumber the noise: ``q < p`` and ``q·(U−T) < p·T`` in
    expectation, that is ``q < s·p`` with ``s = min(1, T/(U−T))``. This is what makes a single
    failure an explanation at all (several failures are the cause set's question). Without
    it, a candidate explaining 2 of 22 symptoms "wins" with a background alerting at 90%, and
    in a small system a tiny radius that fits beats the failure whose radius is nearly all.

  With ``E`` the symptoms explained out of ``T`` observable CIs in the radius, ``N`` the other
  symptoms and ``U`` the observable CIs, ``p`` integrates in closed form (a binomial tail) and
  ``q`` on a grid in ``log q``. A radius of silent CIs costs its candidate, a radius that
  matches the symptoms wins, and neither rate needs tuning: the data decide them.
- The cause-set search (many joint scores per query) uses the plain form with both rates
  uniform and independent, in closed form (:func:`marginal`):
  ``log B(E+1, T−E+1) + log B(N+1, (U−T)−N+1)``; it only compares sets with the best single
  cause under the same form.
- Onset (:func:`onset_fit`) and states (:func:`order_evidence`) are Bayes factors against
  chance, with their dispersion integrated out. No weight is tuned either.
- A set of ``k`` causes among ``K`` candidates pays ``log C(K, k)`` (a uniform prior over sets),
  which is the stopping rule of the greedy cover.

>>> round(log_beta(1, 1), 3), round(marginal(2, 2, 0, 100), 3) > round(marginal(2, 5, 0, 100), 3)
(0.0, True)
>>> few, many = rank_marginal(np.asarray([2, 22]), np.asarray([4, 24]), np.asarray([20, 0]), 26)
>>> bool(many > few)  # 22 of 24 explained beats 2 of 4 with 20 unexplained
True
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "log_beta",
    "log_choose",
    "marginal",
    "onset_fit",
    "order_evidence",
    "rank_marginal",
]

GRID = 128  # midpoints over the onset model's dispersion (precision only)
NOISE_GRID = 256  # midpoints over log q (precision only)


def log_beta(a: float, b: float) -> float:
    """log B(a, b)."""
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def log_choose(n: int, k: int) -> float:
    """log C(n, k)."""
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def marginal(e: int, t: int, n_other: int, u: int) -> float:
    """The plain form (see the module): ``e`` of ``t`` observable CIs of the radius alerting,
    ``n_other`` of the ``u − t`` others, both rates uniform and independent."""
    return log_beta(e + 1, t - e + 1) + log_beta(n_other + 1, u - t - n_other + 1)


def rank_marginal(e: np.ndarray, t: np.ndarray, n_other: np.ndarray, u: int) -> np.ndarray:
    """log P(symptoms | cause) per candidate, the ranking's form (see the module).

    ``∫ q^N (1−q)^(U−T−N) · B(E+1, T−E+1) · P(Beta(E+1, T−E+1) > q/s) dπ(q)``, normalised by
    the prior mass of ``q < s·p``; the tail is ``P(Bin(T+1, q/s) <= E)``, once per ``(E, T)``."""
    e, t, n = (np.asarray(x, dtype=np.int64) for x in (e, t, n_other))
    if e.size == 0:
        return np.zeros(0)
    floor = 0.5 / u
    width = -math.log(floor)
    log_q = math.log(floor) + width * (np.arange(NOISE_GRID) + 0.5) / NOISE_GRID
    q = np.exp(log_q)
    log_1q = np.log1p(-q)
    lf = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, u + 3, dtype=np.float64)))])
    noise = n[:, None] * log_q[None, :] + (u - t - n)[:, None] * log_1q[None, :]
    pairs, inverse = np.unique(np.stack([e, t], axis=1), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    tails = np.empty((len(pairs), NOISE_GRID))
    beta_p = np.empty(len(pairs))
    mass = np.empty(len(pairs))
    for i, (ei, ti) in enumerate(pairs.tolist()):
        share = min(1.0, ti / max(u - ti, 1))  # q < share·p: fewer noise alerts than its own
        x = q / share
        ok = x < 1
        k = np.arange(ei + 1)
        lx, l1x = np.log(np.where(ok, x, 0.5)), np.log1p(-np.where(ok, x, 0.5))
        terms = (lf[ti + 1] - lf[k] - lf[ti + 1 - k])[:, None] + k[:, None] * lx[None, :]
        terms = terms + (ti + 1 - k)[:, None] * l1x[None, :]
        top = terms.max(axis=0)
        tails[i] = np.where(ok, top + np.log(np.exp(terms - top).sum(axis=0)), -np.inf)
        beta_p[i] = lf[ei] + lf[ti - ei] - lf[ti + 1]
        mass[i] = (math.log(share / floor) - (share - floor) / share) / width
    inner = noise + tails[inverse]
    top = inner.max(axis=1)
    mean = top + np.log(np.exp(inner - top[:, None]).mean(axis=1))
    return beta_p[inverse] + mean - np.log(mass[inverse])


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


def onset_fit(hops: np.ndarray, times: np.ndarray) -> float:
    """The Bayes factor (log) of the onset ``times`` of a candidate's explained symptoms, ``hops``
    steps down its paths (itself 0), in the order given: "nearer starts first" against a random
    order.

    The model inserts the symptoms one by one, nearest first, into the onset order of those
    before: under chance every position is equally likely; under the candidate a position with
    ``v`` nearer symptoms starting after it has weight ``ρ**v``, with the dispersion ``ρ``
    uniform on (0, 1) and integrated out (``ρ → 1`` is chance). Each insertion is one factor, so
    the evidence grows with the symptoms, not with their pairs; a tie in time is every
    position it allows. No delay or rate is assumed."""
    hops, times = np.asarray(hops), np.asarray(times, dtype=np.float64)
    rho = (np.arange(GRID) + 0.5) / GRID
    log_rho = np.log(rho)[:, None]
    total = np.zeros(GRID)
    order = np.argsort(hops, kind="stable")
    for k, a in enumerate(order.tolist()):
        prev = order[:k]
        lower = hops[prev] < hops[a]
        if k == 0 or not lower.any():
            continue
        latest = np.lexsort((-hops[prev], -times[prev]))
        v = np.concatenate([[0], np.cumsum(lower[latest])])
        weight = log_rho * v[None, :]  # log of each position's weight, per ρ
        after = int(np.count_nonzero(times[prev] > times[a]))
        tie = int(np.count_nonzero(times[prev] == times[a]))
        total += _logsumexp(weight[:, after : after + tie + 1]) - _logsumexp(weight)
        total += math.log((k + 1) / (tie + 1))
    top = float(total.max())
    return top + math.log(float(np.exp(total - top).mean()))


def _logsumexp(x: np.ndarray) -> np.ndarray:
    top = x.max(axis=1)
    return top + np.log(np.exp(x - top[:, None]).sum(axis=1))


def _lgamma(x: np.ndarray) -> np.ndarray:
    return np.asarray([math.lgamma(v) for v in x.tolist()], dtype=np.float64)
