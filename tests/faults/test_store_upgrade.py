"""Stores written by doteval's first release stay readable and resumable; newer ones are refused.

``stores/v1`` was written by that release (``stores/make_v1_stores.py`` says how):
experiment ``v1-run``, 30 of 40 rows run (``samples=30``), 6 of them failed.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import doteval
from doteval.evaluators import exact_match
from doteval.storage import COMPLETED, PARTIAL, StorageError, open_storage

V1 = Path(__file__).parent / "stores" / "v1"
ROWS = [{"question": f"q{i}", "answer": f"a{i}", "tags": [i % 3, "x"]} for i in range(40)]
NAME = "__main__.eval_upgrade"  # the first release stored scripts' evaluations under __main__


def _evaluation(called: list[int]) -> doteval.Evaluation:
    def eval_upgrade(question: str, answer: str, tags: list[object]) -> doteval.Score:
        number = int(question[1:])
        called.append(number)
        return exact_match(f"a{number}" if number % 5 else "wrong", answer)

    eval_upgrade.__module__ = "__main__"
    eval_upgrade.__qualname__ = "eval_upgrade"
    return doteval.foreach("question,answer,tags", ROWS)(eval_upgrade)


@pytest.fixture(params=["sqlite", "jsonl"])
def old_store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        shutil.copy(V1 / "doteval.db", tmp_path / "doteval.db")
        return f"sqlite://{tmp_path / 'doteval.db'}"
    shutil.copytree(V1 / "jsonl", tmp_path / "jsonl")
    return f"jsonl://{tmp_path / 'jsonl'}"


def test_an_old_store_reads_as_it_was_written(old_store: str) -> None:
    [experiment] = doteval.experiments(storage=old_store)
    [info] = experiment.evaluations
    assert (experiment.name, info.name, info.status) == ("v1-run", NAME, PARTIAL)
    loaded = doteval.load("v1-run", storage=old_store)
    records = list(loaded.records)
    assert [record.item_id for record in records] == list(range(30))
    assert sorted(r.item_id for r in records if r.error) == [3, 4, 11, 17, 23, 29]
    assert loaded.counts.total == 30
    assert loaded.counts.errors == 6
    right = sum(1 for r in records if r.error is None and r.scores[0].value)
    assert loaded.summary == {"exact_match": {"accuracy": right / 30}}


async def test_an_old_store_resumes_exactly_once_per_item(old_store: str, tmp_path: Path) -> None:
    called: list[int] = []
    resumed = await _evaluation(called)(experiment="v1-run", storage=old_store, progress=False)
    # The 6 failures run again, and the 10 rows samples=30 left out; nothing else.
    assert sorted(called) == [3, 4, 11, 17, 23, 29, *range(30, 40)]
    fresh = await _evaluation([])(
        experiment="fresh", storage=f"sqlite://{tmp_path / 'fresh.db'}", progress=False
    )
    assert resumed.summary == fresh.summary
    assert resumed.counts.total == 40
    assert resumed.counts.errors == 0
    [experiment] = [e for e in doteval.experiments(storage=old_store) if e.name == "v1-run"]
    [info] = experiment.evaluations
    assert info.status == COMPLETED
    # Its rows keep the first release's row hash, so a later resume still matches them.
    assert info.metadata["row_hash"] == "crc32-repr"
    called.clear()
    await _evaluation(called)(experiment="v1-run", storage=old_store, progress=False)
    assert called == []


def test_an_old_sqlite_store_is_migrated_in_place(tmp_path: Path) -> None:
    shutil.copy(V1 / "doteval.db", tmp_path / "doteval.db")
    path = tmp_path / "doteval.db"
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone() == (1,)
    open_storage(f"sqlite://{path}")
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone() == (3,)
        assert connection.execute("PRAGMA application_id").fetchone() == (0x646F7465,)
        columns = [row[1] for row in connection.execute("PRAGMA table_info(items)")]
        assert columns == ["evaluation_id", "item_id", "epoch", "row_hash", "ok", "body"]
        assert connection.execute("SELECT count(*) FROM shards").fetchone() == (0,)
        assert connection.execute(
            "SELECT count(*), min(epoch), max(epoch) FROM items"
        ).fetchone() == (
            30,
            0,
            0,
        )


def _newer(url: str, tmp_path: Path) -> None:
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite://")) as connection:
            connection.execute("PRAGMA user_version = 99")
    else:
        (tmp_path / "jsonl" / ".doteval-store.json").write_text(json.dumps({"format": 99}))


def test_a_store_newer_than_this_doteval_is_refused(old_store: str, tmp_path: Path) -> None:
    open_storage(old_store)  # migrated, or marked, by this doteval
    if old_store.startswith("jsonl"):
        doteval.run(_evaluation([]), experiment="mark", storage=old_store, progress=False)
    _newer(old_store, tmp_path)
    with pytest.raises(StorageError, match=r"written by a newer doteval.*format 99.*upgrade"):
        open_storage(old_store)


def test_the_fixture_was_written_by_the_first_release() -> None:
    with sqlite3.connect(V1 / "doteval.db") as connection:
        version, application = (
            connection.execute("PRAGMA user_version").fetchone()[0],
            connection.execute("PRAGMA application_id").fetchone()[0],
        )
        metadata: Any = json.loads(
            connection.execute("SELECT metadata FROM evaluations").fetchone()[0]
        )
    assert (version, application) == (1, 0)
    assert metadata["doteval"] == "0.1.0"
    assert "row_hash" not in metadata
