"""Our Student-t, chi-square and beta functions against scipy, to 1e-9 relative."""

from __future__ import annotations

import math
import warnings

import pytest
from scipy import stats

from doteval._private.stats import distributions as d

PROBABILITIES = [
    1e-12, 1e-8, 1e-5, 1e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 0.3, 0.4, 0.45,
    0.55, 0.6, 0.75, 0.9, 0.95, 0.975, 0.99, 0.999, 1 - 1e-6,
]  # fmt: skip
# 1 to 10^6, integer and not.
DEGREES = [1, 1.5, 2, 2.5, 3, 4.7, 7, 10, 29.5, 30, 100, 333.3, 1000, 12345.6, 1e5, 1e6]
POINTS = [0.0, 0.01, 0.3, 1.0, 1.96, 3.0, 10.0, 40.0, 1e3, 1e6]
RTOL = 1e-9


def close(mine: float, reference: float) -> bool:
    return math.isclose(mine, reference, rel_tol=RTOL, abs_tol=0.0)


@pytest.mark.parametrize("df", DEGREES)
def test_t_quantiles_match_scipy(df: float) -> None:
    for p in PROBABILITIES:
        assert close(d.t_ppf(p, df), stats.t.ppf(p, df)), (p, df)
        assert close(d.t_isf(p, df), stats.t.isf(p, df)), (p, df)


@pytest.mark.parametrize("df", DEGREES)
def test_t_tails_match_scipy_far_into_the_tails(df: float) -> None:
    for x in POINTS + [-x for x in POINTS]:
        for mine, reference in (
            (d.t_sf(x, df), stats.t.sf(x, df)),
            (d.t_cdf(x, df), stats.t.cdf(x, df)),
        ):
            if reference > 1e-300:
                assert close(mine, reference), (x, df, mine, reference)
        assert math.isclose(d.t_pdf(x, df), stats.t.pdf(x, df), rel_tol=1e-9)


@pytest.mark.parametrize("df", DEGREES)
def test_chi2_quantiles_and_tails_match_scipy(df: float) -> None:
    for p in PROBABILITIES:
        assert close(d.chi2_ppf(p, df), stats.chi2.ppf(p, df)), (p, df)
        assert close(d.chi2_isf(p, df), stats.chi2.isf(p, df)), (p, df)
    for x in [*POINTS, df, df + 1, 0.5 * df, 2 * df]:
        for mine, reference in (
            (d.chi2_sf(x, df), stats.chi2.sf(x, df)),
            (d.chi2_cdf(x, df), stats.chi2.cdf(x, df)),
        ):
            if reference > 1e-300:
                assert close(mine, reference), (x, df, mine, reference)


@pytest.mark.parametrize("a", [0.5, 1, 3, 17, 250, 5e4, 5e5])
def test_beta_quantiles_match_scipy(a: float) -> None:
    for b in [0.5, 1, 2, 40, 1e3, 5e5]:
        for p in PROBABILITIES:
            with warnings.catch_warnings():
                # scipy (Boost) gives up on a few far-tail roots and says so; skip those.
                warnings.simplefilter("error", RuntimeWarning)
                try:
                    lower, upper = stats.beta.ppf(p, a, b), stats.beta.isf(p, a, b)
                except RuntimeWarning:
                    continue
            assert close(d.beta_ppf(p, a, b), lower), (p, a, b)
            assert close(d.beta_isf(p, a, b), upper), (p, a, b)


def test_beta_quantile_where_scipy_gives_up_matches_the_closed_form() -> None:
    # Near 0, I_x(a, b) = x^a / (a B(a, b)) up to a factor 1 + O(x); at p = 1e-12 the root
    # is about 4e-25, so that closed form is exact to double precision.
    a, b, p = 0.5, 2.0, 1e-12
    expected = (p * a * math.exp(math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b))) ** (1 / a)
    assert close(d.beta_ppf(p, a, b), expected)


def test_normal_matches_scipy() -> None:
    for p in PROBABILITIES:
        assert close(d.norm_ppf(p), stats.norm.ppf(p))
        assert close(d.norm_isf(p), stats.norm.isf(p))
    for x in (-30.0, -5.0, 0.0, 1.0, 8.0, 30.0):
        assert close(d.norm_sf(x), stats.norm.sf(x))
        assert close(d.norm_cdf(x), stats.norm.cdf(x))


def test_infinite_df_is_the_normal() -> None:
    assert d.t_isf(0.025, math.inf) == d.norm_isf(0.025)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: d.t_ppf(0.0, 3), "strictly between 0 and 1"),
        (lambda: d.t_isf(1.0, 3), "strictly between 0 and 1"),
        (lambda: d.t_sf(1.0, 0), "degrees of freedom must be positive"),
        (lambda: d.chi2_ppf(0.5, -1), "degrees of freedom must be positive"),
        (lambda: d.beta_ppf(0.5, 0, 1), "a > 0 and b > 0"),
    ],
)
def test_bad_arguments_say_what_is_wrong(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]
