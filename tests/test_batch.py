"""``@batch``: a function over a batch of rows, on the engine of ``@foreach``.

The batch is the unit of work (the window, retries and timeouts count batches);
records, storage, resuming, progress and statistics stay per item.
"""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest

import doteval
from doteval import Batch, Result, RetryPolicy, Score, batch
from doteval.concurrency import RateLimitedStrategy
from doteval.evaluators import exact_match, numeric_match
from doteval.storage import COMPLETED, open_storage
from doteval.testing import FakeModel
from in_flight import InFlight

pytest_plugins = ["pytester"]

FAST = RetryPolicy(wait_initial=0.001, wait_max=0.01, wait_jitter=0)
ROWS = [(f"What is {n}+{n}?", str(2 * n) if n % 4 else "wrong") for n in range(70)]
ACCURACY = sum(1 for n in range(70) if n % 4) / 70


def numbers(questions: Sequence[str]) -> list[int]:
    return [int(question.split()[2].split("+")[0]) for question in questions]


class Calls:
    """A batch evaluation over ``rows`` that keeps the item numbers of every call."""

    def __init__(self, rows: Any = ROWS, **decorator: Any) -> None:
        self.calls: list[list[int]] = []

        @Batch(**{"batch_size": 32, **decorator})("questions,answers", rows)
        async def eval_batched(questions, answers, model):
            self.calls.append(numbers(questions))
            replies = await model.generate_batch(questions)
            return [
                exact_match(reply, answer) for reply, answer in zip(replies, answers, strict=True)
            ]

        self.evaluation = eval_batched

    async def __call__(self, **options: Any) -> doteval.EvaluationResult:
        self.calls.clear()
        return await self.evaluation(**{"model": FakeModel(), "progress": False, **options})


# --- the function's view ---------------------------------------------------------------


async def test_each_call_takes_a_list_per_column_and_each_item_gets_its_record() -> None:
    calls = Calls()
    result = await calls()
    assert sorted(len(call) for call in calls.calls) == [6, 32, 32]
    assert sorted(n for call in calls.calls for n in call) == list(range(70))
    assert result.counts.total == 70
    assert result.summary == {"exact_match": {"accuracy": ACCURACY}}
    records = list(result.records)
    assert [record.item_id for record in records] == list(range(70))
    assert records[5].row == {"questions": "What is 5+5?", "answers": "10"}
    assert [record.scores[0].value for record in records[:5]] == [False, True, True, True, False]


async def test_the_summary_equals_the_same_evaluation_with_foreach() -> None:
    @doteval.foreach("question,answer", ROWS)
    async def eval_one(question, answer):
        return exact_match(await FakeModel().generate(question), answer)

    one = await eval_one(progress=False)
    batched = await Calls(batch_size=7)()
    assert batched.summary == one.summary
    assert batched.estimates == one.estimates
    assert batched.estimates["exact_match"]["accuracy"].n == 70


async def test_a_plain_def_runs_in_a_thread_with_lists() -> None:
    threads: set[str] = set()

    @batch("a,b", [(n, n % 3) for n in range(10)], batch_size=4)
    def eval_sync(a, b):
        threads.add(threading.current_thread().name)
        return [Score("equal", x % 3 == y) for x, y in zip(a, b, strict=True)]

    result = await eval_sync(progress=False)
    assert result.summary == {"equal": {"accuracy": 1.0}}
    assert threading.current_thread().name not in threads


async def test_each_item_may_return_what_a_foreach_item_may() -> None:
    @batch("n", range(3), batch_size=3)
    async def eval_mixed(n):
        return [
            Score("x", True),
            [Score("x", False), Score("y", 1.0)],
            Result(Score("x", True), prompt="p2", model_response="r2"),
        ]

    result = await eval_mixed(progress=False)
    assert result.counts.errors == 0
    records = list(result.records)
    assert [len(record.scores) for record in records] == [1, 2, 1]
    assert (records[2].prompt, records[2].model_response) == ("p2", "r2")
    assert result.summary["x"] == {"accuracy": 2 / 3}


async def test_a_wrong_length_is_an_error_for_each_item_naming_both_lengths() -> None:
    @batch("n", range(10), batch_size=4)
    async def eval_short(n):
        return [Score("ok", True)] * (len(n) - 1 if 4 in n else len(n))

    result = await eval_short(progress=False)
    errors = {record.item_id: record.error for record in result.records if record.error}
    assert sorted(errors) == [4, 5, 6, 7]
    for error in errors.values():
        assert error.type == "doteval.ReturnValueError"
        assert "returned 3 values for a batch of 4 items" in error.message
    assert result.counts.total == 10


