"""Every score of an item has a name of its own, and a result says where it is stored."""

from __future__ import annotations

from typing import Any

import anyio

import doteval
from doteval.evaluators import contains, evaluator, exact_match, numeric_match, valid_json

ROWS = [("a", "a"), ("b", "x"), ("c", "c")]


async def test_two_scores_of_one_name_in_a_result_make_an_error_record() -> None:
    @doteval.foreach("answer,expected", ROWS)
    async def eval_twice(answer: str, expected: str) -> doteval.Result:
        await anyio.lowlevel.checkpoint()
        return doteval.Result(exact_match(answer, expected), exact_match(answer, answer))

    result = await eval_twice(storage="memory://names-twice", progress=False)
    assert result.counts.errors == 3
    assert result.summary == {}
    [error] = {record.error.message for record in result.errors if record.error}
    assert "several scores named 'exact_match'" in error
    assert "pass name=" in error


async def test_names_given_at_the_call_keep_the_scores_apart() -> None:
    @doteval.foreach("answer,expected", ROWS)
    async def eval_named(answer: str, expected: str) -> doteval.Result:
        await anyio.lowlevel.checkpoint()
        return doteval.Result(
            exact_match(answer, expected),
            exact_match(answer, answer, name="exact_match_self"),
        )

    result = await eval_named(storage="memory://names-apart", progress=False)
    assert result.counts.errors == 0
    assert result.summary == {
        "exact_match": {"accuracy": 2 / 3},
        "exact_match_self": {"accuracy": 1.0},
    }


async def test_a_list_of_scores_of_one_name_is_pooled_as_in_batch_rows() -> None:
    @doteval.foreach("batch", [[1, 2, 3], [4, 5]])
    async def eval_batch(batch: list[int]) -> list[doteval.Score]:
        await anyio.lowlevel.checkpoint()
        return [exact_match(n % 2, 1) for n in batch]

    result = await eval_batch(storage="memory://names-batch", progress=False)
    assert result.summary == {"exact_match": {"accuracy": 3 / 5}}


def test_every_built_in_evaluator_takes_name() -> None:
    assert exact_match(1, 1, name="strict").name == "strict"
    assert numeric_match("1,000", 1000, name="number").name == "number"
    assert valid_json("{}", name="json").name == "json"
    assert contains("abc", "b", name="has_b").name == "has_b"
    assert exact_match(1, 1).name == "exact_match"


def test_an_evaluator_of_your_own_takes_name_at_the_call() -> None:
    @evaluator()
    def close_enough(result: float, expected: float) -> bool:
        return abs(result - expected) < 0.1

    assert close_enough(1.0, 1.05).name == "close_enough"
    renamed: Any = close_enough
    assert renamed(1.0, 1.05, name="near").name == "near"

    @evaluator()
    def labelled(result: str, name: str) -> bool:  # its own parameter called name
        return result == name

    assert labelled("x", name="x") == doteval.Score("labelled", True)


async def test_a_result_says_where_it_is_stored_so_code_can_resume_it(tmp_path: Any) -> None:
    url = f"sqlite://{tmp_path / 'store.db'}"
    calls: list[str] = []

    @doteval.foreach("answer,expected", ROWS)
    async def eval_resumable(answer: str, expected: str) -> doteval.Score:
        await anyio.lowlevel.checkpoint()
        calls.append(answer)
        if answer == "b" and len(calls) <= 3:
            raise ConnectionError("flaky")
        return exact_match(answer, expected)

    first = await eval_resumable(storage=url, progress=False, retries=0)
    assert first.experiment is not None
    assert first.storage == url
    assert first.counts.errors == 1
    again = await eval_resumable(storage=url, progress=False, experiment=first.experiment)
    assert calls[3:] == ["b"]  # only the failed item ran again
    assert again.counts.errors == 0
    assert doteval.load(first.experiment, storage=url).experiment == first.experiment


def test_a_password_in_a_storage_url_is_masked() -> None:
    from doteval._private.storage.urls import mask_url

    assert (
        mask_url("postgresql://me:secret@db.example:5432/evals")
        == "postgresql://me:***@db.example:5432/evals"
    )
    assert mask_url("sqlite:///tmp/a:b@c/x.db") == "sqlite:///tmp/a:b@c/x.db"
