"""The jsonl store reads its append-only files by item id, whatever order the lines are in."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

import doteval
from doteval._private.storage.backends import line_index
from doteval.storage import StorageError, open_storage
from test_resume import CLEAN_SUMMARY, Flaky


def evaluation_name(url: str) -> str:
    [experiment] = doteval.experiments(storage=url)
    [evaluation] = experiment.evaluations
    return evaluation.name


def record_file(root: Path, experiment: str) -> Path:
    [path] = (root / experiment).glob("*.jsonl")
    return path


async def rerun_failures(root: Path, experiment: str, failing: set[int]) -> Flaky:
    """Run with the items of ``failing`` failing, then again with none failing: the
    file holds 20 lines, then a later line of each of those items (a success)."""
    flaky = Flaky(failing=failing)
    await flaky(experiment=experiment, storage=f"jsonl://{root}")
    flaky.failing.clear()
    await flaky(experiment=experiment, storage=f"jsonl://{root}")
    return flaky


async def test_lines_in_any_order_are_read_by_item_id_the_last_line_of_an_item_winning(
    tmp_path: Path,
) -> None:
    url = f"jsonl://{tmp_path}"
    flaky = await rerun_failures(tmp_path, "mixed", {4, 7})
    path = record_file(tmp_path, "mixed")
    lines = path.read_bytes().splitlines(keepends=True)
    assert len(lines) == 22
    first_run = lines[:20]
    random.Random(3).shuffle(first_run)
    path.write_bytes(b"".join(first_run + lines[20:]))

    records = list(doteval.load("mixed", storage=url).records)
    assert [record.item_id for record in records] == list(range(20))
    assert all(record.error is None for record in records)
    errors = list(open_storage(url).records("mixed", evaluation_name(url), errors_only=True))
    assert errors == []
    result = await flaky(experiment="mixed", storage=url)
    assert flaky.called == []
    assert result.summary == CLEAN_SUMMARY


async def test_totals_stored_before_a_crash_are_not_trusted_for_lines_written_after(
    tmp_path: Path,
) -> None:
    url = f"jsonl://{tmp_path}"
    flaky = Flaky(failing={4})
    await flaky(experiment="crashed", storage=url)
    # Killed between appending a batch and storing its totals: item 4's success is in
    # the file, but not in the totals kept beside it.
    flaky.failing.clear()
    await flaky(experiment="donor", storage=url)
    [success] = [
        line
        for line in record_file(tmp_path, "donor").read_bytes().splitlines(keepends=True)
        if line.startswith(b'{"item_id":4,')
    ]
    with record_file(tmp_path, "crashed").open("ab") as handle:
        handle.write(success)

    result = await flaky(experiment="crashed", storage=url)
    assert flaky.called == []
    assert result.summary == CLEAN_SUMMARY


async def test_one_store_object_sees_lines_appended_later_and_files_replaced(
    tmp_path: Path,
) -> None:
    url = f"jsonl://{tmp_path}"
    storage = open_storage(url)
    flaky = Flaky(rows=[(f"q{i}", "wrong") for i in range(20)])
    await flaky(experiment="growing", storage=url, samples=10)
    name = evaluation_name(url)
    assert [record.item_id for record in storage.records("growing", name)] == list(range(10))

    await flaky(experiment="growing", storage=url)  # another store object appends
    assert [record.item_id for record in storage.records("growing", name)] == list(range(20))

    # Deleted and run again: a longer file at the same path, perhaps with the same inode.
    open_storage(url).delete("growing")
    longer = [(f"q{i}", f"a{i} and a longer answer") for i in range(20)]
    await Flaky(rows=longer)(experiment="growing", storage=url)
    rows = [record.row for record in storage.records("growing", name)]
    assert rows == [{"question": q, "answer": a} for q, a in longer]


async def test_records_are_streamed_a_page_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(line_index, "PAGE_SIZE", 3)
    monkeypatch.setattr(line_index, "SCAN_BYTES", 100)  # a few lines per read
    url = f"jsonl://{tmp_path}"
    flaky = Flaky(failing={0, 5, 6, 13, 19})
    await flaky(experiment="paged", storage=url)
    storage, name = open_storage(url), evaluation_name(url)
    assert [r.item_id for r in storage.records("paged", name)] == list(range(20))
    assert [r.item_id for r in storage.records("paged", name, start=4, stop=14)] == list(
        range(4, 14)
    )
    assert [r.item_id for r in storage.records("paged", name, errors_only=True)] == [
        0, 5, 6, 13, 19
    ]  # fmt: skip
    assert len(list(storage.records("paged", name, successes_only=True))) == 15


async def test_a_corrupt_line_names_the_file_and_how_to_fix_it(tmp_path: Path) -> None:
    url = f"jsonl://{tmp_path}"
    await Flaky()(experiment="corrupt", storage=url)
    path = record_file(tmp_path, "corrupt")
    lines = sorted(
        path.read_bytes().splitlines(keepends=True), key=lambda line: json.loads(line)["item_id"]
    )
    path.write_bytes(b"".join([*lines[:2], b"not json\n", *lines[3:]]))
    with pytest.raises(StorageError, match=r"line 3 is not a doteval record.*repair that line"):
        list(doteval.load("corrupt", storage=url).records)

    # Only the first fields of a line are read while indexing; the rest when it is read.
    torn_inside = lines[2][:70] + b"\n"
    path.write_bytes(b"".join([*lines[:2], torn_inside, *lines[3:]]))
    records = iter(doteval.load("corrupt", storage=url).records)
    assert [next(records).item_id for _ in range(2)] == [0, 1]
    with pytest.raises(StorageError, match=rf"{path.name}: the line at byte \d+ is not a doteval"):
        next(records)