async def test_a_single_score_for_a_batch_is_an_error_for_each_item() -> None:
    @batch("n", range(5), batch_size=5)
    async def eval_one_score(n):
        return Score("ok", True)

    result = await eval_one_score(progress=False)
    assert result.counts.errors == 5
    message = result.errors[0].error.message
    assert "returned Score" in message
    assert "for a batch of 5 items" in message
    assert "a list of 5 values" in message


async def test_a_bad_value_is_the_error_of_its_own_item() -> None:
    @batch("n", range(6), batch_size=6)
    async def eval_one_bad(n):
        return [Score("ok", True) if x != 2 else "yes" for x in n]

    result = await eval_one_bad(progress=False)
    [failed] = result.errors
    assert failed.item_id == 2
    assert "at position 2 of its batch" in failed.error.message
    assert result.counts.total == 6


async def test_a_bad_row_is_its_items_error_and_is_not_sent() -> None:
    rows: list[Any] = [(f"What is {n}+{n}?", str(2 * n)) for n in range(8)]
    rows[3] = ("What is 3+3?",)  # one value for two columns
    calls = Calls(rows, batch_size=4)
    result = await calls()
    assert sorted(map(sorted, calls.calls)) == [[0, 1, 2], [4, 5, 6, 7]]
    [failed] = result.errors
    assert failed.item_id == 3
    assert failed.error.type == "doteval.RowError"
    assert result.counts.total == 8


async def test_a_batch_of_bad_rows_calls_nothing() -> None:
    calls = Calls([("only a question",)] * 3, batch_size=4)
    result = await calls()
    assert calls.calls == []
    assert result.counts.errors == 3


async def test_an_error_of_the_call_is_the_error_of_each_item() -> None:
    @batch("n", range(9), batch_size=3)
    async def eval_broken(n):
        if 4 in n:
            raise ValueError("the model crashed")
        return [Score("ok", True) for _ in n]

    result = await eval_broken(progress=False)
    assert sorted(record.item_id for record in result.errors) == [3, 4, 5]
    assert {record.error.message for record in result.errors} == {"the model crashed"}
    assert {record.attempts for record in result.errors} == {1}  # not a transient error


# --- the unit of work ------------------------------------------------------------------


async def test_a_failing_batch_is_retried_as_a_whole() -> None:
    failed: set[int] = set()
    calls: list[list[int]] = []

    @batch("n", range(12), batch_size=4)
    async def eval_flaky(n):
        calls.append(list(n))
        if 5 in n and 5 not in failed:
            failed.add(5)
            raise ConnectionError("reset by peer")
        return [Score("ok", True) for _ in n]

    result = await eval_flaky(retries=FAST, progress=False)
    assert result.counts.errors == 0
    assert sorted(calls) == [[0, 1, 2, 3], [4, 5, 6, 7], [4, 5, 6, 7], [8, 9, 10, 11]]
    attempts = {record.item_id: record.attempts for record in result.records}
    assert attempts == {n: 2 if 4 <= n < 8 else 1 for n in range(12)}
    assert (result.counts.attempts, result.counts.retried) == (16, 4)


async def test_retries_that_run_out_leave_each_item_the_last_error() -> None:
    @batch("n", range(6), batch_size=3)
    async def eval_down(n):
        if 0 in n:
            raise ConnectionError("still down")
        return [Score("ok", True) for _ in n]

    result = await eval_down(retries=RetryPolicy(attempts=3, wait_initial=0.001), progress=False)
    assert sorted(record.item_id for record in result.errors) == [0, 1, 2]
    assert {(record.attempts, record.error.type) for record in result.errors} == {
        (3, "ConnectionError")
    }


async def test_the_timeout_bounds_each_attempt_of_a_batch() -> None:
    @batch("n", range(6), batch_size=3)
    async def eval_stuck(n):
        if 0 in n:
            await anyio.sleep_forever()
        return [Score("ok", True) for _ in n]

    result = await eval_stuck(timeout=0.05, retries=False, progress=False)
    assert sorted(record.item_id for record in result.errors) == [0, 1, 2]
    assert {record.error.type for record in result.errors} == {"doteval.ItemTimeoutError"}


