"""Accumulators: any order and any split merged give identical results; state survives JSON."""

from __future__ import annotations

import contextlib
import json
import math
import random
import statistics
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from doteval._private.stats import (
    BinaryCounts,
    ClusterSums,
    EpochMoments,
    ExactSum,
    Moments,
    PairedAccumulator,
)

# No example database: tests must leave no files behind.
settings.register_profile(
    "stats", database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
SETTINGS = settings.get_profile("stats")

floats = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)
wild_floats = st.floats(allow_nan=False, allow_infinity=False)  # subnormals to 1.8e308
scores = st.one_of(floats, st.sampled_from([0.0, 1.0, 0.5, 1e-300, 1e300]), st.integers(-5, 5))


def _json(state: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(state, allow_nan=False))  # strict JSON


def _split_and_merge(
    make: Callable[[], Any], add: Callable[[Any, Any], None], values: list[Any], seed: int
) -> tuple[Any, Any]:
    """One pass in order, and a shuffled copy split in two, one half via JSON, merged."""
    whole = make()
    for value in values:
        add(whole, value)
    shuffled = list(values)
    rng = random.Random(seed)
    rng.shuffle(shuffled)
    cut = rng.randint(0, len(shuffled))
    first, second = make(), make()
    for value in shuffled[:cut]:
        add(first, value)
    for value in shuffled[cut:]:
        add(second, value)
    first = type(first).from_state(_json(first.state()))
    first.merge(second)
    return whole, first


@SETTINGS
@given(st.lists(wild_floats, max_size=60), st.integers(0, 2**32))
def test_exact_sum_is_the_correctly_rounded_sum_in_any_order(
    values: list[float], seed: int
) -> None:
    whole, merged = _split_and_merge(ExactSum, ExactSum.add, values, seed)
    exact = sum(map(Fraction, values), Fraction(0))
    assert whole.fraction() == exact
    assert whole.state() == merged.state()
    try:
        expected = float(exact)  # correctly rounded
    except OverflowError:  # past the float range: we say inf
        expected = math.inf if exact > 0 else -math.inf
    assert whole.value == expected == merged.value
    # fsum gives up on an intermediate overflow even when the sum is finite.
    with contextlib.suppress(OverflowError):
        assert whole.value == math.fsum(values)


@SETTINGS
@given(st.lists(scores, max_size=60), st.integers(0, 2**32))
def test_moments_identical_whatever_the_order_and_split(values: list[float], seed: int) -> None:
    whole, merged = _split_and_merge(Moments, Moments.add, values, seed)
    assert whole.state() == merged.state()
    assert whole.estimate() == merged.estimate()
    if len(values) >= 2:
        # statistics.variance is exact before its one rounding, as ours is.
        try:
            expected = statistics.variance(map(float, values))
        except OverflowError:  # the exact variance is past the float range: we say inf
            expected = math.inf
        assert whole.variance == expected
        assert whole.mean == float(sum(map(Fraction, values), Fraction(0)) / len(values))


@SETTINGS
@given(st.lists(st.sampled_from([True, False, None, 0, 1]), max_size=60), st.integers(0, 2**32))
def test_binary_counts_merge(values: list[Any], seed: int) -> None:
    whole, merged = _split_and_merge(BinaryCounts, BinaryCounts.add, values, seed)
    assert whole == merged
    assert whole.estimate() == merged.estimate()


@SETTINGS
@given(
    st.lists(st.tuples(st.sampled_from(["p1", "p2", 3, 4, "p5"]), floats), max_size=60),
    st.integers(0, 2**32),
)
def test_cluster_sums_merge(pairs: list[tuple[Any, float]], seed: int) -> None:
    whole, merged = _split_and_merge(
        ClusterSums, lambda acc, pair: acc.add(pair[0], pair[1]), pairs, seed
    )
    assert whole.estimate() == merged.estimate()
    assert sorted(map(str, whole.state()["clusters"])) == sorted(
        map(str, merged.state()["clusters"])
    )


@SETTINGS
@given(
    st.lists(st.lists(st.one_of(floats, st.none()), min_size=1, max_size=5), max_size=30),
    st.integers(0, 2**32),
)
def test_epoch_moments_merge(items: list[list[float | None]], seed: int) -> None:
    whole, merged = _split_and_merge(EpochMoments, EpochMoments.add_item, items, seed)
    assert whole.estimate() == merged.estimate()
    assert whole.state() == merged.state()


@SETTINGS
@given(
    st.lists(st.tuples(st.one_of(floats, st.none()), st.one_of(floats, st.none())), max_size=60),
    st.integers(0, 2**32),
)
def test_paired_accumulator_merge(pairs: list[tuple[Any, Any]], seed: int) -> None:
    whole, merged = _split_and_merge(
        PairedAccumulator, lambda acc, pair: acc.add(pair[0], pair[1]), pairs, seed
    )
    assert whole.state() == merged.state()
    assert whole.difference() == merged.difference()


@SETTINGS
@given(
    st.lists(
        st.tuples(st.sampled_from([0, 1]), st.sampled_from([0, 1]), st.integers(0, 6)), max_size=60
    ),
    st.integers(0, 2**32),
)
def test_clustered_paired_accumulator_merge(pairs: list[tuple[int, int, int]], seed: int) -> None:
    whole, merged = _split_and_merge(
        PairedAccumulator, lambda acc, pair: acc.add(pair[0], pair[1], cluster=pair[2]), pairs, seed
    )
    assert whole.difference() == merged.difference()


def test_restored_accumulator_continues_like_the_original() -> None:
    rng = random.Random(3)
    values = [rng.random() for _ in range(200)]
    original = Moments()
    for value in values[:120]:
        original.add(value)
    restored = Moments.from_state(_json(original.state()))
    for value in values[120:]:
        original.add(value)
        restored.add(value)
    assert restored.state() == original.state()
    assert restored.estimate() == original.estimate()


def test_state_of_binary_sums_stays_short() -> None:
    counts = Moments()
    for value in [1, 0, 1, 1] * 250:
        counts.add(value)
    assert counts.state() == {
        "count": 1000,
        "sum": {"sum": "0x177p1"},
        "squares": {"sum": "0x177p1"},
    }


def test_non_finite_values_make_the_sum_non_finite_like_fsum() -> None:
    total = ExactSum()
    for value in [1.0, math.inf, 2.0]:
        total.add(value)
    assert total.value == math.inf
    restored = ExactSum.from_state(_json(total.state()))
    restored.add(-math.inf)
    assert math.isnan(restored.value)
    moments = Moments()
    moments.add(math.nan)
    moments.add(1.0)
    estimate = moments.estimate()
    assert estimate.value is not None
    assert math.isnan(estimate.value)
    assert (estimate.stderr, estimate.method) == (None, "none")


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: ExactSum().add("1.5"), TypeError, "real numbers"),
        (lambda: ExactSum.from_state({"sum": "1.5"}), ValueError, "not an exact sum"),
        (lambda: BinaryCounts.from_state({"successes": 5, "total": 3}), ValueError, "corrupt"),
        (lambda: Moments().add(None), TypeError, "real numbers"),
    ],
)
def test_bad_values_and_states_are_named(
    call: Callable[[], object], error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        call()


def test_mixing_clustered_and_unclustered_pairs_is_refused() -> None:
    accumulator = PairedAccumulator()
    accumulator.add(1, 0, cluster="a")
    with pytest.raises(ValueError, match="every pair a cluster, or none"):
        accumulator.add(1, 0)
