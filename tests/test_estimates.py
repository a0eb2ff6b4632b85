"""Every metric of a run comes with its uncertainty, checked against statsmodels and scipy."""

from __future__ import annotations

import math
import random
from typing import Any

import anyio
import numpy as np
import pytest
import scipy.stats
import statsmodels.api as sm
from statsmodels.stats.proportion import proportion_confint

import doteval
from doteval import reducers
from doteval._private.results.aggregate import Aggregator
from doteval._private.results.records import Record
from doteval.evaluators import exact_match
from doteval.metrics import accuracy, mean, metric
from doteval.storage import StorageError

RIGHT = [i % 10 < 7 or i % 13 == 0 for i in range(400)]  # a fixed pattern, 288 right


def _evaluation(rows: list[Any], score: Any, name: str = "eval_est") -> doteval.Evaluation:
    async def evaluate(n: int, group: str) -> Any:
        await anyio.lowlevel.checkpoint()
        return score(n)

    evaluate.__qualname__ = evaluate.__name__ = name
    return doteval.foreach("n,group", rows)(evaluate)


ROWS = [(i, f"g{i // 8}") for i in range(400)]


async def test_accuracy_has_a_wilson_interval_as_statsmodels_computes_it(store_url: str) -> None:
    result = await _evaluation(ROWS, lambda n: exact_match(RIGHT[n], True))(
        storage=store_url, progress=False, experiment="e"
    )
    estimate = result.estimates["exact_match"]["accuracy"]
    assert estimate is not None
    successes = sum(RIGHT)
    low, high = proportion_confint(successes, 400, alpha=0.05, method="wilson")
    assert estimate.method == "wilson"
    assert estimate.value == result.summary["exact_match"]["accuracy"] == successes / 400
    assert estimate.ci == pytest.approx((low, high), abs=1e-12)
    assert estimate.n == 400
    assert doteval.load("e", storage=store_url).estimates == result.estimates


async def test_errors_count_as_wrong_in_the_value_and_the_interval() -> None:
    def score(n: int) -> Any:
        if n % 50 == 0:
            raise ConnectionError("down")
        return exact_match(RIGHT[n], True)

    result = await _evaluation(ROWS, score)(
        storage="memory://est-errors", retries=0, progress=False
    )
    estimate = result.estimates["exact_match"]["accuracy"]
    assert estimate is not None
    right = sum(RIGHT[n] for n in range(400) if n % 50)
    assert estimate.value == right / 400
    assert estimate.ci == pytest.approx(proportion_confint(right, 400, method="wilson"), abs=1e-12)


async def test_all_right_still_gives_a_proper_interval() -> None:
    result = await _evaluation(ROWS[:30], lambda n: exact_match(1, 1))(
        storage="memory://est-all", progress=False
    )
    estimate = result.estimates["exact_match"]["accuracy"]
    assert estimate is not None
    assert estimate.value == 1.0
    assert estimate.ci is not None
    assert estimate.ci[0] < 1.0 == estimate.ci[1]


async def test_a_mean_has_a_student_t_interval_as_scipy_computes_it() -> None:
    values = [math.sin(i) * 3 + (i % 7) for i in range(40)]
    result = await _evaluation(ROWS[:40], lambda n: doteval.Score("v", values[n], [mean]))(
        storage="memory://est-mean", progress=False
    )
    estimate = result.estimates["v"]["mean"]
    assert estimate is not None
    expected = scipy.stats.ttest_1samp(values, 0).confidence_interval(0.95)
    assert estimate.ci == pytest.approx((expected.low, expected.high), rel=1e-9)
    assert estimate.stderr == pytest.approx(scipy.stats.sem(values), rel=1e-9)
    assert estimate.method == "clt"


