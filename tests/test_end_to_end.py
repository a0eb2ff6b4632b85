"""Everything together: one evaluation with ``epochs=3`` over a JSON-lines dataset, as
``@batch`` and as ``@foreach``, run in 3 shard processes on PostgreSQL with one shard
SIGKILLed and run again, compared with a second experiment, and opened in the viewer;
every number agrees with single processes on SQLite. The ``@foreach`` processes run on
asyncio, the ``@batch`` ones on trio.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import signal
import sys
from contextlib import ExitStack
from pathlib import Path

import anyio
import httpx
import pytest

import doteval
from child_process import Child, child
from doteval._private.text import number
from doteval._private.view.app import create_app
from doteval.storage import COMPLETED, INTERRUPTED, EvaluationInfo, open_storage

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

ROWS = 240
EPOCHS = 3
SHARDS = 3
KINDS = ("foreach", "batch")
NAMES = {"foreach": "end_to_end.eval_questions", "batch": "end_to_end.eval_questions_batched"}
ACCURACY = {"baseline": 0.6, "candidate": 0.8}

CHILD = """
import sys
import anyio
import doteval
from doteval.datasets import jsonl
from doteval.evaluators import exact_match
from doteval.testing import FakeModel

url, experiment, kind, shard, accuracy, dataset, hold = sys.argv[1:8]
calls = 0


async def called():
    \"\"\"After ``hold`` calls (0: never), the calls wait to be killed.\"\"\"
    global calls
    calls += 1
    if int(hold) and calls > int(hold):
        print("holding", flush=True)
        await anyio.sleep_forever()


@doteval.foreach("question,answer", jsonl(dataset))
async def eval_questions(question, answer, model):
    await called()
    return exact_match(await model.generate(question), answer)


@doteval.batch("question,answer", jsonl(dataset), batch_size=8)
async def eval_questions_batched(question, answer, model):
    await called()
    replies = await model.generate_batch(question)
    return [exact_match(reply, expected) for reply, expected in zip(replies, answer)]


evaluation = eval_questions if kind == "foreach" else eval_questions_batched
evaluation.fn.__module__ = "end_to_end"  # the same evaluation in every child's script
result = doteval.run(
    evaluation,
    "asyncio" if kind == "foreach" else "trio",
    model=FakeModel(accuracy=float(accuracy), latency=0.002),
    experiment=experiment,
    storage=url,
    shard=None if shard == "whole" else shard,
    epochs=EPOCHS,
    max_concurrency=2,
    progress=False,
)
print("finished", result.counts.total, flush=True)
""".replace("EPOCHS", str(EPOCHS))


def write_dataset(path: Path) -> Path:
    with path.open("w", encoding="utf-8") as file:
        for n in range(ROWS):
            file.write(json.dumps({"question": f"What is {n}+{n}?", "answer": str(2 * n)}) + "\n")
    return path


class Runs:
    """Child processes of the evaluation, all reaped when the block ends."""

    def __init__(self, stack: ExitStack, tmp_path: Path, dataset: Path) -> None:
        self.stack, self.tmp_path, self.dataset = stack, tmp_path, dataset

    def start(
        self, url: str, experiment: str, kind: str, shard: str = "whole", hold: int = 0
    ) -> Child:
        """A run (or ``shard``) whose calls wait to be killed after ``hold`` of them."""
        arguments = (url, experiment, kind, shard, str(ACCURACY[experiment]), str(self.dataset))
        return self.stack.enter_context(child(self.tmp_path, CHILD, *arguments, str(hold)))


def finished(process: Child) -> int:
    """How many item-epochs the child's run (or shard) counted."""
    total = int(process.line("finished", timeout=120).split()[1])
    assert process.wait(30) == 0, process.stderr()
    return total


def info_of(url: str, name: str) -> EvaluationInfo:
    """The candidate's evaluation as doteval reads it (the shards merged)."""
    [info] = [found for found in doteval.experiments(storage=url) if found.name == "candidate"]
    [evaluation] = [found for found in info.evaluations if found.name == name]
    return evaluation


def stored_once(url: str, experiment: str, name: str) -> bool:
    storage = open_storage(url)
    keys = [(record.item_id, record.epoch) for record in storage.records(experiment, name)]
    return sorted(keys) == list(itertools.product(range(ROWS), range(EPOCHS)))


