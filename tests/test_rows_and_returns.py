"""Datasets and rows going in; scores, records and the result object coming out."""

from __future__ import annotations

import re

import anyio
import anyio.lowlevel
import pytest

import doteval
from doteval import DatasetError, Result, Score, foreach
from doteval._private.run.engine import READ_AHEAD_LIMIT, WINDOWS_AHEAD
from doteval.evaluators import exact_match
from doteval.metrics import accuracy, mean
from in_flight import InFlight

PAIRS = [("What is 2+2?", "4"), ("What is 3+3?", "6"), ("What is 1+1?", "2")]


@foreach("question,answer", PAIRS)
async def _reference(question, answer):
    return exact_match(answer, answer)


# --- binding rows ------------------------------------------------------------------


@pytest.mark.parametrize(
    "dataset",
    [
        PAIRS,
        [list(pair) for pair in PAIRS],
        [{"question": q, "answer": a, "source": "extra keys are ignored"} for q, a in PAIRS],
    ],
    ids=["tuples", "lists", "dicts"],
)
async def test_rows_bind_to_columns(dataset: list[object]) -> None:
    seen: list[tuple[str, str]] = []

    @foreach("question,answer", dataset)
    async def evaluate(question, answer):
        seen.append((question, answer))
        return exact_match(answer, answer)

    result = await evaluate()
    assert sorted(seen) == sorted(PAIRS)
    assert [record.row for record in result.records] == [
        {"question": q, "answer": a} for q, a in PAIRS
    ]


async def test_single_column_takes_the_whole_value() -> None:
    seen: list[object] = []

    @foreach("text", ["a", ("b", "c"), {"text": "d"}])
    def evaluate(text):
        seen.append(text)
        return Score("seen", True)

    await evaluate()
    assert seen == ["a", ("b", "c"), "d"]


def _stream(n: int = 5):
    for i in range(n):
        yield (f"q{i}", f"a{i}")


async def _astream(n: int = 5):
    for i in range(n):
        await anyio.lowlevel.checkpoint()
        yield (f"q{i}", f"a{i}")


@pytest.mark.parametrize(
    "make_dataset",
    [
        lambda: _stream(),
        lambda: _astream(),
        lambda: iter(list(_stream())),
        lambda: (pair for pair in _stream()),
    ],
    ids=["generator", "async-generator", "iterator", "generator-expression"],
)
async def test_one_shot_datasets_run_once_then_fail_clearly(make_dataset) -> None:
    @foreach("question,answer", make_dataset())
    async def evaluate(question, answer):
        return exact_match(answer, answer)

    assert (await evaluate()).counts.total == 5
    with pytest.raises(DatasetError, match=r"one-shot iterator.*evaluate nothing.*callable"):
        await evaluate()


@pytest.mark.parametrize(
    "dataset", [_stream, _astream, lambda: _stream(3)], ids=["gen-fn", "async-gen-fn", "lambda"]
)
async def test_callables_are_read_afresh_for_every_run(dataset) -> None:
    seen: list[str] = []

    @foreach("question,answer", dataset)
    async def evaluate(question, answer):
        seen.append(question)
        return exact_match(answer, answer)

    first = await evaluate()
    second = await evaluate()
    assert first.counts.total == second.counts.total > 0
    assert sorted(seen) == sorted(seen[: first.counts.total] * 2)


async def test_a_list_can_run_many_times() -> None:
    assert (await _reference()).counts.total == 3
    assert (await _reference()).counts.total == 3


def test_a_dataset_that_is_not_iterable_fails_clearly() -> None:
    @foreach("question,answer", 42)
    async def evaluate(question, answer):
        return exact_match(answer, answer)

    with pytest.raises(TypeError, match=r"dataset of evaluate is a int; pass an iterable"):
        anyio.run(evaluate)


async def test_a_dataset_that_breaks_while_read_raises_dataset_error() -> None:
    def broken():
        yield ("q0", "a0")
        raise OSError("disk on fire")

    @foreach("question,answer", broken)
    async def evaluate(question, answer):
        return exact_match(answer, answer)

    with pytest.raises(DatasetError, match=r"reading row 1 .*OSError: disk on fire"):
        await evaluate()