async def test_clustered_errors_match_statsmodels_and_count_clusters() -> None:
    rng = random.Random(7)
    effects = {f"g{c}": rng.gauss(0, 0.3) for c in range(50)}
    values = [0.5 + effects[group] + rng.gauss(0, 0.2) for _, group in ROWS]
    result = await _evaluation(ROWS, lambda n: doteval.Score("v", values[n], [mean]))(
        storage="memory://est-cluster", progress=False, cluster="group"
    )
    estimate = result.estimates["v"]["mean"]
    assert estimate is not None
    groups = np.array([int(group[1:]) for _, group in ROWS])
    fitted = sm.OLS(np.array(values), np.ones(len(values))).fit(
        cov_type="cluster", cov_kwds={"groups": groups}
    )
    assert estimate.method == "clustered"
    assert estimate.n == 50
    assert estimate.stderr == pytest.approx(float(fitted.bse[0]), rel=1e-9)
    assert estimate.naive_stderr is not None
    assert estimate.stderr > 1.5 * estimate.naive_stderr  # clusters widen the interval


def test_cluster_must_name_a_column() -> None:
    with pytest.raises(ValueError, match="cluster='topic' must name one of the columns n, group"):
        doteval.run(
            _evaluation(ROWS[:3], lambda n: exact_match(1, 1)),
            storage="memory://est-bad-cluster",
            cluster="topic",
            progress=False,
        )


async def test_epochs_run_every_item_k_times_and_reduce_them(epoch_store_url: str) -> None:
    store_url = epoch_store_url
    right = {(n, epoch): (n + epoch) % 4 != 0 for n in range(40) for epoch in range(4)}
    epochs_seen: list[int] = []

    @doteval.foreach("n", range(40))
    async def eval_epochs(n: int, epoch_counter: Any) -> doteval.Score:
        await anyio.lowlevel.checkpoint()
        epoch = epoch_counter(n)
        epochs_seen.append(epoch)
        return exact_match(right[n, epoch], True)

    counters: dict[int, int] = {}

    def epoch_counter(n: int) -> int:
        counters[n] = counters.get(n, -1) + 1
        return counters[n]

    result = await eval_epochs(
        epoch_counter=epoch_counter,
        storage=store_url,
        progress=False,
        epochs=4,
        reducers=["mean", "pass_at_2", reducers.at_least(4)],
        experiment="k",
        max_concurrency=1,
    )
    assert result.counts.total == 160  # item-epochs
    assert sorted(result.summary) == [
        "exact_match",
        "exact_match.at_least_4",
        "exact_match.pass_at_2",
    ]
    per_item = [sum(right[n, e] for e in range(4)) for n in range(40)]
    assert result.summary["exact_match"]["accuracy"] == pytest.approx(sum(per_item) / 160)
    expected_pass = [1 - math.comb(4 - c, 2) / math.comb(4, 2) for c in per_item]
    assert result.summary["exact_match.pass_at_2"]["accuracy"] == pytest.approx(
        sum(expected_pass) / 40
    )
    estimate = result.estimates["exact_match"]["accuracy"]
    assert estimate is not None
    assert estimate.n == 40  # items, not item-epochs
    assert estimate.method == "clt"  # shares of epochs, not 0/1
    variance = result.variance["exact_match"]
    assert variance.items == 40
    assert variance.observations == 160
    assert variance.within_variance is not None
    records = list(doteval.load("k", storage=store_url).records)
    assert sorted((record.item_id, record.epoch) for record in records) == sorted(right)


