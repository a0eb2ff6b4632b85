"""Two runs over the same items are compared item by item, with paired tests."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
import scipy.stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower

import doteval
from doteval.evaluators import exact_match
from doteval.metrics import mean, metric

ROWS = [(i, f"topic{i % 20}") for i in range(300)]


def _run(store: str, experiment: str, score: Any, rows: Any = ROWS, **options: Any) -> Any:
    @doteval.foreach("n,topic", rows)
    async def eval_pairs(n: int, topic: str) -> Any:
        await anyio.lowlevel.checkpoint()
        return score(n)

    return doteval.run(eval_pairs, storage=store, experiment=experiment, progress=False, **options)


def _right_a(n: int) -> bool:
    return n % 10 < 6


def _right_b(n: int) -> bool:
    return n % 10 < 6 or n % 7 == 0


def test_binary_scores_are_compared_with_mcnemar_as_statsmodels_does(tmp_path: Any) -> None:
    store = f"sqlite://{tmp_path / 's.db'}"
    a = _run(store, "a", lambda n: exact_match(_right_a(n), True))
    b = _run(store, "b", lambda n: exact_match(_right_b(n), True))
    found = doteval.compare(a, b)["exact_match"]["accuracy"]
    better = sum(_right_b(n) and not _right_a(n) for n in range(300))
    worse = sum(_right_a(n) and not _right_b(n) for n in range(300))
    assert (found.better, found.worse, found.n) == (better, worse, 300)
    assert found.delta == pytest.approx((better - worse) / 300)
    table = [[0, worse], [better, 0]]
    reference = mcnemar(table, exact=better + worse < 25, correction=True)
    assert found.test == ("mcnemar-exact" if better + worse < 25 else "mcnemar-chi2")
    assert found.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    assert found.mde is not None
    assert found.significant == (found.p_value < 0.05)


def test_continuous_scores_get_a_paired_t_test_as_scipy_computes_it(tmp_path: Any) -> None:
    store = f"sqlite://{tmp_path / 's.db'}"
    values_a = [((n * 37) % 11) / 10 for n in range(300)]
    values_b = [value + ((n * 13) % 5 - 1.5) / 20 for n, value in enumerate(values_a)]
    a = _run(store, "a", lambda n: doteval.Score("v", values_a[n], [mean]))
    b = _run(store, "b", lambda n: doteval.Score("v", values_b[n], [mean]))
    found = doteval.compare(a, b)["v"]["mean"]
    reference = scipy.stats.ttest_rel(values_b, values_a)
    interval = reference.confidence_interval(0.95)
    assert found.test == "paired-t"
    assert found.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    assert found.ci == pytest.approx((interval.low, interval.high), rel=1e-9)


def test_items_in_one_run_only_are_reported_and_left_out(tmp_path: Any) -> None:
    store = f"sqlite://{tmp_path / 's.db'}"
    a = _run(store, "a", lambda n: exact_match(_right_a(n), True))
    b = _run(store, "b", lambda n: exact_match(_right_b(n), True), samples=250)
    found = doteval.compare(a, b)["exact_match"]["accuracy"]
    assert (found.n, found.only_a, found.only_b) == (250, 50, 0)


def test_runs_over_different_rows_are_refused_naming_the_first_item(tmp_path: Any) -> None:
    store = f"sqlite://{tmp_path / 's.db'}"
    a = _run(store, "a", lambda n: exact_match(1, 1))
    changed = [*ROWS[:5], (5, "another topic"), *ROWS[6:]]
    b = _run(store, "b", lambda n: exact_match(1, 1), rows=changed)
    with pytest.raises(doteval.PairingError, match="item 5"):
        doteval.compare(a, b)


def test_several_comparisons_at_once_are_holm_adjusted(tmp_path: Any) -> None:
    store = f"sqlite://{tmp_path / 's.db'}"

    def scores(right: Any) -> Any:
        return lambda n: doteval.Result(
            exact_match(right(n), True), exact_match(right(n + 1), True, name="shifted")
        )

    a = _run(store, "a", scores(_right_a))
    b = _run(store, "b", scores(_right_b))
    comparison = doteval.compare(a, b)
    found = [comparison[s]["accuracy"] for s in ("exact_match", "shifted")]
    reference = multipletests([d.p_value for d in found], method="holm")[1]
    assert [d.p_adjusted for d in found] == pytest.approx(list(reference), rel=1e-12)


def test_clustered_comparisons_count_clusters(tmp_path: Any) -> None:
    store = f"sqlite://{tmp_path / 's.db'}"
    a = _run(store, "a", lambda n: exact_match(_right_a(n), True))
    b = _run(store, "b", lambda n: exact_match(_right_b(n), True))
    found = doteval.compare(a, b, cluster="topic")["exact_match"]["accuracy"]
    assert found.test == "clustered-t"
    assert found.n == 300


@metric
def median_of(values: list[Any]) -> float:
    ordered = sorted(values)
    return float(ordered[len(ordered) // 2])


def test_a_custom_metric_is_compared_by_a_paired_bootstrap(tmp_path: Any) -> None:
    store = f"sqlite://{tmp_path / 's.db'}"
    a = _run(store, "a", lambda n: doteval.Score("v", n % 17, [median_of]))
    b = _run(store, "b", lambda n: doteval.Score("v", n % 17 + 2, [median_of]))
    found = doteval.compare(a, b)["v"]["median_of"]
    assert found.test == "paired-bootstrap"
    assert found.delta == 2.0
    assert found.p_value is not None
    assert found.p_value < 0.01
    assert doteval.compare(a, b)["v"]["median_of"] == found  # seeded: the same each time


def test_epoch_runs_compare_each_items_mean_over_its_epochs(tmp_path: Any) -> None:
    store = f"sqlite://{tmp_path / 's.db'}"
    a = _run(store, "a", lambda n: exact_match(_right_a(n), True), epochs=3)
    b = _run(store, "b", lambda n: exact_match(_right_b(n), True), epochs=3)
    found = doteval.compare(a, b)["exact_match"]["accuracy"]
    assert found.n == 300
    loaded = doteval.compare(doteval.load("a", storage=store), doteval.load("b", storage=store))
    assert loaded["exact_match"]["accuracy"] == found


def test_power_matches_statsmodels_for_both_designs() -> None:
    independent = doteval.power(effect=0.05, p=0.7, design="independent")
    effect_size = 0.05 / (0.7 * 0.3) ** 0.5
    reference = NormalIndPower().solve_power(effect_size, alpha=0.05, power=0.8, ratio=1.0)
    assert independent.items == pytest.approx(reference, abs=1.5)
    plan = doteval.power(items=independent.items, p=0.7, design="independent")
    assert plan.effect == pytest.approx(0.05, rel=1e-2)
    assert "items per run" in str(independent)


def test_a_paired_pilot_plans_with_its_spread_of_differences(tmp_path: Any) -> None:
    store = f"sqlite://{tmp_path / 's.db'}"
    a = _run(store, "a", lambda n: exact_match(_right_a(n), True))
    b = _run(store, "b", lambda n: exact_match(_right_b(n), True))
    comparison = doteval.compare(a, b)
    plan = doteval.power(effect=0.02, pilot=comparison)
    found = comparison["exact_match"]["accuracy"]
    assert found.stderr is not None
    assert plan.sd == pytest.approx(found.stderr * 300**0.5)
    assert plan.items > 300
    with pytest.raises(ValueError, match="give exactly one of"):
        doteval.power(effect=0.02)
