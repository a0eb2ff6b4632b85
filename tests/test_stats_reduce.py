"""Reducers over K epochs: pass@k against brute-force enumeration, votes, errored epochs."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest

from doteval._private.stats import at_least, maximum, mean, mode, pass_at, pass_at_k


@pytest.mark.parametrize("n", range(1, 9))
def test_pass_at_k_is_the_share_of_k_subsets_with_a_correct_attempt(n: int) -> None:
    for c in range(n + 1):
        attempts = [True] * c + [False] * (n - c)
        for k in range(1, n + 1):
            subsets = list(itertools.combinations(attempts, k))
            expected = Fraction(sum(any(s) for s in subsets), len(subsets))
            assert pass_at_k(n, c, k) == float(expected)


def test_pass_at_k_is_exact_for_large_n() -> None:
    # Chen et al.'s stable product form, evaluated in exact fractions.
    n, c, k = 100_000, 37, 500
    product = Fraction(1)
    for i in range(n - c + 1, n + 1):
        product *= 1 - Fraction(k, i)
    assert pass_at_k(n, c, k) == float(1 - product)
    assert pass_at_k(10**6, 0, 10) == 0.0
    assert pass_at_k(10**6, 10**6 - 5, 10) == 1.0


def test_pass_at_k_with_k_above_n_says_how_to_fix_it() -> None:
    with pytest.raises(ValueError, match="pass@5 needs at least k=5 attempts per item but got n=3"):
        pass_at_k(3, 1, 5)
    with pytest.raises(ValueError, match="between 0 and n=3"):
        pass_at_k(3, 4, 1)
    with pytest.raises(TypeError, match="whole numbers"):
        pass_at_k(3.0, 1, 1)  # type: ignore[arg-type]


def test_pass_at_reducer_counts_errored_epochs_as_incorrect() -> None:
    reducer = pass_at(2)
    assert reducer([True, None, False, None]) == pass_at_k(4, 1, 2)
    assert reducer([None, None]) == 0.0


def test_at_least() -> None:
    assert at_least(2)([True, None, 1]) is True
    assert at_least(3)([True, None, 1]) is False
    with pytest.raises(ValueError, match="at_least\\(4\\) needs at least 4 epochs"):
        at_least(4)([True, True])


def test_majority_vote_breaks_ties_by_the_earliest_epoch() -> None:
    assert mode(["B", "A", "A", "B"]) == "B"
    assert mode(["A", "B", "B"]) == "B"
    assert mode([True, False]) is True
    assert mode([False, True]) is False
    assert mode([None, True, None, True, True]) is True
    assert mode([None, True]) is False  # an errored epoch votes False, and came first


def test_mean_and_maximum_count_errors_as_zero() -> None:
    assert mean([1.0, None, 0.5, None]) == 0.375
    assert maximum([None, 0.25, None]) == 0.25
    assert maximum([None, None]) == 0.0
    with pytest.raises(ValueError, match="no epochs"):
        mean([])
