"""Paired comparison of two runs on the same items: is b better than a?

Comparing two accuracies through their separate error bars throws the pairing away:
the two runs see the same questions, and what makes a question hard for one run tends
to make it hard for the other, which cancels in the per-item difference ``d = b - a``.
So, following Miller ("Adding Error Bars to Evals", on paired differences), we analyse
the ``d_i``: ``delta`` is their mean, its standard error ``sqrt(Var(d) / n)``, and the
interval Student-t on ``n - 1`` degrees of freedom (or cluster-robust on ``G - 1`` with
clusters). The p-value comes from

* McNemar's test when both runs score 0/1: only items where they disagree carry
  information; exact binomial below 25 such items, chi-square with continuity
  correction from 25 up (the usual rule; statsmodels' ``mcnemar`` computes both);
* the paired t-test otherwise (scipy's ``ttest_rel``);
* the cluster-robust t-test when items are clustered;
* or, on request, a seeded paired bootstrap of the mean difference.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from doteval._private.stats.bootstrap import DEFAULT_SEED, bootstrap_replicates, percentile
from doteval._private.stats.clustered import ClusterKey, ClusterSums
from doteval._private.stats.distributions import t_sf
from doteval._private.stats.estimate import Difference
from doteval._private.stats.exact import (
    Exact,
    ExactSum,
    add,
    as_real,
    multiply,
    scale,
    split,
    split_if_plain,
    subtract,
    to_float,
)
from doteval._private.stats.intervals import t_interval
from doteval._private.stats.moments import mean_and_variance
from doteval._private.stats.power import detectable_effect

EXACT_BELOW = 25  # discordant pairs: exact binomial below this, chi-square from here up
TESTS = ("auto", "mcnemar", "t", "bootstrap")


def mcnemar(b_wins: int, a_wins: int) -> tuple[float, float, str]:
    """McNemar's test on the discordant pairs: ``(statistic, p_value, test name)``.

    ``b_wins`` items b got right and a wrong, ``a_wins`` the reverse. Below 25 discordant
    pairs the exact two-sided binomial test (statistic ``min(b_wins, a_wins)``,
    ``"mcnemar-exact"``), from 25 up the chi-square form with continuity correction,
    ``(|b - a| - 1)² / (b + a)`` on 1 df (``"mcnemar-chi2"``), floored at 0 so that
    ``b_wins == a_wins`` gives p = 1 (statsmodels would use ``1 / (b + a)`` there).
    """
    for name, count in (("b_wins", b_wins), ("a_wins", a_wins)):
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"{name} must be a count >= 0, got {count!r}")
    discordant = b_wins + a_wins
    if discordant < EXACT_BELOW:
        smaller = min(b_wins, a_wins)
        tail = sum(math.comb(discordant, i) for i in range(smaller + 1))
        # 2 * P(X <= smaller) for X ~ Binomial(discordant, 1/2), one exact rounding.
        return float(smaller), min(1.0, (2 * tail) / (1 << discordant)), "mcnemar-exact"
    statistic = max(abs(b_wins - a_wins) - 1, 0) ** 2 / discordant
    return statistic, math.erfc(math.sqrt(0.5 * statistic)), "mcnemar-chi2"


def paired_t(delta: float, stderr: float, df: float) -> tuple[float, float]:
    """``(t, two-sided p)`` for a mean difference ``delta`` with standard error ``stderr``.

    A zero standard error (every difference equal) gives p = 1 when they are all 0 and
    p = 0 otherwise.
    """
    if stderr == 0.0:
        return (0.0, 1.0) if delta == 0.0 else (math.copysign(math.inf, delta), 0.0)
    statistic = delta / stderr
    return statistic, min(1.0, 2.0 * t_sf(abs(statistic), df))


def _is_binary(value: object) -> bool:
    return value in (0, 1)


@attrs.define(repr=False)
class PairedAccumulator:
    """Folds aligned ``(a, b)`` pairs: O(1) memory (O(clusters) when clustered), exact.

    Keeps exact sums of a, b, a², b² and a·b, so the mean and variance of ``d = b - a``
    (and each run's variance and their covariance, for power analysis) carry no rounding
    from the order of arrival, and two accumulators merge to exactly one.
    """

    n: int = 0
    better: int = 0
    worse: int = 0
    tied: int = 0
    only_a: int = 0
    only_b: int = 0
    binary: bool = True
    _a: ExactSum = attrs.field(factory=ExactSum)
    _b: ExactSum = attrs.field(factory=ExactSum)
    _aa: ExactSum = attrs.field(factory=ExactSum)
    _bb: ExactSum = attrs.field(factory=ExactSum)
    _ab: ExactSum = attrs.field(factory=ExactSum)
    _clusters: ClusterSums | None = None

    def add(
        self,
        a: float | int | bool | None,
        b: float | int | bool | None,
        cluster: ClusterKey | None = None,
    ) -> None:
        """Fold in one item's score under run a and run b (``None``: that run lacks it)."""
        if a is None or b is None:
            if a is not None:
                self.only_a += 1
            elif b is not None:
                self.only_b += 1
            return
        parts_a = split_if_plain(a)
        if parts_a is None:
            a = _finite(a, "a")
            parts_a = split(a)
        parts_b = split_if_plain(b)
        if parts_b is None:
            b = _finite(b, "b")
            parts_b = split(b)
        if cluster is None and self._clusters is not None and self.n:
            raise ValueError("give every pair a cluster, or none: this accumulator has some")
        if cluster is not None:
            if self._clusters is None:
                if self.n:
                    raise ValueError(
                        "give every pair a cluster, or none: earlier pairs came without one"
                    )
                self._clusters = ClusterSums()
            self._clusters.add_exact(cluster, *subtract(parts_b, parts_a))
        self.n += 1
        if b > a:
            self.better += 1
        elif b < a:
            self.worse += 1
        else:
            self.tied += 1
        if self.binary and not (_is_binary(a) and _is_binary(b)):
            self.binary = False
        (mantissa_a, exponent_a), (mantissa_b, exponent_b) = parts_a, parts_b
        self._a.add_exact(mantissa_a, exponent_a)
        self._b.add_exact(mantissa_b, exponent_b)
        self._aa.add_exact(mantissa_a * mantissa_a, 2 * exponent_a)
        self._bb.add_exact(mantissa_b * mantissa_b, 2 * exponent_b)
        self._ab.add_exact(mantissa_a * mantissa_b, exponent_a + exponent_b)

    def merge(self, other: PairedAccumulator) -> None:
        """Fold in another accumulator's pairs."""
        if (self._clusters is None) != (other._clusters is None) and self.n and other.n:
            raise ValueError("cannot merge clustered pairs with unclustered ones")
        for name in ("n", "better", "worse", "tied", "only_a", "only_b"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.binary = self.binary and other.binary
        for mine, theirs in (
            (self._a, other._a),
            (self._b, other._b),
            (self._aa, other._aa),
            (self._bb, other._bb),
            (self._ab, other._ab),
        ):
            mine.merge(theirs)
        if other._clusters is not None:
            if self._clusters is None:
                self._clusters = ClusterSums()
            self._clusters.merge(other._clusters)

    def _difference_sums(self) -> tuple[Exact, Exact]:
        """Exact ``Σd`` and ``Σd² = Σb² - 2Σab + Σa²``."""
        total = subtract(self._b.exact, self._a.exact)
        squares = add(subtract(self._bb.exact, scale(self._ab.exact, 2)), self._aa.exact)
        return total, squares

    @property
    def delta(self) -> float | None:
        """Mean of ``b - a`` over the pairs, correctly rounded."""
        if self.n == 0:
            return None
        return to_float(self._difference_sums()[0], self.n)

    @property
    def sd_difference(self) -> float | None:
        """Sample standard deviation of ``b - a``: what power analysis of a paired design needs."""
        variance = mean_and_variance(self.n, *self._difference_sums())[1] if self.n else None
        return None if variance is None else math.sqrt(variance)

    @property
    def variances(self) -> tuple[float, float, float] | None:
        """``(Var(a), Var(b), Cov(a, b))`` (sample, ``n - 1``), for :func:`paired_sd`."""
        if self.n < 2:
            return None
        n = self.n
        a, b = self._a.exact, self._b.exact
        covariance = subtract(scale(self._ab.exact, n), multiply(a, b))
        return (
            mean_and_variance(n, a, self._aa.exact)[1] or 0.0,
            mean_and_variance(n, b, self._bb.exact)[1] or 0.0,
            to_float(covariance, n * (n - 1)),
        )

    def difference(self, level: float = 0.95, test: str = "auto") -> Difference:
        """The paired :class:`Difference` of b over a (see the module docstring).

        ``test="auto"`` picks the cluster-robust t-test when pairs have clusters, McNemar
        when every score is 0/1, and the paired t-test otherwise; ``"mcnemar"`` and
        ``"t"`` force one. The bootstrap needs the values: use :func:`paired_difference`.
        """
        if test not in TESTS:
            raise ValueError(f"test must be one of {', '.join(TESTS)}; got {test!r}")
        if test == "bootstrap":
            raise ValueError(
                "the paired bootstrap resamples the values, which an accumulator does not"
                " keep: call paired_difference(a, b, test='bootstrap')"
            )
        if test == "mcnemar" and not self.binary:
            raise ValueError("McNemar's test needs 0/1 scores; use test='t' for other scores")
        counts = {
            "better": self.better,
            "worse": self.worse,
            "tied": self.tied,
            "only_a": self.only_a,
            "only_b": self.only_b,
            "n": self.n,
        }
        if self.n == 0:
            return Difference(None, None, None, level, None, "none", **counts)
        total, squares = self._difference_sums()
        delta = to_float(total, self.n)
        stderr: float | None
        if self._clusters is not None and test != "mcnemar":
            estimate = self._clusters.estimate(level)
            stderr, interval, groups = estimate.stderr, estimate.ci, estimate.n
            p = None if stderr is None else paired_t(delta, stderr, groups - 1)[1]
            name = "clustered-t"
        else:
            variance = mean_and_variance(self.n, total, squares)[1]
            stderr = None if variance is None else math.sqrt(variance / self.n)
            interval = None if stderr is None else t_interval(delta, stderr, self.n - 1, level)
            if test == "mcnemar" or (test == "auto" and self.binary):
                _, p, name = mcnemar(self.better, self.worse)
            else:
                p = None if stderr is None else paired_t(delta, stderr, self.n - 1)[1]
                name = "paired-t"
        mde = detectable_effect(stderr, alpha=1.0 - level) if stderr else None
        return Difference(delta, stderr, interval, level, p, name, mde=mde, **counts)

    def state(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot."""
        state: dict[str, Any] = {
            name: getattr(self, name)
            for name in ("n", "better", "worse", "tied", "only_a", "only_b", "binary")
        }
        for name in ("a", "b", "aa", "bb", "ab"):
            state[name] = getattr(self, f"_{name}").state()
        if self._clusters is not None:
            state["clusters"] = self._clusters.state()
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> PairedAccumulator:
        """Inverse of :meth:`state`."""
        clusters = state.get("clusters")
        return cls(
            n=int(state["n"]),
            better=int(state["better"]),
            worse=int(state["worse"]),
            tied=int(state["tied"]),
            only_a=int(state["only_a"]),
            only_b=int(state["only_b"]),
            binary=bool(state["binary"]),
            a=ExactSum.from_state(state["a"]),
            b=ExactSum.from_state(state["b"]),
            aa=ExactSum.from_state(state["aa"]),
            bb=ExactSum.from_state(state["bb"]),
            ab=ExactSum.from_state(state["ab"]),
            clusters=None if clusters is None else ClusterSums.from_state(clusters),
        )


def _finite(value: Any, name: str) -> float | int:
    number = as_real(value, f"paired scores ({name})")
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError(f"paired scores must be finite; {name}={value!r}")
    return number


Scores = Sequence[Any] | Mapping[Any, Any]


def _align(
    a: Scores, b: Scores, clusters: Scores | None
) -> list[tuple[Any, Any, ClusterKey | None]]:
    if isinstance(a, Mapping) != isinstance(b, Mapping):
        raise TypeError("give a and b both as sequences (aligned) or both as mappings by item")
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        keys = list(a) + [key for key in b if key not in a]
        if clusters is not None and not isinstance(clusters, Mapping):
            raise TypeError("with a and b as mappings, give clusters as a mapping by item too")
        return [
            (a.get(key), b.get(key), None if clusters is None else clusters[key]) for key in keys
        ]
    if len(a) != len(b):
        raise ValueError(
            f"a has {len(a)} scores and b {len(b)}: aligned sequences must have one entry per"
            " item (None where a run lacks the item), or pass mappings by item id"
        )
    if clusters is not None:
        if isinstance(clusters, Mapping) or len(clusters) != len(a):
            raise ValueError("clusters must be a sequence with one entry per item")
        return list(zip(a, b, clusters, strict=True))
    return [(x, y, None) for x, y in zip(a, b, strict=True)]


def paired_difference(
    a: Scores,
    b: Scores,
    *,
    clusters: Scores | None = None,
    level: float = 0.95,
    test: str = "auto",
    resamples: int = 1000,
    seed: int = DEFAULT_SEED,
) -> Difference:
    """The paired :class:`Difference` ``b - a`` from two runs' per-item scores.

    ``a`` and ``b`` are aligned sequences (``None`` where a run lacks the item) or
    mappings from item id to score. ``test="bootstrap"`` resamples the differences
    (``resamples`` times, seeded): percentile interval, standard deviation of the
    replicates as stderr, and the two-sided p-value ``2·min(P*(δ* <= 0), P*(δ* >= 0))``
    with a +1 correction so it is never 0. Clustered pairs are always analysed with
    the cluster-robust t-test.
    """
    accumulator = PairedAccumulator()
    for x, y, cluster in _align(a, b, clusters):
        accumulator.add(x, y, cluster)
    if test != "bootstrap":
        return accumulator.difference(level, test)
    if clusters is not None:
        raise ValueError(
            "the paired bootstrap here resamples items; for clustered pairs use"
            " test='auto' (cluster-robust t)"
        )
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be between 0 and 1 (e.g. 0.95), got {level!r}")
    differences = [
        float(y) - float(x) for x, y, _ in _align(a, b, None) if x is not None and y is not None
    ]
    base = accumulator.difference(level, "t")
    if len(differences) < 2:
        return attrs.evolve(base, test="paired-bootstrap", stderr=None, ci=None, p_value=None)
    replicates = sorted(bootstrap_replicates(differences, resamples=resamples, seed=seed))
    centre = math.fsum(replicates) / len(replicates)
    stderr = math.sqrt(math.fsum((r - centre) ** 2 for r in replicates) / (len(replicates) - 1))
    tail = 0.5 * (1.0 - level)
    interval = (percentile(replicates, tail), percentile(replicates, 1.0 - tail))
    at_or_below = sum(r <= 0.0 for r in replicates)
    at_or_above = sum(r >= 0.0 for r in replicates)
    p = min(1.0, 2.0 * (min(at_or_below, at_or_above) + 1) / (len(replicates) + 1))
    mde = detectable_effect(stderr, alpha=1.0 - level) if stderr else None
    return attrs.evolve(
        base, stderr=stderr, ci=interval, p_value=p, test="paired-bootstrap", mde=mde
    )
