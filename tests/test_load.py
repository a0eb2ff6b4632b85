"""Reading stored results back: ``doteval.load``, ``doteval.experiments`` and export."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import anyio
import pytest

import doteval
from doteval.evaluators import exact_match
from doteval.storage import INTERRUPTED, Lease, UnknownNameError, export, open_storage

ROWS = [(f"q{i}", f"a{i}" if i % 2 else "wrong") for i in range(6)]


def make_eval(name: str, failing: set[int] | None = None) -> doteval.Evaluation:
    failing = failing if failing is not None else set()

    async def evaluate(question: str, answer: str) -> doteval.Result:
        number = int(question[1:])
        if number in failing:
            raise KeyError(f"no model answer for {question}")
        response = f"a{number}"
        return doteval.Result(
            exact_match(response, answer), prompt=f"say {question}", model_response=response
        )

    evaluate.__name__ = evaluate.__qualname__ = name
    return doteval.foreach("question,answer", ROWS)(evaluate)


async def test_load_returns_the_result_a_run_returns(store_url: str) -> None:
    run = await make_eval("eval_one", failing={3})(experiment="exp", storage=store_url)
    loaded = doteval.load("exp", storage=store_url)
    assert isinstance(loaded, doteval.EvaluationResult)
    assert loaded.evaluation == run.evaluation
    assert loaded.summary == run.summary
    assert loaded.counts == run.counts
    assert [record.item_id for record in loaded.errors] == [3]
    assert loaded.errors[0].error is not None
    assert loaded.errors[0].error.type == "KeyError"
    assert "Traceback" in loaded.errors[0].error.traceback
    assert loaded.records[1].prompt == "say q1"
    assert loaded.records[1].model_response == "a1"
    assert loaded.records == run.records
    assert loaded.wall_time >= 0


async def test_several_evaluations_need_a_name(store_url: str) -> None:
    await make_eval("eval_one")(experiment="two", storage=store_url)
    await make_eval("eval_two")(experiment="two", storage=store_url)
    with pytest.raises(UnknownNameError, match=r"2 evaluations.*eval_one.*eval_two"):
        doteval.load("two", storage=store_url)
    full = f"{__name__}.eval_two"
    assert doteval.load("two", full, storage=store_url).evaluation == full
    assert doteval.load("two", "eval_two", storage=store_url).evaluation == full  # short name
    with pytest.raises(UnknownNameError, match="did you mean"):
        doteval.load("two", f"{__name__}.eval_too", storage=store_url)
    with pytest.raises(UnknownNameError, match="did you mean 'two'"):
        doteval.load("tow", storage=store_url)


async def test_experiments_lists_evaluations_newest_first(store_url: str) -> None:
    await make_eval("eval_one")(experiment="older", storage=store_url)
    await anyio.sleep(0.01)
    await make_eval("eval_one")(experiment="newer", storage=store_url)
    await make_eval("eval_two")(experiment="newer", storage=store_url)
    found = doteval.experiments(storage=store_url)
    assert [info.name for info in found] == ["newer", "older"]
    assert [info.name.rsplit(".", 1)[1] for info in found[0].evaluations] == [
        "eval_one",
        "eval_two",
    ]
    assert found[0].evaluations[0].counts is not None
    assert found[0].evaluations[0].counts.total == 6


async def test_an_interrupted_evaluation_loads_what_was_stored(store_url: str) -> None:
    storage = open_storage(store_url)
    await make_eval("eval_one")(experiment="cut", storage=store_url, samples=4)
    # A later run that died without a word: the store still says "running".
    dead = Lease("gone", 2**22 + 12345, Lease.mine().host, 0.0)
    storage.begin("cut", f"{__name__}.eval_one", dead, {})
    [info] = doteval.experiments(storage=store_url)[0].evaluations
    assert info.status == INTERRUPTED
    loaded = doteval.load("cut", storage=store_url)
    assert loaded.counts.total == 4
    assert loaded.summary == {"exact_match": {"accuracy": 0.5}}
    assert len(list(loaded.records)) == 4


async def test_export_jsonl_has_one_line_per_item(store_url: str) -> None:
    failing = {2}
    evaluation = make_eval("eval_one", failing)
    await evaluation(experiment="x", storage=store_url)
    failing.clear()
    await evaluation(experiment="x", storage=store_url)  # supersedes the error of item 2
    buffer = io.StringIO()
    assert export("x", buffer, "jsonl", storage=store_url) == 6
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert [line["item_id"] for line in lines] == list(range(6))
    assert all(line["error"] is None for line in lines)
    assert lines[0]["evaluation"] == evaluation.name
    assert lines[1]["scores"] == [
        {"name": "exact_match", "value": True, "metrics": ["accuracy"], "metadata": {}}
    ]


async def test_export_csv_has_a_column_per_score(store_url: str) -> None:
    await make_eval("eval_one", failing={5})(experiment="x", storage=store_url)
    buffer = io.StringIO()
    export("x", buffer, "csv", storage=store_url)
    rows: list[dict[str, Any]] = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert len(rows) == 6
    assert rows[0]["score:exact_match"] == "False"
    assert rows[1]["score:exact_match"] == "True"
    assert json.loads(rows[1]["row"]) == {"question": "q1", "answer": "a1"}
    assert rows[5]["error_type"] == "KeyError"
    assert rows[5]["score:exact_match"] == ""


def test_export_rejects_unknown_formats() -> None:
    with pytest.raises(ValueError, match="jsonl, csv"):
        export("x", io.StringIO(), "xml", storage="memory://formats")
