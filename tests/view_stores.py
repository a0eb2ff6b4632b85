"""Stores for the viewer's tests, filled by running real small evaluations.

Two experiments run the same evaluation (a name with ``/``, ``::``, ``[`` and a
space, as pytest node ids have) over the same 120 rows with models of different
accuracy: some items fail for good, some fail once and pass on the retry, and one row
holds markup that must show as text.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio

import doteval
from doteval import Record, RetryPolicy
from doteval.evaluators import exact_match
from doteval.storage import COMPLETED, Lease, StoredState, Writer, open_storage
from doteval.testing import FakeModel

ITEMS = 120
EVALUATION = "suite/odd dir.eval_math::case[one two]"
MODULE, QUALNAME = EVALUATION.rsplit(".", 1)
BASELINE, CANDIDATE = "baseline", "candidate"
MARKUP = "<script>alert('owned')</script>"
MARKUP_ITEM = 7


def failing(item: int) -> bool:
    """Items that raise on every attempt (not a transient error, so never retried)."""
    return item % 25 == 3


def retried(item: int) -> bool:
    """Items whose first attempt hits a transient error and whose retry passes."""
    return item % 10 == 6


ROWS = [
    {
        "question": f"What is {i}+{i}?" + (f" {MARKUP}" if i == MARKUP_ITEM else ""),
        "answer": str(2 * i),
    }
    for i in range(ITEMS)
]


class SaltedModel:
    """A fake model whose mistakes fall on other items than another's of the same
    accuracy (FakeModel picks them by a hash of the prompt, which the salt changes)."""

    def __init__(self, accuracy: float, salt: str) -> None:
        self.model, self.salt = FakeModel(accuracy=accuracy), salt

    async def generate(self, prompt: str) -> str:
        return await self.model.generate(prompt + self.salt)


FAST_RETRIES = RetryPolicy(attempts=3, wait_initial=0.001, wait_max=0.002, wait_jitter=0.001)


def make_evaluation() -> doteval.Evaluation:
    attempts: dict[int, int] = {}

    async def evaluate(question: str, answer: str, model: SaltedModel) -> doteval.Result:
        item = int(question.split()[2].split("+")[0])
        attempts[item] = attempts.get(item, 0) + 1
        if failing(item):
            raise ValueError(f"the model returned garbage for item {item}")
        if retried(item) and attempts[item] == 1:
            raise ConnectionResetError("the API went away")
        response = await model.generate(question)
        score = exact_match(response, answer)
        score.metadata["checked"] = f"meta-{item}"
        return doteval.Result(score, prompt=f"Q: {question}", model_response=response)

    evaluate.__module__, evaluate.__qualname__ = MODULE, QUALNAME
    return doteval.foreach("question,answer", ROWS)(evaluate)


async def fill(url: str) -> None:
    """Both experiments, run for real."""
    for experiment, accuracy, salt in ((BASELINE, 0.9, ""), (CANDIDATE, 0.6, " (B)")):
        await make_evaluation()(
            model=SaltedModel(accuracy, salt),
            experiment=experiment,
            storage=url,
            retries=FAST_RETRIES,
            progress=False,
            max_concurrency=8,
            # Setting up, not testing the watchdog: on a loaded shared machine the
            # process can be descheduled for half a second.
            blocking_threshold=30,
        )


def store_url(kind: str, directory: Path) -> str:
    if kind == "sqlite":
        return f"sqlite://{directory / 'doteval.db'}"
    return f"jsonl://{directory / 'runs'}"


def filled(kind: str, directory: Path) -> str:
    url = store_url(kind, directory)
    anyio.run(fill, url)
    return url


def records(url: str, experiment: str) -> list[Record]:
    return list(open_storage(url).records(experiment, EVALUATION))


def by_id(url: str, experiment: str) -> dict[int, Record]:
    return {record.item_id: record for record in records(url, experiment)}


def correct(record: Record) -> bool:
    return record.error is None and bool(record.scores[0].value)


class LiveRun:
    """An evaluation written through the public store API, held open as a live run
    (this process holds its lease) until :meth:`finish`."""

    def __init__(self, url: str, experiment: str, evaluation: str) -> None:
        self.storage = open_storage(url)
        self.experiment, self.evaluation = experiment, evaluation
        # A lease held by our parent process: alive and not this process, so every
        # process (this one and a viewer's) sees a live run, as with a real runner.
        mine = Lease.mine()
        self.lease = Lease(mine.token, os.getppid(), mine.host, time.time())
        self.state: StoredState = self.storage.begin(experiment, evaluation, self.lease, {})
        self.writer: Writer = self.storage.writer(experiment, evaluation, self.lease)
        self.written = 0

    def write(self, count: int) -> None:
        batch = [
            (Record(item, {"n": item}, (doteval.Score("ok", True),), attempts=1), item)
            for item in range(self.written, self.written + count)
        ]
        self.written += count
        self.writer.write(batch, doteval.Counts(self.written, 0, self.written, 0), None)

    def finish(self) -> None:
        counts = doteval.Counts(self.written, 0, self.written, 0)
        self.writer.finish(COMPLETED, counts, {"ok": {"accuracy": 1.0}})
        self.writer.close()


def json_scripts(html: str) -> Iterator[Any]:
    """The JSON documents of a page's ``<script type="application/json" id=...>`` elements."""
    for found in re.finditer(r'<script type="application/json" id="[^"]+">(.*?)</script>', html):
        yield json.loads(found[1])