@pytest.mark.parametrize(("window", "size"), [(1, 5), (3, 4), (10, 32)])
async def test_max_concurrency_counts_batches_in_flight(window: int, size: int) -> None:
    in_flight = InFlight(target=window)
    items_now = items_peak = 0

    @batch("n", range(4 * window * size), batch_size=size)
    async def eval_window(n):
        nonlocal items_now, items_peak
        items_now += len(n)
        items_peak = max(items_peak, items_now)
        try:
            await in_flight.visit()
        finally:
            items_now -= len(n)
        return [Score("ok", True) for _ in n]

    with anyio.fail_after(5):
        result = await eval_window(max_concurrency=window, progress=False)
    assert in_flight.peak == window
    assert items_peak == window * size
    assert result.counts.total == 4 * window * size


async def test_a_rate_limit_paces_calls_not_items() -> None:
    starts: list[float] = []

    @Batch(concurrency=RateLimitedStrategy(max_concurrency=4, requests_per_second=20))(
        "n", range(40), batch_size=10
    )
    async def eval_paced(n):
        starts.append(anyio.current_time())
        return [Score("ok", True) for _ in n]

    result = await eval_paced(progress=False)
    assert result.counts.total == 40
    assert len(starts) == 4
    starts.sort()
    # One call every 0.05 s: 0.15 s for the four calls, where 40 paced items take 2 s.
    assert min(later - earlier for earlier, later in itertools.pairwise(starts)) >= 0.04
    assert starts[-1] - starts[0] < 1


async def test_a_user_written_strategy_runs_batches() -> None:
    class OneAtATime:
        def __init__(self) -> None:
            self.tasks = 0

        async def execute(self, tasks, progress_callback=None):
            async for task in tasks:
                self.tasks += 1
                yield await task()

    strategy = OneAtATime()
    result = await Calls(concurrency=strategy)()
    assert strategy.tasks == 3
    assert result.counts.total == 70


# --- sampling, storage and resuming ----------------------------------------------------


async def test_samples_counts_items() -> None:
    calls = Calls(batch_size=4)
    result = await calls(samples=10, max_concurrency=1)
    assert calls.calls == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert result.counts.total == 10


async def test_each_epoch_of_an_item_is_a_row_of_a_batch(epoch_store_url: str) -> None:
    calls = Calls(ROWS[:5], batch_size=4)
    result = await calls(epochs=3, storage=epoch_store_url, max_concurrency=1)
    assert [len(call) for call in calls.calls] == [4, 4, 4, 3]
    assert sorted(n for call in calls.calls for n in call) == sorted(list(range(5)) * 3)
    assert result.counts.total == 15
    pairs = sorted((record.item_id, record.epoch) for record in result.records)
    assert pairs == [(item, epoch) for item in range(5) for epoch in range(3)]


async def test_records_are_stored_per_item_and_a_resumed_run_rebatches_what_is_missing(
    store_url: str,
) -> None:
    failing = {2, 7, 11, 30, 41, 69}

    @batch("questions,answers", ROWS, batch_size=8)
    async def eval_resumable(questions, answers, model):
        calls.append(numbers(questions))
        replies = await model.generate_batch(questions)
        return [
            "no score" if n in failing else exact_match(reply, answer)
            for n, reply, answer in zip(numbers(questions), replies, answers, strict=True)
        ]

    calls: list[list[int]] = []
    first = await eval_resumable(model=FakeModel(), experiment="r", storage=store_url)
    assert first.counts.errors == len(failing)
    stored = open_storage(store_url).records("r", eval_resumable.name)
    assert [record.item_id for record in stored] == list(range(70))

    failing.clear()
    calls.clear()
    second = await eval_resumable(
        model=FakeModel(), experiment="r", storage=store_url, max_concurrency=1
    )
    assert calls == [[2, 7, 11, 30, 41, 69]]  # one batch of the six errors
    assert second.summary == {"exact_match": {"accuracy": ACCURACY}}
    assert (second.counts.total, second.counts.errors) == (70, 0)
    [info] = doteval.experiments(storage=store_url)[0].evaluations
    assert info.status == COMPLETED
    assert info.metadata["options"]["batch_size"] == 8
    assert doteval.load("r", storage=store_url).summary == second.summary


