"""Cluster-robust standard errors: when items come in groups that move together.

Questions about one passage, one document or one template are not independent: a
model that misreads the passage misses all of them. Treating them as independent makes
the error bar too narrow (Miller, "Adding Error Bars to Evals", on clustered standard errors). The
cluster-robust ("CRV1" sandwich) standard error of the mean is

    SE² = c · Σ_g (S_g - n_g·ȳ)² / N²,   c = G / (G - 1)

over G clusters with sums S_g of n_g values (N in all). ``c`` is the small-sample factor
statsmodels applies by default (``G/(G-1)·(N-1)/(N-K)`` with K = 1 regressor); Miller's
formula is the same with ``c = 1`` (``small_sample=False``). The interval is Student-t
on ``G - 1`` degrees of freedom: the clusters, not the items, are the independent units
(statsmodels uses the same df with ``use_t=True``; its default is the normal).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

import attrs

from doteval._private.stats.estimate import Estimate
from doteval._private.stats.exact import (
    Exact,
    ExactSum,
    as_real,
    decode,
    encode,
    split,
    split_if_plain,
    to_float,
)
from doteval._private.stats.intervals import t_interval
from doteval._private.stats.moments import mean_and_variance


def clustered_variance(
    clusters: Iterable[tuple[Exact, int]], small_sample: bool = True
) -> tuple[int, int, Exact, float | None]:
    """``(G, N, total, variance of the mean)`` from per-cluster ``(exact sum, count)`` pairs.

    Everything up to the final division is integer arithmetic on the exact sums, so the
    result does not depend on the order of clusters or of values within them.
    """
    pairs = list(clusters)
    groups = len(pairs)
    count = sum(n for _, n in pairs)
    exponent = min((e for (_, e), _ in pairs), default=0)
    sums = [(m << (e - exponent), n) for (m, e), n in pairs]  # all over 2**exponent
    total = sum(s for s, _ in sums)
    if groups < 2 or count == 0:
        return groups, count, (total, exponent), None
    # N·S_g - n_g·S is N times S_g - n_g·ȳ, over 2**exponent: an exact integer.
    spread = sum((count * s - n * total) ** 2 for s, n in sums)
    numerator = spread * (groups if small_sample else 1)
    denominator = count**4 * ((groups - 1) if small_sample else 1)
    return groups, count, (total, exponent), to_float((numerator, 2 * exponent), denominator)


def _build(
    groups: int,
    count: int,
    total: Exact,
    variance: float | None,
    naive_stderr: float | None,
    level: float,
) -> Estimate:
    if count == 0:
        return Estimate(None, None, None, level=level, n=groups, method="none")
    mean = to_float(total, count)
    if variance is None:
        return Estimate(mean, None, None, level=level, n=groups, method="clustered")
    stderr = math.sqrt(variance)
    return Estimate(
        mean,
        stderr,
        t_interval(mean, stderr, groups - 1, level),
        level=level,
        n=groups,
        method="clustered",
        naive_stderr=naive_stderr,
    )


def _naive_stderr(count: int, total: Exact, squares: Exact) -> float | None:
    if count < 2:
        return None
    variance = mean_and_variance(count, total, squares)[1]
    return None if variance is None else math.sqrt(variance / count)


def clustered_mean_estimate(
    cluster_sums: Iterable[tuple[float, int]],
    level: float = 0.95,
    *,
    total_of_squares: float | None = None,
    small_sample: bool = True,
) -> Estimate:
    """The mean over all values with a cluster-robust standard error.

    ``cluster_sums`` holds one ``(sum of values, number of values)`` pair per cluster.
    Give ``total_of_squares`` (over all values) to also get ``naive_stderr``, the CLT
    standard error that ignores the clusters. ``n`` of the result is the number of clusters.
    """
    pairs = []
    for pair in cluster_sums:
        value_sum, size = pair
        try:
            size = operator.index(size)
        except TypeError:
            size = 0
        if size < 1:
            raise ValueError(f"each cluster needs a whole count >= 1 of values, got {pair!r}")
        if not math.isfinite(value_sum):
            raise ValueError(f"cluster sums must be finite, got {pair!r}")
        pairs.append((split(value_sum), size))
    groups, count, total, variance = clustered_variance(pairs, small_sample)
    naive = None
    if total_of_squares is not None:
        naive = _naive_stderr(count, total, split(total_of_squares))
    return _build(groups, count, total, variance, naive, level)


ClusterKey = str | int


def _check_key(cluster: object) -> None:
    if isinstance(cluster, bool) or not isinstance(cluster, (str, int)):
        raise TypeError(
            f"cluster keys must be str or int (they are stored as JSON), got {cluster!r}"
        )


@attrs.define(repr=False)
class ClusterSums:
    """Per-cluster sums and counts, folded one value at a time: O(clusters) memory.

    Cluster keys are strings or integers (they go into the JSON state as they are).
    Merging two accumulators adds the sums of clusters both have seen.
    """

    # key -> [mantissa, exponent, count]: the cluster's exact sum and its size.
    _clusters: dict[Hashable, list[int]] = attrs.field(factory=dict)
    _squares: ExactSum = attrs.field(factory=ExactSum)

    def add(self, cluster: ClusterKey, value: float | int | bool) -> None:
        """Fold in one value of ``cluster``."""
        parts = split_if_plain(value)
        if parts is None:
            number = as_real(value, "ClusterSums.add")
            if isinstance(number, float) and not math.isfinite(number):
                raise ValueError(f"clustered estimates need finite values, got {value!r}")
            parts = split(number)
        self.add_exact(cluster, *parts)

    def add_exact(self, cluster: ClusterKey, mantissa: int, exponent: int) -> None:
        """Fold in the value ``mantissa * 2**exponent`` (exact differences use this)."""
        entry = self._clusters.get(cluster)
        if entry is None:
            _check_key(cluster)
            entry = self._clusters[cluster] = [0, exponent, 0]
        _add_into(entry, mantissa, exponent)
        entry[2] += 1
        self._squares.add_exact(mantissa * mantissa, 2 * exponent)

    def merge(self, other: ClusterSums) -> None:
        """Fold in another accumulator (clusters seen by both are summed)."""
        for key, (mantissa, exponent, size) in other._clusters.items():
            entry = self._clusters.setdefault(key, [0, exponent, 0])
            _add_into(entry, mantissa, exponent)
            entry[2] += size
        self._squares.merge(other._squares)

    def with_zeros(self, zeros: Mapping[Hashable, int]) -> ClusterSums:
        """A copy with ``zeros[key]`` more values of 0 in each cluster ``key``."""
        clusters = {key: list(entry) for key, entry in self._clusters.items()}
        for key, count in zeros.items():
            entry = clusters.get(key)
            if entry is None:
                _check_key(key)
                entry = clusters[key] = [0, 0, 0]
            entry[2] += count
        return ClusterSums(clusters, self._squares)

    @property
    def clusters(self) -> int:
        """How many clusters have been seen."""
        return len(self._clusters)

    def estimate(self, level: float = 0.95, *, small_sample: bool = True) -> Estimate:
        """The mean with cluster-robust stderr, and the naive one in ``naive_stderr``."""
        groups, count, total, variance = clustered_variance(
            (((m, e), n) for m, e, n in self._clusters.values()), small_sample
        )
        naive = _naive_stderr(count, total, self._squares.exact)
        return _build(groups, count, total, variance, naive, level)

    def state(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot: ``[key, exact sum, count]`` per cluster."""
        return {
            "clusters": [
                [key, encode((mantissa, exponent)), size]
                for key, (mantissa, exponent, size) in self._clusters.items()
            ],
            "squares": self._squares.state(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ClusterSums:
        """Inverse of :meth:`state`."""
        clusters: dict[Hashable, list[int]] = {}
        for key, total, size in state["clusters"]:
            _check_key(key)
            if key in clusters:
                raise ValueError(f"corrupt ClusterSums state: cluster {key!r} appears twice")
            clusters[key] = [*decode(total), int(size)]
        return cls(clusters, ExactSum.from_state(state["squares"]))


def _add_into(entry: list[int], mantissa: int, exponent: int) -> None:
    """Add ``mantissa * 2**exponent`` to the exact sum held in ``entry[0:2]``."""
    if exponent >= entry[1]:
        entry[0] += mantissa << (exponent - entry[1])
    else:
        entry[0] = (entry[0] << (entry[1] - exponent)) + mantissa
        entry[1] = exponent