async def page(url: str, path: str) -> str:
    transport = httpx.ASGITransport(app=create_app(url))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        response = await client.get(path)
    assert response.status_code == 200, response.text
    return response.text


def table(html: str, css_class: str) -> str:
    [found] = re.findall(rf'<table class="{css_class}".*?</table>', html, re.DOTALL)
    return found


def compare_path(name: str) -> str:
    return f"/compare?a=baseline&b=candidate&evaluation={name}"


def test_batch_and_foreach_sharded_on_postgres_with_a_kill_agree_with_sqlite(
    postgres_url: str, tmp_path: Path
) -> None:
    sqlite_url = f"sqlite://{tmp_path / 'reference.db'}"
    dataset = write_dataset(tmp_path / "questions.jsonl")
    seeded = random.Random("doteval-end-to-end")
    killed = {kind: seeded.randrange(SHARDS) for kind in KINDS}
    with ExitStack() as stack:
        runs = Runs(stack, tmp_path, dataset)
        references = [
            runs.start(url, experiment, kind)
            for url in (sqlite_url, postgres_url)
            for experiment in ("baseline", "candidate")
            for kind in KINDS
            if (url, experiment) != (postgres_url, "candidate")
        ]
        holds = {kind: seeded.randrange(2, 12) for kind in KINDS}  # calls: items, or batches
        shards = {
            (kind, index): runs.start(
                postgres_url,
                "candidate",
                kind,
                f"{index}/{SHARDS}",
                hold=holds[kind] if killed[kind] == index else 0,
            )
            for kind in KINDS
            for index in range(SHARDS)
        }
        for kind, index in killed.items():
            process = shards.pop((kind, index))
            process.line("holding", timeout=60)
            process.signal(signal.SIGKILL)
            assert process.wait(30) == -signal.SIGKILL
        share_totals = {key: finished(process) for key, process in shards.items()}
        assert all(total == ROWS * EPOCHS for total in map(finished, references))
    for kind in KINDS:
        info = info_of(postgres_url, NAMES[kind])
        assert info.status == INTERRUPTED  # the killed shard's items are missing
        assert info.shards[killed[kind]].status == INTERRUPTED

    with ExitStack() as stack:
        runs = Runs(stack, tmp_path, dataset)
        again = {
            kind: runs.start(postgres_url, "candidate", kind, f"{index}/{SHARDS}")
            for kind, index in killed.items()
        }
        for kind, process in again.items():
            share_totals[kind, killed[kind]] = finished(process)

    for kind in KINDS:
        name = NAMES[kind]
        info = info_of(postgres_url, name)
        assert (info.status, [found.status for found in info.shards]) == (
            COMPLETED,
            [COMPLETED] * SHARDS,
        )
        assert sum(share_totals[kind, index] for index in range(SHARDS)) == ROWS * EPOCHS
        assert stored_once(postgres_url, "candidate", name)
        sharded = doteval.load("candidate", name, storage=postgres_url)
        alone = doteval.load("candidate", name, storage=sqlite_url)
        assert sharded.counts == alone.counts
        assert sharded.summary == alone.summary
        assert sharded.estimates == alone.estimates
        assert sharded.variance == alone.variance

        on_postgres = doteval.compare(doteval.load("baseline", name, storage=postgres_url), sharded)
        on_sqlite = doteval.compare(doteval.load("baseline", name, storage=sqlite_url), alone)
        assert on_postgres == on_sqlite
        difference = on_postgres["exact_match"]["accuracy"]
        assert difference.better > 0
        assert difference.n == ROWS

        viewed = anyio.run(page, postgres_url, compare_path(name))
        reference = anyio.run(page, sqlite_url, compare_path(name))
        for css_class in ("comparison", "side-by-side"):
            assert table(viewed, css_class) == table(reference, css_class)
        comparison = table(viewed, "comparison")
        assert f'<td class="num">{number(difference.better)}</td>' in comparison
        assert f'<td class="num">{number(difference.n)}</td>' in comparison
        shown = anyio.run(page, postgres_url, f"/evaluations/candidate/{name}")
        for index in range(SHARDS):
            assert f'data-shard="{index}/{SHARDS}"' in shown

    # The same model answers the same prompts whether they come in batches or one by one.
    foreach, batch = (doteval.load("candidate", NAMES[kind], storage=sqlite_url) for kind in KINDS)
    assert foreach.summary == batch.summary