async def test_an_interrupted_run_resumes_to_the_summary_of_an_uninterrupted_one(
    store_url: str,
) -> None:
    seen = 0

    @batch("questions,answers", ROWS, batch_size=5)
    async def eval_stopped(questions, answers, model):
        nonlocal seen
        seen += 1
        if seen == 4:
            scope.cancel()
            await anyio.sleep_forever()
        replies = await model.generate_batch(questions)
        return [exact_match(reply, answer) for reply, answer in zip(replies, answers, strict=True)]

    with anyio.CancelScope() as scope:
        await eval_stopped(model=FakeModel(), experiment="i", storage=store_url, max_concurrency=2)
    stored = len(list(open_storage(store_url).records("i", eval_stopped.name)))
    assert 0 < stored < 70
    result = await eval_stopped(model=FakeModel(), experiment="i", storage=store_url)
    assert result.summary == {"exact_match": {"accuracy": ACCURACY}}
    assert result.counts.total == 70


# --- entry points and configuration ----------------------------------------------------


def test_doteval_run_runs_a_batch_evaluation() -> None:
    calls = Calls(batch_size=16)
    result = doteval.run(calls.evaluation, backend="trio", model=FakeModel(), progress=False)
    assert result.counts.total == 70
    assert sorted(len(call) for call in calls.calls) == [6, 16, 16, 16, 16]


