"""``view``: ``doteval view`` over a 1,000,000-item evaluation pages straight from the store.

For an SQLite store and a JSON-lines store, each holding one evaluation of 1,000,000
items (1,000 of them errors), written through the store's own writer: ``doteval view``
runs for real in a subprocess (uvicorn on 127.0.0.1), and pages of 50 items are
fetched over HTTP. Targets: the first page in ≤ 200 ms, the page 250,000 items in
(``?after=249999``) in ≤ 200 ms, the error filter in ≤ 500 ms, and the server's peak
RSS under 150 MB. The numbers are medians of repeated requests after a first one; the
baseline beside each page is reading the same records from the store in this process.

The first request after the server started is reported on its own: on SQLite it is
held to the same 200 ms; the jsonl store indexes its file by item id on first read,
once per server process, and its row "index build" is that request.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path

import httpx

import doteval
from benchmarks.measure import ROOT, check
from benchmarks.registry import Row, Settings, below, benchmark, scaled
from doteval.storage import COMPLETED, Lease, open_storage

ITEMS = scaled(1_000_000)
PAGE = 50
ERROR_EVERY = max(8, ITEMS // 1_000)
"""Item 7 of every ``ERROR_EVERY`` is an error: 1,000 errors, one item in a thousand of
the full million, and still a full page of them at the suite's hundredth."""
BATCH = 20_000
EXPERIMENT, EVALUATION = "big", "benchmarks.view.eval_big"
ADDRESS = re.compile(r"at (http://\S+/) \(Ctrl-C to stop\)")
SERVE = "from doteval._private.cli.main import main; main()"


def _record(item: int) -> doteval.Record:
    row = {"question": f"What is {item}+{item}?", "answer": str(2 * item)}
    if item % ERROR_EVERY == 7:
        error = doteval.ErrorInfo("TimeoutError", "slow", "Traceback ...\nTimeoutError: slow\n")
        return doteval.Record(item, row, error=error, attempts=3, duration=0.01)
    score = doteval.Score("exact_match", item % 3 != 0)
    return doteval.Record(
        item, row, (score,), f"Q: {row['question']}", row["answer"], attempts=1, duration=0.01
    )


def build(url: str) -> None:
    """A finished 1,000,000-item evaluation, written in batches through the store's writer."""
    storage = open_storage(url)
    lease = Lease.mine()
    storage.begin(EXPERIMENT, EVALUATION, lease, {"doteval": doteval.__version__})
    writer = storage.writer(EXPERIMENT, EVALUATION, lease)
    errors = 0
    try:
        for start in range(0, ITEMS, BATCH):
            batch = [(_record(item), item) for item in range(start, min(ITEMS, start + BATCH))]
            errors += sum(record.error is not None for record, _ in batch)
            done = start + len(batch)
            writer.write(batch, doteval.Counts(done, errors, done, errors), None)
        counts = doteval.Counts(ITEMS, errors, ITEMS + 2 * errors, errors)
        writer.finish(COMPLETED, counts, {"exact_match": {"accuracy": 0.666}})
    finally:
        writer.close()


@contextlib.contextmanager
def serving(url: str) -> Iterator[tuple[str, int]]:
    """``doteval view`` on a free port: its address and process id."""
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, "view", "--storage", url, "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src"), "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = ADDRESS.search(line)
        check(found is not None, f"doteval view printed {line!r}")
        assert found is not None
        yield found[1], process.pid
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM line")


def timed_ms(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def store_read_ms(url: str, start: int, errors: bool) -> float:
    """The floor under a page: reading its records straight from the store."""
    storage = open_storage(url)

    def read() -> None:
        records = storage.records(EXPERIMENT, EVALUATION, start=start, errors_only=errors)
        got = list(islice(records, PAGE + 1))
        records.close()
        check(len(got) == PAGE + 1, f"read {len(got)} records")

    read()  # the jsonl index, built once
    return statistics.median(timed_ms(read) for _ in range(5))


QUARTER = ITEMS // 4
"""Where the deep page starts: item 250,000 of the full million."""

CASES = (
    ("first page", "", 0, False, 200),
    (f"page after={QUARTER - 1}", f"?after={QUARTER - 1}", QUARTER, False, 200),
    ("errors only", "?errors=1", 0, True, 500),
)


def measure(kind: str, url: str, repeats: int) -> Iterator[Row]:
    path = "evaluations/" + EXPERIMENT + "/" + EVALUATION
    with serving(url) as (address, pid), httpx.Client(timeout=600) as client:
        started_rss = peak_rss_mb(pid)

        def fetch(query: str) -> Callable[[], None]:
            def get() -> None:
                response = client.get(address + path + query)
                check(response.status_code == 200, f"{query}: HTTP {response.status_code}")
                check(response.text.count('class="item-row') == PAGE, f"{query}: not a full page")

            return get

        first = timed_ms(fetch(""))  # jsonl: builds the line index
        if kind == "jsonl":
            yield Row(
                "view", "jsonl: index build (first read)", "asyncio", PAGE, "ms", first, first,
                below(120_000), baseline="the same request",
            )  # fmt: skip
        else:
            yield Row(
                "view", "sqlite: first request after start", "asyncio", PAGE, "ms", first,
                store_read_ms(url, 0, False), below(200), baseline="store read",
            )  # fmt: skip
        for case, query, start, errors, bound in CASES:
            fetch(query)()
            served = statistics.median(timed_ms(fetch(query)) for _ in range(repeats))
            yield Row(
                "view", f"{kind}: {case}", "asyncio", PAGE, "ms", served,
                store_read_ms(url, start, errors), below(bound), baseline="store read",
            )  # fmt: skip
        yield Row(
            "view", f"{kind}: server peak RSS", "asyncio", PAGE, "MB", peak_rss_mb(pid),
            started_rss, below(150), baseline="server at start",
        )  # fmt: skip


@benchmark("view", order=60)
def view(settings: Settings) -> Iterator[Row]:
    repeats = max(3, settings.repeats * 2)
    for kind in ("sqlite", "jsonl"):
        with tempfile.TemporaryDirectory() as scratch:
            directory = Path(scratch)
            url = (
                f"sqlite://{directory / 'doteval.db'}"
                if kind == "sqlite"
                else f"jsonl://{directory / 'runs'}"
            )
            started = time.perf_counter()
            build(url)
            print(
                f"view: built the {kind} store of {ITEMS:,} items in "
                f"{time.perf_counter() - started:.0f} s",
                file=sys.stderr,
            )
            yield from measure(kind, url, repeats)