@pytest.mark.parametrize(
    ("row", "found"),
    [
        (("only one",), r"has 1 values but the columns question, answer need 2"),
        ({"question": "q"}, r"has no key 'answer'.*the row's keys are 'question'"),
        (42, r"is a int, which cannot fill the 2 columns question, answer"),
    ],
    ids=["short-tuple", "dict-missing-key", "scalar"],
)
async def test_a_row_that_does_not_fit_is_an_error_record(row: object, found: str) -> None:
    @foreach("question,answer", [("q0", "a0"), row, ("q2", "a2")])
    async def evaluate(question, answer):
        return exact_match(answer, answer)

    result = await evaluate()
    assert result.counts.total == 3
    assert result.counts.errors == 1
    (error,) = result.errors
    assert error.item_id == 1
    assert error.error is not None
    assert error.error.type.endswith("RowError")
    assert repr(row) in error.error.message
    assert "question" in error.error.message
    assert re.search(found, error.error.message)
    assert result.summary == {"exact_match": {"accuracy": pytest.approx(2 / 3)}}


async def test_samples_runs_the_first_n_and_reads_no_further() -> None:
    read = 0

    def counted():
        nonlocal read
        for i in range(100):
            read += 1
            yield (f"q{i}", f"a{i}")

    seen: list[str] = []

    @foreach("question,answer", counted)
    async def evaluate(question, answer):
        seen.append(question)
        return exact_match(answer, answer)

    result = await evaluate(samples=7)
    assert result.counts.total == 7
    assert sorted(seen) == sorted(f"q{i}" for i in range(7))
    assert read == 7
    assert (await evaluate(samples=0)).counts.total == 0


