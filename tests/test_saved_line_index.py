"""The jsonl store keeps a big record file's index beside it (``FILE.index``): a later
process reads only the lines appended since, and an index that no longer fits its
file is never trusted."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

import doteval
from doteval._private.storage.backends import saved_index
from doteval._private.storage.backends.line_index import LineIndex
from doteval.storage import open_storage
from test_jsonl_store import evaluation_name, record_file, rerun_failures
from test_resume import Flaky


@pytest.fixture(autouse=True)
def save_small_indexes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Indexes of a few lines are saved too, so these tests stay small."""
    monkeypatch.setattr(saved_index, "SAVE_FROM_LINES", 5)


def opened(path: Path) -> list[tuple[int, int, int, int, bool]]:
    """The file's index as a new process opens it (from the saved one, if it fits)."""
    index = LineIndex.open(str(path))
    try:
        return list(index.entries(0, None))
    finally:
        index.close()


def scanned(path: Path) -> list[tuple[int, int, int, int, bool]]:
    """The file's index read the long way, from its lines."""
    saved = Path(saved_index.saved_path(str(path)))
    kept = saved.read_bytes() if saved.exists() else None
    saved.unlink(missing_ok=True)
    try:
        return opened(path)
    finally:
        if kept is not None:
            saved.write_bytes(kept)


def tamper(path: Path) -> None:
    """Change the row hash the saved index holds for item 0 (the file stays as it is)."""
    with sqlite3.connect(saved_index.saved_path(str(path))) as db:
        db.execute("UPDATE lines SET row_hash = 12345 WHERE item_id = 0")
    db.close()


async def test_a_run_saves_its_index_which_equals_one_read_from_the_lines(
    tmp_path: Path,
) -> None:
    await rerun_failures(tmp_path, "saved", {3, 8})  # later lines supersede items 3 and 8
    path = record_file(tmp_path, "saved")
    assert Path(saved_index.saved_path(str(path))).is_file()
    noted = opened(path)
    assert noted == scanned(path)
    assert [entry[0] for entry in noted] == list(range(20))
    assert all(entry[4] for entry in noted)  # the successes replaced the errors


async def test_the_saved_index_is_what_a_later_process_reads(tmp_path: Path) -> None:
    url = f"jsonl://{tmp_path}"
    await Flaky()(experiment="used", storage=url)
    path = record_file(tmp_path, "used")
    tamper(path)
    entries = opened(path)
    assert entries[0][3] == 12345  # read from the saved index, not from the lines
    assert entries[1:] == scanned(path)[1:]


async def test_lines_appended_after_the_index_was_saved_are_read(tmp_path: Path) -> None:
    url = f"jsonl://{tmp_path}"
    await Flaky()(experiment="grown", storage=url, samples=12)
    path = record_file(tmp_path, "grown")
    before = Path(saved_index.saved_path(str(path))).read_bytes()
    extra = Flaky()
    result = await extra(experiment="grown", storage=url)  # resumes: items 12 to 19
    assert sorted(extra.called) == list(range(12, 20))
    assert result.counts.total == 20
    Path(saved_index.saved_path(str(path))).write_bytes(before)  # as if never re-saved
    assert opened(path) == scanned(path)
    assert [entry[0] for entry in opened(path)] == list(range(20))


@pytest.mark.parametrize("change", ["edited", "cut short", "replaced"])
async def test_a_saved_index_that_no_longer_fits_its_file_is_ignored(
    tmp_path: Path, change: str
) -> None:
    url = f"jsonl://{tmp_path}"
    await Flaky()(experiment="changed", storage=url)
    path = record_file(tmp_path, "changed")
    tamper(path)
    lines = path.read_bytes().splitlines(keepends=True)
    if change == "edited":  # the same length and the same last line: only a checksum tells
        lines[0], lines[1] = lines[1], lines[0]
        path.write_bytes(b"".join(lines))
    elif change == "cut short":
        path.write_bytes(b"".join(lines[:-1]))
    else:
        path.unlink()
        path.write_bytes(b"".join(reversed(lines)))
    entries = opened(path)
    assert entries == scanned(path)
    assert all(entry[3] != 12345 for entry in entries)
    records = list(open_storage(url).records("changed", evaluation_name(url)))
    assert len(records) == (19 if change == "cut short" else 20)


@pytest.mark.parametrize("damage", [b"", b"not a database at all" * 100, b"SQLite format 3\0"])
async def test_a_damaged_saved_index_is_read_around(tmp_path: Path, damage: bytes) -> None:
    url = f"jsonl://{tmp_path}"
    await Flaky()(experiment="damaged", storage=url)
    path = record_file(tmp_path, "damaged")
    Path(saved_index.saved_path(str(path))).write_bytes(damage)
    assert [entry[0] for entry in opened(path)] == list(range(20))
    result = doteval.load("damaged", storage=url)
    assert result.counts.total == 20


async def test_an_index_that_cannot_be_saved_costs_nothing(tmp_path: Path) -> None:
    url = f"jsonl://{tmp_path}"
    await Flaky()(experiment="unsaved", storage=url, samples=10)
    path = record_file(tmp_path, "unsaved")
    saved = Path(saved_index.saved_path(str(path)))
    saved.unlink()
    # Where the index would be written first, something that cannot be written to.
    Path(f"{saved}.{os.getpid()}.tmp").mkdir()
    result = await Flaky()(experiment="unsaved", storage=url)
    assert result.counts.total == 20
    assert not saved.exists()
    assert [record.item_id for record in doteval.load("unsaved", storage=url).records] == list(
        range(20)
    )


async def test_a_small_file_keeps_no_index_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(saved_index, "SAVE_FROM_LINES", 50)
    await Flaky()(experiment="small", storage=f"jsonl://{tmp_path}")
    path = record_file(tmp_path, "small")
    assert not Path(saved_index.saved_path(str(path))).exists()