async def test_a_resumed_epoch_run_runs_each_missing_epoch_once_and_summarises_the_same(
    epoch_store_url: str,
) -> None:
    store_url = epoch_store_url
    calls: list[int] = []
    failing = False

    @doteval.foreach("n", range(30))
    async def eval_resume(n: int) -> doteval.Score:
        await anyio.lowlevel.checkpoint()
        calls.append(n)
        if failing and len(calls) % 7 == 0:
            raise ConnectionError("flaky")
        return exact_match(n % 3, 0)

    whole = await eval_resume(storage=store_url, experiment="whole", epochs=3, progress=False)
    failing = True
    first = await eval_resume(
        storage=store_url, experiment="parts", epochs=3, retries=0, progress=False
    )
    assert first.counts.errors > 0
    failing = False
    calls.clear()
    resumed = await eval_resume(storage=store_url, experiment="parts", epochs=3, progress=False)
    assert len(calls) == first.counts.errors  # only the failed item-epochs ran again
    assert resumed.summary == whole.summary
    assert resumed.estimates == whole.estimates
    calls.clear()
    more = await eval_resume(storage=store_url, experiment="parts", epochs=5, progress=False)
    assert len(calls) == 60  # two new epochs of each of the 30 items
    assert more.counts.total == 150


def test_a_store_that_keeps_one_record_per_item_refuses_epochs() -> None:
    with pytest.raises(StorageError, match="cannot store a run with epochs=2"):
        doteval.run(
            _evaluation(ROWS[:3], lambda n: exact_match(1, 1)),
            storage="dict://epochs",
            epochs=2,
            progress=False,
        )


@metric
def middle(values: list[Any]) -> float:
    return float(sorted(values)[len(values) // 2])


async def test_a_custom_metric_gets_a_seeded_bootstrap_interval() -> None:
    values = [(i * 37) % 101 / 10 for i in range(120)]
    runs = []
    for attempt in range(2):
        runs.append(
            await _evaluation(
                ROWS[:120], lambda n: doteval.Score("v", values[n], [middle, accuracy])
            )(storage=f"memory://boot-{attempt}", progress=False)
        )
    first, second = (run.estimates["v"]["middle"] for run in runs)
    assert first is not None
    assert first.method == "bootstrap"
    assert first == second  # the same data gives the same interval
    assert first.ci is not None
    assert first.ci[0] <= first.value <= first.ci[1]


def _records(values: list[float], clusters: list[int] | None = None) -> list[Record]:
    return [
        Record(
            i,
            {"c": 0 if clusters is None else clusters[i]},
            (doteval.Score("ok", value),),
        )
        for i, value in enumerate(values)
    ]


def test_the_interval_covers_the_true_accuracy_in_about_95_percent_of_runs() -> None:
    rng = random.Random(2024)
    covered, runs = 0, 800
    for _ in range(runs):
        aggregator = Aggregator()
        for record in _records([float(rng.random() < 0.7) for _ in range(150)]):
            aggregator.add(record)
        estimate = aggregator.estimates["ok"]["accuracy"]
        assert estimate is not None
        assert estimate.ci is not None
        covered += estimate.ci[0] <= 0.7 <= estimate.ci[1]
    assert 0.93 <= covered / runs <= 0.97


def test_with_clusters_only_the_clustered_interval_covers() -> None:
    rng = random.Random(99)
    clustered, naive, runs = 0, 0, 400
    for _ in range(runs):
        values, clusters = [], []
        for cluster in range(40):
            shift = rng.gauss(0, 0.25)  # questions about one passage share its difficulty
            for _ in range(10):
                values.append(float(rng.random() < min(max(0.6 + shift, 0), 1)))
                clusters.append(cluster)
        truth = 0.6  # the shifts are symmetric and rarely clipped
        with_clusters, without = Aggregator(cluster="c"), Aggregator()
        for record in _records(values, clusters):
            with_clusters.add(record)
            without.add(record)
        wide = with_clusters.estimates["ok"]["accuracy"]
        narrow = without.estimates["ok"]["accuracy"]
        assert wide is not None
        assert narrow is not None
        assert wide.ci is not None
        assert narrow.ci is not None
        clustered += wide.ci[0] <= truth <= wide.ci[1]
        naive += narrow.ci[0] <= truth <= narrow.ci[1]
    assert 0.92 <= clustered / runs <= 0.98
    assert naive / runs < 0.88
