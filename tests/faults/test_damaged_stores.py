"""A store is correct or says it is damaged, naming the file and the fix; it never reports
data it does not have, and one damaged part hides nothing else."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import sys
import warnings
from pathlib import Path
from typing import Any

import anyio
import pytest
from click.testing import CliRunner

import doteval
from doteval._private.cli.main import main
from doteval.evaluators import exact_match
from doteval.storage import (
    PARTIAL,
    EvaluationBusyError,
    InvalidNameError,
    StorageError,
    StorageWarning,
    open_storage,
)

ROWS = [(f"q{i}", f"a{i}" if i % 7 else "wrong") for i in range(3000)]


def _evaluation(rows: list[Any] = ROWS, name: str = "eval_rows") -> doteval.Evaluation:
    async def eval_rows(question: str, answer: str) -> doteval.Score:
        await anyio.lowlevel.checkpoint()
        return exact_match(f"a{question[1:]}", answer)

    eval_rows.__qualname__ = eval_rows.__name__ = name
    return doteval.foreach("question,answer", rows)(eval_rows)


def _cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def _one_line_error(result: Any, *fragments: str) -> None:
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    for fragment in fragments:
        assert fragment in result.output


def _sqlite_store(tmp_path: Path) -> tuple[str, Path]:
    path = tmp_path / "store.db"
    url = f"sqlite://{path}"
    doteval.run(_evaluation(), experiment="big", storage=url, progress=False)
    return url, path


def _overwrite(path: Path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as handle:
        handle.seek(offset)
        handle.write(data)


@pytest.mark.parametrize("damage", ["garbage in the middle", "zeroed page"])
def test_damaged_sqlite_pages_are_an_error_never_fewer_records(tmp_path: Path, damage: str) -> None:
    url, path = _sqlite_store(tmp_path)
    size = path.stat().st_size
    data = os.urandom(4096) if damage.startswith("garbage") else bytes(4096)
    _overwrite(path, (size // 2) // 4096 * 4096, data)
    loaded = doteval.load("big", storage=url)
    assert len(loaded.records) == 3000
    with pytest.raises(StorageError, match=r"store\.db|damaged|lost records"):
        list(loaded.records)  # reading fewer than 3,000 without an error is what must not be
    check = _cli("check", "--storage", url)
    _one_line_error(check, "damaged")


@pytest.mark.skipif(sys.version_info < (3, 11), reason="sqlite3 names its codes from 3.11 on")
def test_an_extended_sqlite_code_is_read_as_its_primary_one() -> None:
    from doteval._private.storage.backends import sqlite as backend

    for name in ("SQLITE_READONLY", "SQLITE_CORRUPT", "SQLITE_FULL", "SQLITE_NOTADB"):
        assert getattr(backend, name) == getattr(sqlite3, name)
    error = sqlite3.DatabaseError("an index is wrong")  # nothing to tell from the words
    error.sqlite_errorcode = sqlite3.SQLITE_CORRUPT_INDEX  # type: ignore[attr-defined]
    assert "store.db is damaged" in str(backend.storage_error(error, "store.db"))


def test_a_garbage_header_or_a_truncated_file_is_named_with_the_fix(tmp_path: Path) -> None:
    url, path = _sqlite_store(tmp_path)
    copy = tmp_path / "copy.db"
    shutil.copy(path, copy)
    _overwrite(path, 0, os.urandom(100))
    with pytest.raises(StorageError, match=r"store\.db is not a doteval store.*doteval check"):
        open_storage(url)
    _one_line_error(_cli("list", "--storage", url), "store.db", "doteval check")
    with open(copy, "r+b") as handle:
        handle.truncate(copy.stat().st_size // 3)
    with pytest.raises(StorageError, match=r"copy\.db"):
        list(doteval.load("big", storage=f"sqlite://{copy}").records)


def test_another_applications_sqlite_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "theirs.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        connection.execute("INSERT INTO customers (name) VALUES ('ada')")
        connection.execute("PRAGMA user_version = 7")
    before = path.read_bytes()
    with pytest.raises(StorageError, match=r"another application.*customers.*untouched"):
        doteval.run(_evaluation(ROWS[:3]), storage=f"sqlite://{path}", progress=False)
    assert path.read_bytes() == before
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone() == (7,)
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)


def test_an_empty_file_becomes_a_store(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    result = doteval.run(_evaluation(ROWS[:5]), storage=f"sqlite://{path}", progress=False)
    assert result.counts.total == 5


def test_a_jsonl_file_cut_at_a_line_boundary_is_an_error_not_a_shorter_result(
    tmp_path: Path,
) -> None:
    url = f"jsonl://{tmp_path / 'runs'}"
    doteval.run(_evaluation(), experiment="cut", storage=url, progress=False)
    [path] = (tmp_path / "runs" / "cut").glob("*.jsonl")
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:1000]))
    with pytest.raises(StorageError, match=r"lost records.*3,000.*1,000.*doteval check"):
        list(doteval.load("cut", storage=url).records)
    _one_line_error(_cli("show", "cut", "--storage", url), "lost records")
    _one_line_error(_cli("export", "cut", "--storage", url), "lost records")
    check = _cli("check", "--storage", url)
    _one_line_error(check, "damaged", "3,000 records")

    repaired = _cli("check", "--repair", "--storage", url)
    assert repaired.exit_code == 0, repaired.output
    assert "repaired" in repaired.output
    [info] = doteval.experiments(storage=url)[0].evaluations
    assert info.status == PARTIAL
    assert info.counts is not None
    assert info.counts.total == 1000
    assert len(list(doteval.load("cut", storage=url).records)) == 1000
    rerun = doteval.run(_evaluation(), experiment="cut", storage=url, progress=False)
    assert rerun.counts.total == 3000
    assert _cli("check", "--storage", url).exit_code == 0


def test_check_repairs_sqlite_totals_that_count_more_than_the_records(tmp_path: Path) -> None:
    url, path = _sqlite_store(tmp_path)
    with sqlite3.connect(path) as connection:
        connection.execute("DELETE FROM items WHERE item_id >= 2500")
    _one_line_error(_cli("check", "--storage", url), "3,000 records", "2,500")
    assert _cli("check", "--repair", "--storage", url).exit_code == 0
    assert _cli("check", "--storage", url).exit_code == 0
    assert doteval.load("big", storage=url).counts.total == 2500


def test_one_damaged_jsonl_experiment_hides_no_other(tmp_path: Path) -> None:
    url = f"jsonl://{tmp_path / 'runs'}"
    for name in ("good", "bad-marker", "bad-meta", "empty-meta"):
        doteval.run(_evaluation(ROWS[:10]), experiment=name, storage=url, progress=False)
    (tmp_path / "runs" / "bad-marker" / ".experiment.json").write_text("{not json")
    [meta] = (tmp_path / "runs" / "bad-meta").glob("*.meta.json")
    meta.write_text("garbage")
    [empty] = (tmp_path / "runs" / "empty-meta").glob("*.meta.json")
    empty.write_text("")
    with pytest.warns(StorageWarning, match=r"is damaged") as caught:
        found = {info.name: info for info in doteval.experiments(storage=url)}
    assert set(found) == {"good", "bad-marker", "bad-meta", "empty-meta"}
    assert len(found["good"].evaluations) == len(found["bad-marker"].evaluations) == 1
    assert found["bad-meta"].evaluations == found["empty-meta"].evaluations == ()
    assert any(str(meta) in str(warning.message) for warning in caught)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StorageWarning)
        listed = _cli("list", "--storage", url)
    assert listed.exit_code == 0
    assert "good" in listed.output


def test_a_long_evaluation_name_fits_a_jsonl_store(tmp_path: Path) -> None:
    url = f"jsonl://{tmp_path / 'runs'}"
    name = "eval_" + "x" * 257  # pytest parametrize ids make names this long
    result = doteval.run(
        _evaluation(ROWS[:4], name=name), experiment="long", storage=url, progress=False
    )
    assert result.counts.total == 4
    [info] = doteval.experiments(storage=url)[0].evaluations
    assert info.name.endswith(name)
    assert len(list(doteval.load("long", storage=url).records)) == 4
    assert all(len(path.name) < 255 for path in (tmp_path / "runs" / "long").iterdir())


@pytest.mark.parametrize("kind", ["sqlite", "jsonl"])
def test_a_name_with_a_lone_surrogate_is_refused_clearly(kind: str, tmp_path: Path) -> None:
    url = f"{kind}://{tmp_path / 'store'}"
    with pytest.raises(InvalidNameError, match="lone surrogate"):
        doteval.run(_evaluation(ROWS[:2]), experiment="bad\udcff", storage=url, progress=False)


async def test_a_store_deleted_mid_run_stops_the_run_saying_what_was_lost(
    tmp_path: Path,
) -> None:
    for kind in ("sqlite", "jsonl"):
        store = tmp_path / kind / ".doteval"
        url = f"{kind}://{store / ('doteval.db' if kind == 'sqlite' else 'runs')}"

        @doteval.foreach("n", range(20_000))
        async def eval_slowly(n: int, store: Path = store) -> doteval.Score:
            if n == 300:
                shutil.rmtree(store)
            await anyio.sleep(0.0005)
            return exact_match(n, n)

        with pytest.raises(StorageError) as raised:
            await eval_slowly(storage=url, experiment="gone", progress=False, max_concurrency=20)
        message = str(raised.value)
        assert "deleted or replaced while this run was writing" in message
        assert "evaluated items of this run were not stored" in message


async def test_rename_refuses_a_running_experiment_on_every_store(store_url: str) -> None:
    started, release = anyio.Event(), anyio.Event()

    @doteval.foreach("n", range(3))
    async def eval_waits(n: int) -> doteval.Score:
        started.set()
        await release.wait()
        return exact_match(n, n)

    async with anyio.create_task_group() as group:
        group.start_soon(lambda: eval_waits(storage=store_url, experiment="busy", progress=False))
        await started.wait()
        store = open_storage(store_url)
        with pytest.raises(EvaluationBusyError, match="already being run"):
            store.rename("busy", "renamed")
        with pytest.raises(EvaluationBusyError):
            store.delete("busy")
        release.set()
    open_storage(store_url).rename("busy", "renamed")
    assert [info.name for info in open_storage(store_url).experiments()] == ["renamed"]


def test_a_store_newer_or_foreign_gives_one_line_at_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    doteval.run(_evaluation(ROWS[:2]), storage=f"sqlite://{path}", progress=False)
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA user_version = 42")
    _one_line_error(_cli("list", "--storage", f"sqlite://{path}"), "newer doteval", "upgrade")
    meta = json.dumps({"format": 9})
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / ".doteval-store.json").write_text(meta)
    _one_line_error(_cli("list", "--storage", f"jsonl://{tmp_path / 'runs'}"), "newer doteval")
