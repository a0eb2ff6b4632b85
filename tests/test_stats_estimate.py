"""Estimate and Difference values: JSON round trips, validation, one-line formatting."""

from __future__ import annotations

import json
import math

import pytest

from doteval._private.stats import (
    BinaryCounts,
    ClusterSums,
    Difference,
    Estimate,
    format_difference,
    format_estimate,
    mean_estimate,
    paired_difference,
)


def _accuracy(correct: int, n: int) -> Estimate:
    counts = BinaryCounts()
    for i in range(n):
        counts.add(i < correct)
    return counts.estimate()


def test_estimate_json_round_trip_is_strict_json() -> None:
    for estimate in (
        _accuracy(712, 1000),
        Estimate(math.nan, None, None, n=3, method="none"),
        Estimate(math.inf, 1.0, (-math.inf, math.inf), level=0.9, n=2),
    ):
        text = json.dumps(estimate.to_json(), allow_nan=False)
        back = Estimate.from_json(json.loads(text))
        assert back.to_json() == estimate.to_json()


def test_difference_json_round_trip() -> None:
    difference = paired_difference([0, 1, 1, 0] * 10, [1, 1, 1, 0] * 10)
    text = json.dumps(difference.to_json(), allow_nan=False)
    assert Difference.from_json(json.loads(text)) == difference


def test_estimate_validates_its_fields() -> None:
    with pytest.raises(ValueError, match="level must be between 0 and 1"):
        Estimate(0.5, 0.1, (0.3, 0.7), level=95)
    with pytest.raises(ValueError, match="runs from low to high"):
        Estimate(0.5, 0.1, (0.7, 0.3))
    with pytest.raises(ValueError, match="method"):
        Estimate(0.5, 0.1, (0.3, 0.7), method="magic")
    assert Estimate(0.5, 0.1, (0.3, 0.8)).half_width == pytest.approx(0.25)
    assert Estimate(0.5, None, None).half_width is None


def test_format_accuracy() -> None:
    assert format_estimate("accuracy", _accuracy(712, 1000)) == (
        "accuracy 0.712 ± 0.028 (95% CI 0.683–0.739, n=1,000)"
    )


def test_format_other_values_by_the_size_of_their_error_bar() -> None:
    tokens = mean_estimate(100, 15320.0, 2.5e6, level=0.9)
    assert format_estimate("tokens", tokens) == "tokens 153.2 ± 6.5 (90% CI 146.7–159.7, n=100)"
    big = Estimate(12345.678, 40.0, (12265.0, 12426.0), n=5000)
    assert format_estimate("latency_ms", big) == (
        "latency_ms 12,346 ± 80 (95% CI 12,265–12,426, n=5,000)"
    )


def test_format_without_an_error_bar_or_value() -> None:
    assert format_estimate("accuracy", Estimate(0.5, None, None, n=1)) == "accuracy 0.500"
    assert format_estimate("tokens", Estimate(15320.5, None, None, n=1)) == "tokens 15,320"
    assert format_estimate("score", Estimate(-2.71828, None, None, n=1)) == "score -2.718"
    assert format_estimate("accuracy", Estimate(None, None, None, method="none")) == (
        "accuracy n/a (n=0)"
    )


def test_format_clustered_counts_clusters() -> None:
    sums = ClusterSums()
    for i in range(40):
        sums.add(i % 8, i % 3 == 0)
    assert format_estimate("accuracy", sums.estimate()).endswith("n=8 clusters)")


def test_format_difference() -> None:
    difference = paired_difference([0, 1, 1, 0, 1] * 40, [1, 1, 1, 0, 1] * 40)
    assert format_difference("accuracy", difference) == (
        "accuracy +0.200 (95% CI 0.144–0.256, p<0.001 mcnemar-chi2; 40 better, 0 worse, 160 tied)"
    )
