"""The public API as a type checker sees it; ``mypy --strict`` checks this file (nox -s typing).

Lines marked ``# type: ignore[...]`` must be errors: with ``warn_unused_ignores``
(part of ``--strict``), an ignore that is not needed fails the check, so each
marks a mistake the types catch.
"""

from __future__ import annotations

import doteval
from doteval.concurrency import AdaptiveStrategy, RateLimitedStrategy, SlidingWindowStrategy
from doteval.evaluators import exact_match, numeric_match
from doteval.metrics import Metric, accuracy, mean, metric
from doteval.storage import Store, open_storage
from doteval.testing import FakeModel


@doteval.foreach("question,answer", [("What is 2+2?", "4")])
async def eval_math(question: str, answer: str, model: FakeModel) -> doteval.Score:
    return exact_match(await model.generate(question), answer)


@doteval.batch("questions,answers", [("What is 2+2?", "4")], batch_size=8)
async def eval_batched(
    questions: list[str], answers: list[str], model: FakeModel
) -> list[doteval.Score]:
    replies = await model.generate_batch(questions)
    return [exact_match(reply, answer) for reply, answer in zip(replies, answers, strict=True)]


async def batch_runs() -> None:
    result: doteval.EvaluationResult = await eval_batched(model=FakeModel(), max_concurrency=4)
    print(result.counts.total)
    doteval.run(eval_batched, model=FakeModel(), epochs=2)
    doteval.Batch(batch_size=16, retries=3, timeout=60.0)
    doteval.Batch(batch_size="16")  # type: ignore[arg-type]
    doteval.batch("questions", ["q"], batch_size="16")  # type: ignore[arg-type]
    await eval_batched(model=FakeModel(), samples="10")  # type: ignore[arg-type]


@metric
def highest(values: list[float]) -> float:
    return max(values)


async def run_options() -> None:
    result: doteval.EvaluationResult = await eval_math(
        model=FakeModel(),
        max_concurrency=20,
        samples=10,
        retries=2,
        timeout=30.0,
        concurrency=SlidingWindowStrategy(max_concurrency=5),
        experiment="baseline",
        storage="memory://typing",
        progress=False,
        keep_records=False,
    )
    accuracy_value: object = result.summary["exact_match"]["accuracy"]
    experiment: str | None = result.experiment
    print(accuracy_value, experiment, result.counts.errors)

    await eval_math(model=FakeModel(), samples="10")  # type: ignore[arg-type]
    await eval_math(model=FakeModel(), max_concurrency=2.5)  # type: ignore[arg-type]
    await eval_math(model=FakeModel(), progress="yes")  # type: ignore[arg-type]


def blocking_run() -> None:
    doteval.run(eval_math, model=FakeModel(), max_concurrency=5)
    doteval.run(eval_math, backend="trio", model=FakeModel())
    doteval.run(eval_math, model=FakeModel(), samples="10")  # type: ignore[arg-type]


def configured_decorators() -> None:
    doteval.ForEach(concurrency=RateLimitedStrategy(5, requests_per_second=2), retries=3)
    doteval.ForEach(concurrency=AdaptiveStrategy(max=64), retries=doteval.RetryPolicy())
    doteval.ForEach(retries=False, timeout=1.0)
    doteval.ForEach(samples="10")  # type: ignore[arg-type]
    doteval.ForEach(concurrency="fast")  # type: ignore[arg-type]


def scores() -> None:
    score: doteval.Score = numeric_match("1,000", 1000, name="thousand")
    doteval.Result(score, exact_match(1, 1), prompt="p", model_response="r")
    doteval.Score("custom", 0.5, [mean, highest])
    doteval.Score("named", 0.5, ["mean", highest])
    doteval.Score("named", 0.5, metrics=3)  # type: ignore[arg-type]
    Metric("count", lambda: _Counter())
    exact_match(1, 1, nam="typo")  # type: ignore[call-arg]
    print(accuracy.name)


class _Counter:
    def add(self, value: object) -> None: ...

    def result(self, errors: int) -> int:
        return 0


def stored() -> None:
    store: Store = open_storage("memory://typing")
    for experiment in store.experiments():
        print(experiment.name, [info.status for info in experiment.evaluations])
    loaded = doteval.load("baseline", storage=store)
    print(loaded.counts.total)
