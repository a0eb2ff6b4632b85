"""Built-in evaluators, ``@evaluator``, and metrics built in or made with ``@metric``."""

from __future__ import annotations

import math
import statistics

import pytest

from doteval import Score, foreach
from doteval.evaluators import contains, evaluator, exact_match, numeric_match, valid_json
from doteval.metrics import Metric, accuracy, mean, metric


def test_exact_match() -> None:
    score = exact_match("4", "4")
    assert isinstance(score, Score)
    assert (score.name, score.value) == ("exact_match", True)
    assert score.metrics == (accuracy,)
    assert score.metadata == {}
    assert exact_match("4", 4).value is False
    assert exact_match(" 4", "4").value is False
    assert exact_match([1, 2], [1, 2]).value is True


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ("$1,234", 1234),
        ("1,234", 1234),
        ("1,234,567.5", 1234567.5),
        (" - 5 ", -5),
        ("-5", "-5"),
        ("+7", 7),
        ("$-3", -3),
        ("-$3", -3),
        ("  42  ", 42),
        ("42.0", 42),
        ("0.5", 0.5),
        (4, "4"),
        (2.5, "2.50"),
    ],
)
def test_numeric_match_matches(result: object, expected: object) -> None:
    assert numeric_match(result, expected).value is True


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ("1,23", 123),  # a comma is only a thousands separator
        ("12,34", 1234),
        ("1,2345", 12345),
        ("The answer is 4", 4),  # no extraction from prose
        ("4 apples", 4),
        ("four", 4),
        ("", 0),
        ("5", 6),
        ("nan", "nan"),
        ("inf", "inf"),
        (True, 1),
        (None, 0),
        ("1.2.3", 1),
    ],
)
def test_numeric_match_rejects(result: object, expected: object) -> None:
    assert numeric_match(result, expected).value is False


def test_valid_json() -> None:
    assert valid_json('{"answer": 4}').value is True
    assert valid_json("[1, 2]").value is True
    assert valid_json("{answer: 4}").value is False
    assert valid_json("").value is False
    assert valid_json(None).value is False
    assert valid_json('{"answer": 4}').name == "valid_json"


def test_valid_json_with_a_schema() -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "integer"}},
        "required": ["answer"],
    }
    assert valid_json('{"answer": 4}', schema).value is True
    assert valid_json('{"answer": "four"}', schema).value is False
    assert valid_json('{"other": 4}', schema=schema).value is False
    assert valid_json("not json", schema).value is False


def test_contains() -> None:
    assert contains("The answer is Paris.", "Paris").value is True
    assert contains("The answer is Paris.", "paris").value is False
    assert contains("The answer is Paris.", "paris", case_sensitive=False).value is True
    assert contains("STRASSE", "straße", case_sensitive=False).value is True
    assert contains("Berlin", "Paris", case_sensitive=False).value is False
    assert contains("answer: 42", 42).value is True


def test_a_custom_evaluator() -> None:
    @evaluator(metrics=[accuracy, mean])
    def within(result, expected, tolerance=0.1):
        return abs(result - expected) <= tolerance

    score = within(1.05, 1.0)
    assert (score.name, score.value, score.metrics) == ("within", True, (accuracy, mean))
    assert within(1.5, 1.0, tolerance=1).value is True
    assert within.__name__ == "within"


def test_a_custom_evaluator_with_a_name_and_one_metric() -> None:
    @evaluator(metrics=mean, name="length")
    def response_length(text):
        return len(text)

    score = response_length("four")
    assert (score.name, score.value, score.metrics) == ("length", 4, (mean,))


def test_bad_metrics_fail_clearly() -> None:
    with pytest.raises(TypeError, match=r"@doteval\.metrics\.metric"):
        evaluator(metrics=[len])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="Metric objects"):
        Score("s", 1, metrics=[statistics.median])  # type: ignore[list-item]


# --- metrics --------------------------------------------------------------------------


def test_accuracy() -> None:
    assert accuracy([True, False, True, True]) == 0.75
    assert accuracy([1, 0]) == 0.5
    assert accuracy([]) == 0.0
    assert accuracy([True, True], errors=2) == 0.5


def test_mean() -> None:
    assert mean([1, 2, 3, 6]) == 3.0
    assert mean([True, False]) == 0.5
    assert math.isnan(mean([]))
    assert mean([2, 4], errors=5) == 3.0


def test_a_custom_metric() -> None:
    @metric
    def median(values):
        return statistics.median(values)

    assert isinstance(median, Metric)
    assert median.name == "median"
    assert median([3, 1, 2, 10]) == 2.5


async def test_metrics_in_a_run() -> None:
    @metric
    def worst(values):
        return min(values)

    @evaluator(metrics=[mean, worst])
    def closeness(result, expected):
        return 1 - abs(result - expected) / expected

    @foreach("result,expected", [(9, 10), (10, 10), (5, 10), (8, 10)])
    async def evaluate(result, expected):
        return [closeness(result, expected), exact_match(result, expected)]

    result = await evaluate()
    assert result.summary == {
        "closeness": {"mean": pytest.approx(0.8), "worst": pytest.approx(0.5)},
        "exact_match": {"accuracy": 0.25},
    }


async def test_custom_metrics_see_only_the_values_of_items_that_scored() -> None:
    seen: list[list[object]] = []

    @metric
    def collected(values):
        seen.append(list(values))
        return len(values)

    @foreach("n", range(6))
    async def evaluate(n):
        if n == 3:
            raise ValueError("no score for this one")
        return [Score("n", n, metrics=[collected, accuracy, mean])]

    result = await evaluate()
    assert result.summary == {
        "n": {"collected": 5, "accuracy": pytest.approx(4 / 6), "mean": pytest.approx(2.4)}
    }
    assert sorted(seen[0]) == [0, 1, 2, 4, 5]  # later calls: its bootstrap interval
    assert all(len(values) == 5 for values in seen)