def test_the_batch_size_is_checked_when_decorating() -> None:
    with pytest.raises(ValueError, match=r"Batch\.batch_size must be a whole number of at least 1"):
        batch("n", range(3), batch_size=0)
    with pytest.raises(ValueError, match="batch_size"):
        Batch(batch_size=2.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Batch\(\) got unknown option\(s\) batch_sise"):
        Batch(batch_sise=3)


def test_batch_takes_the_run_options_as_defaults() -> None:
    configured = Batch(batch_size=8, max_concurrency=2, retries=False)

    @configured("n", range(3))
    async def eval_configured(n):
        return [Score("ok", True) for _ in n]

    assert eval_configured.batch_size == 8
    assert eval_configured.defaults.max_concurrency == 2
    assert configured("n", range(3), batch_size=4)(eval_configured.fn).batch_size == 4
    assert "in batches of 8" in repr(eval_configured)
    assert isinstance(eval_configured, doteval.Evaluation)


async def test_a_registered_benchmark_in_batches(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pytest.importorskip("datasets")
    from pyarrow import parquet

    questions = [f"What is {n}*3?" for n in range(5)]
    answers = [f"{n}*3 = <<{n}*3={3 * n}>>{3 * n}\n#### {3 * n}" for n in range(5)]
    parquet.write_table(
        pa.table({"question": questions, "answer": answers}), tmp_path / "t.parquet"
    )
    sizes: list[int] = []

    @Batch(batch_size=2).gsm8k("test", data_files=str(tmp_path / "t.parquet"))
    async def eval_gsm8k(question, reasoning, answer, model):
        sizes.append(len(question))
        replies = await model.generate_batch(question)
        return [numeric_match(reply, a) for reply, a in zip(replies, answer, strict=True)]

    result = await eval_gsm8k(model=FakeModel(), progress=False)
    assert sorted(sizes) == [1, 2, 2]
    assert result.summary == {"numeric_match": {"accuracy": 1.0}}
    with pytest.raises(AttributeError, match=r"batch\.gsm9k: no dataset named 'gsm9k'"):
        batch.gsm9k  # noqa: B018


async def test_the_function_needs_a_parameter_per_column() -> None:
    with pytest.raises(TypeError, match="no parameter for column"):

        @batch("questions,answers", ROWS)
        async def eval_missing(questions):
            return []


async def test_a_misspelt_argument_fails_once() -> None:
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) 'modle'"):
        await Calls().evaluation(modle=FakeModel())


async def test_progress_counts_items(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from doteval._private.progress import display

    for name, seconds in [("FIRST_DRAW_DELAY", 0.01), ("REFRESH_INTERVAL", 0.02)]:
        monkeypatch.setattr(display, name, seconds)
    monkeypatch.setattr(display, "PLAIN_INTERVAL", 0.02)
    failed: set[int] = set()

    @batch("n", range(20), batch_size=5)
    async def eval_counted(n):
        await anyio.sleep(0.01)
        if 0 in n and not failed:
            failed.add(0)
            raise ConnectionError("reset")
        return [Score("ok", True) for _ in n]

    await eval_counted(retries=FAST, max_concurrency=1, experiment="progress")
    lines = capsys.readouterr().err.splitlines()
    last = next(line for line in lines if line.startswith("eval_counted: completed"))
    assert last.startswith("eval_counted: completed 20 items")
    assert last.endswith("0 errors, 5 retries")  # the five items of the retried batch


def test_the_pytest_plugin_collects_a_batch_evaluation(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        eval_batched="""
        import doteval
        from doteval.evaluators import exact_match, numeric_match

        @doteval.batch("a,b", [(str(i), str(i)) for i in range(10)], batch_size=4)
        def eval_pairs(a, b):
            return [exact_match(x, y) for x, y in zip(a, b, strict=True)]
        """
    )
    result = pytester.runpytest_inprocess("--doteval-report", "report.json")
    result.assert_outcomes(passed=1)
    [row] = json.loads((pytester.path / "report.json").read_text())["evaluations"]
    assert (row["nodeid"], row["items"], row["errors"]) == ("eval_batched.py::eval_pairs", 10, 0)


# --- a killed run ----------------------------------------------------------------------

KILLED_ITEMS = 120
KILLED_CHILD = r"""
import os, signal, sys
import anyio
import doteval
from doteval._private.persist import hook as persist
from doteval.evaluators import exact_match
from doteval.storage import open_storage

url, point = sys.argv[1], int(sys.argv[2])
persist.BATCH_SIZE = 8
persist.FLUSH_INTERVAL = 0.01
calls = 0

@doteval.batch("n", range(ITEMS), batch_size=8)
async def eval_killed(n):
    global calls
    calls += 1
    call = calls
    print("call", *n, flush=True)
    await anyio.lowlevel.checkpoint()
    if point and call > point:  # in flight when the point-th call kills the process
        await anyio.sleep_forever()
    if call == point:  # once the earlier batches' records are written, die
        with anyio.fail_after(20):
            while not open_storage(url).count("killed", eval_killed.name):
                await anyio.sleep(0.005)
        os.kill(os.getpid(), signal.SIGKILL)
    return ["unscorable" if x % 11 == 5 else exact_match(x % 3, 0) for x in n]

doteval.run(eval_killed, experiment="killed", storage=url, max_concurrency=2, progress=False)
print("finished", flush=True)
""".replace("ITEMS", str(KILLED_ITEMS))


def _run_child(tmp_path: Path, url: str, point: int) -> list[int]:
    """The items of the calls of a child that kills itself in its ``point``-th call (or
    with 0, finishes)."""
    script = tmp_path / "killed.py"
    script.write_text(KILLED_CHILD, encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, str(script), url, str(point)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    expected = -signal.SIGKILL if point else 0
    assert completed.returncode == expected, completed.stdout + completed.stderr
    called = [
        int(n)
        for line in completed.stdout.splitlines()
        if line.startswith("call ")
        for n in line.split()[1:]
    ]
    return called


def _stored_successes(url: str) -> set[int]:
    storage = open_storage(url)
    [info] = storage.experiments()[0].evaluations
    return {record.item_id for record in storage.records("killed", info.name) if not record.error}


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("kind", ["sqlite", "jsonl"])
def test_a_killed_run_resumes_with_the_missing_items_only(tmp_path: Path, kind: str) -> None:
    url = f"{kind}://{tmp_path / ('killed.db' if kind == 'sqlite' else 'runs')}"
    for point in (3, 5, 4):
        _run_child(tmp_path, url, point)
    before = _stored_successes(url)
    assert 0 < len(before) < KILLED_ITEMS
    called = _run_child(tmp_path, url, 0)
    assert sorted(called) == sorted(set(range(KILLED_ITEMS)) - before)
    storage = open_storage(url)
    [info] = storage.experiments()[0].evaluations
    assert info.status == COMPLETED
    records = list(storage.records("killed", info.name))
    assert [record.item_id for record in records] == list(range(KILLED_ITEMS))
    assert [record.item_id for record in records if record.error] == [
        n for n in range(KILLED_ITEMS) if n % 11 == 5
    ]
    loaded = doteval.load("killed", storage=url)
    scored = [n for n in range(KILLED_ITEMS) if n % 11 != 5]
    assert loaded.summary == {
        "exact_match": {"accuracy": sum(n % 3 == 0 for n in scored) / KILLED_ITEMS}
    }
