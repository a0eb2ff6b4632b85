"""Shards in processes of their own, some SIGKILLed mid-run: running those shards again
stores every item exactly once, and the evaluation reads back as a single process's.

Four processes run the four shards of a 20,000-item evaluation at once on one store; two
of them, chosen by a seeded ``random.Random``, are killed after a seeded number of items
and a seeded delay (wherever their store writer then is: records of the last moments are
typically not yet stored). Items run far faster than a test reads a child's output, so a
child to be killed holds its later items until the kill: it cannot finish first. The
killed shards run again; a fifth process runs the whole evaluation alone into another
experiment, for reference.
"""

from __future__ import annotations

import random
import signal
import sys
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import pytest

import doteval
from child_process import Child, child
from doteval.storage import COMPLETED, INTERRUPTED, Shard, open_storage

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

ITEMS = 20_000
SHARDS = 4
EXPERIMENT = "spread"

CHILD = """
import sys
import anyio
import doteval
from doteval.evaluators import exact_match

url, experiment, shard, hold = sys.argv[1:5]
started = 0


@doteval.foreach("n", range(ITEMS))
async def eval_spread(n):
    global started
    started += 1
    if int(hold) and started > int(hold):  # the items after the first ``hold`` wait
        if started == int(hold) + 1:
            print("holding", flush=True)
        await anyio.sleep_forever()
    print("ran", n, flush=True)
    await anyio.lowlevel.checkpoint()
    if n % 17 == 3:
        raise ValueError("every 17th item fails")
    return exact_match(n % 3, 0)


eval_spread.fn.__module__ = "shard_kill"  # the same evaluation in every child's script
result = doteval.run(
    eval_spread,
    experiment=experiment,
    storage=url,
    shard=None if shard == "whole" else shard,
    max_concurrency=50,
    retries=0,
    progress=False,
)
print("finished", result.counts.total, flush=True)
""".replace("ITEMS", str(ITEMS))


def start(
    stack: ExitStack, tmp_path: Path, url: str, experiment: str, shard: str, hold: int = 0
) -> Child:
    """A child running ``shard``; after ``hold`` items (0: never) the others wait."""
    return stack.enter_context(child(tmp_path, CHILD, url, experiment, shard, str(hold)))


def finish(process: Child, expected: int) -> list[int]:
    """The items a child ran, once it finished having run ``expected`` of them in all."""
    last = process.line("finished", timeout=120)
    assert last == f"finished {expected}", process.stderr()
    assert process.wait(30) == 0, process.stderr()
    return [int(line.split()[1]) for line in process.seen if line.startswith("ran ")]


def kill(process: Child, delay: float) -> None:
    """SIGKILL ``process`` ``delay`` seconds after it began holding its items."""
    process.line("holding", timeout=60)
    time.sleep(delay)  # where the store thread is then: writing, waiting, or done
    process.signal(signal.SIGKILL)
    assert process.wait(30) == -signal.SIGKILL


def stored(url: str, experiment: str) -> tuple[str, list[int], set[int]]:
    """The evaluation's status, the item of every stored record, and the items that
    succeeded (resuming runs the others again)."""
    storage = open_storage(url)
    [info] = storage.experiment(experiment).evaluations
    records = list(storage.records(experiment, info.name))
    succeeded = {record.item_id for record in records if record.error is None}
    return info.status, [record.item_id for record in records], succeeded


@pytest.fixture(params=["sqlite", "jsonl", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'doteval.db'}"
    return f"jsonl://{tmp_path / 'runs'}"


def test_killed_shards_run_again_store_every_item_once_and_sum_up_as_one_process(
    url: str, tmp_path: Path
) -> None:
    seeded = random.Random(f"doteval-shard-kill-{url.partition(':')[0]}")
    shares = {index: Shard(index, SHARDS).size_of(ITEMS) for index in range(SHARDS)}
    killed = {
        index: seeded.randrange(50, shares[index] // 2) for index in seeded.sample(range(SHARDS), 2)
    }
    with ExitStack() as stack:
        processes = {
            index: start(
                stack, tmp_path, url, EXPERIMENT, f"{index}/{SHARDS}", killed.get(index, 0)
            )
            for index in range(SHARDS)
        }
        for index in killed:
            kill(processes[index], seeded.uniform(0, 0.3))
        ran = {
            index: finish(process, shares[index])
            for index, process in processes.items()
            if index not in killed
        }
    status, items, succeeded = stored(url, EXPERIMENT)
    assert status == INTERRUPTED  # the killed shards' items are missing, and none runs
    assert len(items) < ITEMS

    with ExitStack() as stack:
        again = {
            index: start(stack, tmp_path, url, EXPERIMENT, f"{index}/{SHARDS}") for index in killed
        }
        whole = start(stack, tmp_path, url, "whole", "whole")
        for index, process in again.items():
            ran[index] = finish(process, shares[index])
            assert not set(ran[index]) & succeeded  # what a killed shard stored is kept
        finish(whole, ITEMS)

    status, items, _ = stored(url, EXPERIMENT)
    assert status == COMPLETED
    assert sorted(items) == list(range(ITEMS))  # every item exactly once
    for index, items_run in ran.items():
        share = {item for item in range(ITEMS) if Shard(index, SHARDS).holds(item)}
        assert set(items_run) <= share
        if index not in killed:
            assert Counter(items_run) == Counter(share)  # each item ran once
    merged = doteval.load(EXPERIMENT, storage=url)
    alone = doteval.load("whole", storage=url)
    assert merged.counts == alone.counts
    assert merged.counts.errors == len(range(3, ITEMS, 17))
    assert merged.summary == alone.summary
    assert merged.estimates == alone.estimates