# --- lazy consumption ----------------------------------------------------------------


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync-gen", "async-gen"])
@pytest.mark.parametrize("window", [5, READ_AHEAD_LIMIT // 2])
async def test_read_ahead_is_bounded(asynchronous: bool, window: int) -> None:
    """The dataset is read at most one buffer (a few windows, or more) ahead of the items
    that finished: memory stays O(window) however long the dataset."""
    rows_count = 3 * max(WINDOWS_AHEAD * window, READ_AHEAD_LIMIT)
    read = 0
    finished = 0
    lead = 0

    def note_read() -> None:
        nonlocal read, lead
        read += 1
        lead = max(lead, read - finished)

    def rows():
        for i in range(rows_count):
            note_read()
            yield i

    async def arows():
        for i in range(rows_count):
            note_read()
            yield i

    in_flight = InFlight(target=window)  # the first items wait until the window is full

    @foreach("n", arows if asynchronous else rows)
    async def slow(n):
        nonlocal finished
        await in_flight.visit()
        await anyio.lowlevel.checkpoint()
        finished += 1
        return Score("ok", True)

    # Hundreds of tasks in one scheduler pass, and a heap of thousands of rows to collect,
    # can outlast the blocking warning's 0.5 s on a loaded machine: not what this tests.
    result = await slow(max_concurrency=window, blocking_threshold=30)
    assert result.counts.total == rows_count
    ahead = max(WINDOWS_AHEAD * window, READ_AHEAD_LIMIT)
    assert window <= lead <= ahead + 2 * window + 2


# --- return values ---------------------------------------------------------------------


async def test_a_list_of_scores_counts_each_score() -> None:
    batched = [(["2+2", "3+3"], ["4", "6"]), (["1+1", "5+5", "0+0"], ["2", "9", "0"])]

    @foreach("questions,answers", batched)
    async def eval_batch(questions, answers):
        results = [str(eval(question)) for question in questions]
        return [exact_match(r, a) for r, a in zip(results, answers, strict=True)]

    result = await eval_batch()
    assert result.summary == {"exact_match": {"accuracy": pytest.approx(4 / 5)}}
    assert [len(record.scores) for record in result.records] == [2, 3]


async def test_result_keeps_prompt_and_response() -> None:
    @foreach("question,answer", PAIRS)
    async def evaluate(question, answer):
        prompt = f"Q: {question}"
        return Result(
            exact_match(answer, answer),
            Score("length", len(prompt), metrics=mean),
            prompt=prompt,
            model_response=answer,
        )

    result = await evaluate()
    first = result.records[0]
    assert first.prompt == "Q: What is 2+2?"
    assert first.model_response == "4"
    assert [score.name for score in first.scores] == ["exact_match", "length"]
    assert result.summary["length"]["mean"] == pytest.approx(
        sum(len(f"Q: {q}") for q, _ in PAIRS) / 3
    )


async def test_score_metadata_is_kept_on_the_record() -> None:
    @foreach("question,answer", PAIRS)
    async def eval_with_timing(question, answer):
        score = exact_match(answer, answer)
        score.metadata["duration"] = 0.25
        score.metadata["question"] = question
        return score

    result = await eval_with_timing()
    assert [record.scores[0].metadata for record in result.records] == [
        {"duration": 0.25, "question": q} for q, _ in PAIRS
    ]


@pytest.mark.parametrize(
    ("value", "described"),
    [
        (True, "returned bool True"),
        ("4", "returned str '4'"),
        (None, "returned NoneType None"),
        ([], "returned list []"),
        ({"exact_match": True}, "returned dict"),
    ],
)
async def test_anything_else_returned_is_an_error_record(value: object, described: str) -> None:
    @foreach("question,answer", PAIRS[:1])
    async def evaluate(question, answer):
        return value

    result = await evaluate()
    (record,) = result.errors
    assert record.error is not None
    assert record.error.type.endswith("ReturnValueError")
    assert described in record.error.message
    assert "return a Score" in record.error.message
    assert "doteval.Result(" in record.error.message


def test_result_takes_only_scores() -> None:
    with pytest.raises(TypeError, match=r"Result\(\) takes Score objects.*got bool True"):
        Result(True)  # type: ignore[arg-type]


# --- the result object -------------------------------------------------------------


async def test_result_object() -> None:
    dataset = [("a", "a"), ("b", "x"), ("c", "c"), ("boom", "boom"), ("d", "d")]

    @foreach("text,expected", dataset)
    async def evaluate(text, expected):
        # Items finish in reverse order, so sorting the records is doteval's job.
        await anyio.sleep(0.002 * (10 - ord(text[0]) % 10))
        if text == "boom":
            raise ValueError("the model crashed")
        return Result(
            exact_match(text, expected),
            Score("length", len(text), metrics=[mean, accuracy]),
            prompt=text,
            model_response=expected,
        )

    result = await evaluate(max_concurrency=5)
    assert result.summary == {
        "exact_match": {"accuracy": 3 / 5},
        "length": {"mean": 1.0, "accuracy": 4 / 5},
    }
    assert (result.counts.total, result.counts.errors) == (5, 1)
    assert result.counts.succeeded == 4
    assert result.counts.attempts == 5
    assert result.wall_time > 0

    records = list(result.records)
    assert [record.item_id for record in records] == [0, 1, 2, 3, 4]
    second = records[1]
    assert second.row == {"text": "b", "expected": "x"}
    assert [(s.name, s.value) for s in second.scores] == [("exact_match", False), ("length", 1)]
    assert (second.prompt, second.model_response) == ("b", "x")
    assert second.error is None
    assert second.attempts == 1
    assert second.duration > 0

    (failed,) = result.errors
    assert failed.item_id == 3
    assert failed.scores == ()
    assert failed.error is not None
    assert failed.error.type == "ValueError"
    assert failed.error.message == "the model crashed"
    assert 'raise ValueError("the model crashed")' in failed.error.traceback


async def test_without_records_the_summary_and_counts_stay_right() -> None:
    @foreach("n", range(50))
    async def evaluate(n):
        if n % 10 == 0:
            raise ValueError("every tenth fails")
        return exact_match(n % 2, 0)

    result = await evaluate(keep_records=False)
    assert list(result.records) == []
    assert result.errors == []
    assert (result.counts.total, result.counts.errors) == (50, 5)
    # 45 scored items: the evens among them (20) are correct; the 5 errors count as wrong.
    assert result.summary == {"exact_match": {"accuracy": 20 / 50}}


async def test_errors_are_incorrect_for_every_score_name() -> None:
    @foreach("n", range(4))
    async def evaluate(n):
        if n == 0:
            raise RuntimeError("no answer")
        return [Score("first", True), Score("second", n > 1)]

    result = await evaluate()
    assert result.summary == {
        "first": {"accuracy": 3 / 4},
        "second": {"accuracy": 2 / 4},
    }


def test_summary_of_a_run_as_a_plain_dict_of_dicts() -> None:
    result = doteval.run(_reference)
    assert dict(result.summary) == {"exact_match": {"accuracy": 1.0}}
    assert all(isinstance(metrics, dict) for metrics in result.summary.values())
