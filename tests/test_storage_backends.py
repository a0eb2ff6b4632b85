"""Runs persist to a store chosen by URL; every built-in backend behaves the same."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import anyio
import pytest

import doteval
from doteval.evaluators import exact_match
from doteval.storage import (
    COMPLETED,
    FAILED,
    INTERRUPTED,
    PARTIAL,
    EvaluationBusyError,
    InvalidNameError,
    Lease,
    StorageError,
    StorageWarning,
    StoredRecords,
    UnknownNameError,
    open_storage,
)

ROWS = [(f"q{i}", f"a{i}" if i % 4 else "wrong") for i in range(12)]


def make_eval(rows: Any = ROWS, module: str = __name__) -> doteval.Evaluation:
    async def eval_echo(question: str, answer: str) -> doteval.Score:
        await anyio.lowlevel.checkpoint()
        return exact_match(f"a{question[1:]}", answer)

    eval_echo.__module__ = module
    return doteval.foreach("question,answer", rows)(eval_echo)


def only(url: str) -> doteval.storage.EvaluationInfo:
    [experiment] = doteval.experiments(storage=url)
    [evaluation] = experiment.evaluations
    return evaluation


async def test_a_run_is_stored_and_loads_back_identically(store_url: str) -> None:
    evaluation = make_eval()
    result = await evaluation(experiment="baseline", storage=store_url)
    assert result.summary == {"exact_match": {"accuracy": 0.75}}

    info = only(store_url)
    assert (info.experiment, info.name, info.status) == ("baseline", evaluation.name, COMPLETED)
    assert info.counts == result.counts
    assert info.summary == result.summary
    loaded = doteval.load("baseline", storage=store_url)
    assert loaded.summary == result.summary
    assert loaded.counts == result.counts
    assert list(loaded.records) == list(result.records)
    assert [record.item_id for record in loaded.records] == list(range(12))
    assert loaded.records[3].row == {"question": "q3", "answer": "a3"}
    assert loaded.errors == []


async def test_stored_metadata_says_how_the_run_was_made(store_url: str) -> None:
    await make_eval()(experiment="meta", storage=store_url, max_concurrency=3, samples=5)
    info = only(store_url)
    assert info.status == PARTIAL  # samples= cut it short
    metadata = info.metadata
    assert metadata["doteval"] == doteval.__version__
    assert metadata["python"] == ".".join(map(str, sys.version_info[:3]))
    assert metadata["options"]["max_concurrency"] == 3
    assert metadata["options"]["samples"] == 5
    assert "SlidingWindowStrategy" in metadata["options"]["strategy"]
    assert info.started_at is not None
    assert info.ended_at is not None
    assert info.started_at <= info.ended_at


def test_the_git_commit_is_read_from_the_repository(tmp_path: Path) -> None:
    from doteval._private.persist.metadata import git_commit

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    for args in (
        ["config", "user.email", "t@example.com"],
        ["config", "user.name", "t"],
        ["commit", "-q", "--allow-empty", "-m", "x"],
    ):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True)
    head = subprocess.run(
        ["git", "-C", str(tmp_path), "rev-parse", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (tmp_path / "sub").mkdir()
    assert git_commit(str(tmp_path / "sub")) == head
    subprocess.run(["git", "-C", str(tmp_path), "pack-refs", "--all"], check=True)
    assert git_commit(str(tmp_path)) == head


async def test_without_experiment_a_run_gets_a_fresh_sortable_name_and_prints_it(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    evaluation = make_eval()
    await evaluation(storage=store_url)
    time.sleep(1.01)  # the name's time has a resolution of one second
    await evaluation(storage=store_url, progress=False)
    names = [info.name for info in doteval.experiments(storage=store_url)]
    assert len(names) == 2
    for name in names:
        assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{6}", name)
    assert names == sorted(names, reverse=True)  # newest first, and names sort by time
    printed = capsys.readouterr().err
    assert f"experiment {names[1]}" in printed  # the first run's name
    assert names[0] not in printed  # progress=False: nothing printed


async def test_same_function_name_in_two_modules_never_shares_results(store_url: str) -> None:
    first = make_eval(module="pkg.eval_math")
    second = make_eval(ROWS[:3], module="pkg.eval_text")
    await first(experiment="shared", storage=store_url)
    await second(experiment="shared", storage=store_url)
    [experiment] = doteval.experiments(storage=store_url)
    names = sorted(info.name for info in experiment.evaluations)
    assert names == ["pkg.eval_math.make_eval.<locals>.eval_echo",
                     "pkg.eval_text.make_eval.<locals>.eval_echo"]  # fmt: skip
    totals = {info.name: info.counts.total for info in experiment.evaluations if info.counts}
    assert sorted(totals.values()) == [3, 12]


async def test_values_json_cannot_hold_are_stored_as_repr_with_one_warning(store_url: str) -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "Opaque()"

    @doteval.foreach("thing", [Opaque() for _ in range(5)])
    async def eval_opaque(thing: Opaque) -> doteval.Score:
        score = exact_match(1, 1)
        score.metadata["object"] = thing
        return score

    if store_url.startswith("memory"):  # keeps the objects themselves: nothing to warn about
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            await eval_opaque(experiment="odd", storage=store_url)
        assert isinstance(doteval.load("odd", storage=store_url).records[0].row["thing"], Opaque)
        return
    with pytest.warns(StorageWarning, match="repr") as caught:
        result = await eval_opaque(experiment="odd", storage=store_url)
    assert len([w for w in caught if issubclass(w.category, StorageWarning)]) == 1
    assert result.counts.total == 5
    loaded = doteval.load("odd", storage=store_url)
    assert loaded.records[0].row == {"thing": "Opaque()"}
    assert loaded.records[0].scores[0].metadata == {"object": "Opaque()"}


async def test_a_dataset_error_marks_the_evaluation_failed(store_url: str) -> None:
    def rows() -> Any:
        yield ("q1", "a1")
        raise OSError("disk gone")

    with pytest.raises(doteval.DatasetError):
        await make_eval(rows)(experiment="broken", storage=store_url)
    assert only(store_url).status == FAILED


async def test_cancelling_a_run_flushes_what_finished_and_marks_it_interrupted(
    store_url: str,
) -> None:
    finished = 0

    @doteval.foreach("n", range(100))
    async def eval_slow(n: int) -> doteval.Score:
        nonlocal finished
        if n >= 5:
            await anyio.sleep_forever()
        finished += 1
        return exact_match(n, n)

    with anyio.move_on_after(0.3):
        await eval_slow(experiment="cut", storage=store_url, max_concurrency=10)
    info = only(store_url)
    assert info.status == INTERRUPTED
    assert finished == 5
    stored = list(open_storage(store_url).records("cut", info.name))
    assert [record.item_id for record in stored] == [0, 1, 2, 3, 4]


async def test_a_second_concurrent_run_is_refused_naming_the_holder(store_url: str) -> None:
    started = anyio.Event()
    release = anyio.Event()

    @doteval.foreach("n", range(3))
    async def eval_blocked(n: int) -> doteval.Score:
        started.set()
        await release.wait()
        return exact_match(n, n)

    async with anyio.create_task_group() as task_group:
        task_group.start_soon(lambda: eval_blocked(experiment="busy", storage=store_url))
        await started.wait()
        with pytest.raises(EvaluationBusyError, match=rf"process {os.getpid()} on "):
            await eval_blocked(experiment="busy", storage=store_url)
        assert only(store_url).status == "running"
        release.set()
    assert only(store_url).status == COMPLETED
    # Another experiment is another evaluation: never refused.
    await make_eval()(experiment="other", storage=store_url)


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


async def test_a_lease_whose_holder_died_is_taken_over_at_once(store_url: str) -> None:
    evaluation = make_eval()
    storage = open_storage(store_url)
    dead = Lease("dead", _dead_pid(), Lease.mine().host, time.time())
    storage.begin("crashed", evaluation.name, dead, {})
    assert only(store_url).status == INTERRUPTED  # the store says running; its holder is gone
    result = await evaluation(experiment="crashed", storage=store_url)
    assert result.counts.total == 12
    assert only(store_url).status == COMPLETED


async def test_a_lease_on_another_host_is_taken_over_after_the_heartbeat_timeout(
    store_url: str,
) -> None:
    evaluation = make_eval()
    storage = open_storage(store_url)
    alive = Lease("remote", 1, "another-host", time.time())
    storage.begin("remote", evaluation.name, alive, {})
    with pytest.raises(EvaluationBusyError, match="another-host"):
        await evaluation(experiment="remote", storage=store_url)
    silent = Lease("remote", 1, "another-host", time.time() - 3600)
    storage.begin("remote2", evaluation.name, silent, {})
    assert (await evaluation(experiment="remote2", storage=store_url)).counts.total == 12


async def test_memory_store_writes_nothing_to_disk(tmp_path: Path) -> None:
    await make_eval()(experiment="m", storage="memory://no-disk")
    assert list(tmp_path.iterdir()) == []
    assert doteval.load("m", storage="memory://no-disk").counts.total == 12


async def test_the_default_store_is_sqlite_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DOTEVAL_STORAGE", raising=False)
    await make_eval()(experiment="default")
    assert (tmp_path / ".doteval" / "doteval.db").is_file()
    assert doteval.load("default").counts.total == 12


async def test_doteval_storage_environment_variable_overrides_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOTEVAL_STORAGE", f"jsonl://{tmp_path / 'elsewhere'}")
    await make_eval()(experiment="env")
    assert not (tmp_path / ".doteval").exists()
    assert list((tmp_path / "elsewhere" / "env").glob("*.jsonl"))
    monkeypatch.setenv("DOTEVAL_STORAGE", "memory://env-test")
    await make_eval()(experiment="env2")
    assert [path.name for path in tmp_path.iterdir()] == ["elsewhere"]


@pytest.mark.parametrize("name", ["../escape", "/etc/passwd", "a/b", "nul\x00byte", "..", ""])
async def test_names_that_could_escape_the_store_are_refused_before_running(
    store_url: str, name: str
) -> None:
    calls = 0

    @doteval.foreach("n", range(3))
    async def eval_counted(n: int) -> doteval.Score:
        nonlocal calls
        calls += 1
        return exact_match(n, n)

    with pytest.raises((InvalidNameError, TypeError)):
        await eval_counted(experiment=name, storage=store_url)
    assert calls == 0
    assert doteval.experiments(storage=store_url) == []


async def test_rename_and_delete(store_url: str) -> None:
    await make_eval()(experiment="old-name", storage=store_url)
    storage = open_storage(store_url)
    storage.rename("old-name", "new-name")
    assert doteval.load("new-name", storage=store_url).counts.total == 12
    with pytest.raises(UnknownNameError, match="did you mean 'new-name'"):
        doteval.load("old-name", storage=store_url)
    with pytest.raises(InvalidNameError):
        storage.rename("new-name", "../outside")
    await make_eval()(experiment="second", storage=store_url)
    with pytest.raises(StorageError, match="exists"):
        storage.rename("new-name", "second")
    storage.delete("new-name")
    assert [info.name for info in doteval.experiments(storage=store_url)] == ["second"]
    with pytest.raises(UnknownNameError):
        storage.delete("new-name")


async def test_a_running_experiment_cannot_be_deleted(store_url: str) -> None:
    storage = open_storage(store_url)
    parent_alive = Lease("parent", os.getppid(), Lease.mine().host, time.time())
    storage.begin("live", "some.evaluation", parent_alive, {})
    with pytest.raises(EvaluationBusyError):
        storage.delete("live")


def test_unknown_scheme_and_bad_urls_say_what_works() -> None:
    with pytest.raises(
        StorageError, match=r"sqlite://, jsonl://, postgresql://, postgres:// and memory://"
    ):
        open_storage("ftp://somewhere")
    with pytest.raises(StorageError, match="not a storage URL"):
        open_storage("just-a-path.db")


def test_third_party_backends_come_from_the_entry_point_group() -> None:
    from importlib.metadata import entry_points

    # tests/dict_backend is installed as a distribution by tests/conftest.py.
    [point] = [point for point in entry_points(group="doteval.storage") if point.name == "dict"]
    assert point.value == "dict_backend.store:open_backend"
    store = open_storage("dict://entry-point")
    assert type(store.backend).__module__ == "dict_backend.store"
    assert store.url == "dict://entry-point"


def test_the_third_party_backend_needs_only_doteval_storage() -> None:
    import ast

    source = Path(__file__).parent / "dict_backend" / "store.py"
    imported = {
        node.module
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.module
    } | {
        alias.name
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8")))
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert {name for name in imported if name.startswith("doteval")} == {"doteval.storage"}


class Forwarding:
    """A backend that forwards what it does not define, as a wrapper that logs or counts
    would: its class defines none of the protocol's methods."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.asked: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        self.asked.add(name)
        return getattr(self.inner, name)


async def test_a_backend_that_forwards_through_getattr_has_the_capabilities_it_forwards(
    store_url: str,
) -> None:
    inner = open_storage(store_url)
    backend = Forwarding(inner.backend)
    evaluation = make_eval()
    result = await evaluation(experiment="forwarded", storage=backend, progress=False)
    assert result.counts.total == len(ROWS)
    store = open_storage(backend)
    assert store.counts_cheaply == inner.counts_cheaply  # optional protocols found too
    page = store.page("forwarded", evaluation.name, after=3, limit=2)
    assert [record.item_id for record in page] == [4, 5]
    assert {"begin", "writer"} <= backend.asked  # the run went through the wrapper


def test_an_object_missing_a_backend_method_is_refused_by_name() -> None:
    backend = Forwarding(open_storage("memory://refused").backend)
    backend.writer = None  # found, but not a method
    with pytest.raises(TypeError, match="a URL string or a Storage object"):
        open_storage(backend)


async def test_sqlite_store_is_a_wal_database(tmp_path: Path) -> None:
    import sqlite3

    url = f"sqlite://{tmp_path / 'x.db'}"
    await make_eval()(experiment="wal", storage=url)
    connection = sqlite3.connect(tmp_path / "x.db")
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    connection.close()


def test_stores_opening_a_new_sqlite_file_together_all_succeed(tmp_path: Path) -> None:
    # Runs starting at once set up the same new file from several store threads; the
    # losers used to fail with "database is locked".
    import threading

    failures: list[BaseException] = []

    def open_it(url: str, start: threading.Barrier) -> None:
        start.wait(timeout=10)
        try:
            open_storage(url)
        except BaseException as exc:
            failures.append(exc)

    for attempt in range(40):
        url = f"sqlite://{tmp_path / f'new-{attempt}.db'}"
        start = threading.Barrier(6)
        threads = [threading.Thread(target=open_it, args=(url, start)) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []


async def test_jsonl_files_are_readable_json_lines(tmp_path: Path) -> None:
    url = f"jsonl://{tmp_path}"
    evaluation = make_eval()
    await evaluation(experiment="readable", storage=url)
    [path] = (tmp_path / "readable").glob("*.jsonl")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert sorted(line["item_id"] for line in lines) == list(range(12))
    first = min(lines, key=lambda line: line["item_id"])
    assert first["row"] == {"question": "q0", "answer": "wrong"}
    assert first["scores"][0]["name"] == "exact_match"
    assert first["ok"] is True


async def test_a_truncated_last_jsonl_line_is_ignored_with_a_warning(tmp_path: Path) -> None:
    url = f"jsonl://{tmp_path}"
    evaluation = make_eval()
    await evaluation(experiment="torn", storage=url)
    [path] = (tmp_path / "torn").glob("*.jsonl")
    lines = path.read_bytes().splitlines(keepends=True)
    # A crash mid-write, before the meta file counted the record: the last record only
    # half written (an item rerun after a failure, say).
    (tmp_path / "torn" / path.name.replace(".jsonl", ".meta.json")).write_text(
        json.dumps(
            {
                **json.loads(
                    (tmp_path / "torn" / path.name.replace(".jsonl", ".meta.json")).read_text()
                ),
                "counts": {"total": 11, "errors": 0, "attempts": 11, "retried": 0},
                "status": "interrupted",
            }
        )
    )
    path.write_bytes(b"".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])
    with pytest.warns(StorageWarning, match="truncated last line"):
        loaded = list(doteval.load("torn", storage=url).records)
    assert len(loaded) == 11
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StorageWarning)
        result = await evaluation(experiment="torn", storage=url)  # resumes: re-runs the lost item
    assert result.counts.total == 12
    assert result.summary == {"exact_match": {"accuracy": 0.75}}
    assert all(line.endswith(b"\n") for line in path.read_bytes().splitlines(keepends=True))
    assert sorted(json.loads(line)["item_id"] for line in path.read_bytes().splitlines()) == list(
        range(12)
    )


async def test_results_of_persistent_runs_read_records_lazily(tmp_path: Path) -> None:
    result = await make_eval()(experiment="lazy", storage=f"sqlite://{tmp_path / 'x.db'}")
    assert isinstance(result.records, StoredRecords)
    assert len(result.records) == 12
    assert result.records[-1].item_id == 11
    assert [record.item_id for record in result.records[2:5]] == [2, 3, 4]
    assert [record.scores[0].value for record in result.records][:5] == [
        False, True, True, True, False
    ]  # fmt: skip
    kept = await make_eval()(
        experiment="lazy2", storage=f"sqlite://{tmp_path / 'x.db'}", keep_records=False
    )
    assert list(kept.records) == []


async def test_a_slow_store_slows_the_run_instead_of_filling_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from doteval._private.persist import hook as persist
    from doteval._private.storage.backends import sqlite

    monkeypatch.setattr(persist, "BATCH_SIZE", 4)
    monkeypatch.setattr(persist, "MAX_PENDING", 16)
    slow_write = sqlite._Writer.write

    def write(self: Any, *args: Any) -> Any:
        time.sleep(0.002)  # a store much slower than the items
        return slow_write(self, *args)

    monkeypatch.setattr(sqlite._Writer, "write", write)
    waiting: list[int] = []
    original_record = persist.PersistHook.record

    def record(self: Any, record: Any) -> None:
        original_record(self, record)
        waiting.append(len(self._pending))

    monkeypatch.setattr(persist.PersistHook, "record", record)

    @doteval.foreach("n", range(300))
    async def eval_fast(n: int) -> doteval.Score:
        return exact_match(n, n)

    result = await eval_fast(experiment="slow", storage=f"sqlite://{tmp_path / 'x.db'}")
    assert result.counts.total == 300
    assert max(waiting) <= 16
    assert len(list(result.records)) == 300


async def test_a_store_that_fell_behind_once_goes_back_to_writing_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first commit takes longer than FLUSH_INTERVAL, so the run waits for the store
    # while its items' records queue up; once the store caught up, those records must not
    # count as waiting for it, or every later commit would carry one record (for good:
    # with 100 in flight and 5 ms a commit, each record would have waited 0.5 s).
    from doteval._private.persist import hook as persist
    from doteval._private.storage.backends import sqlite

    timed_write = sqlite._Writer.write
    batches: list[int] = []

    def write(self: Any, batch: Any, *args: Any) -> Any:
        time.sleep(3 * persist.FLUSH_INTERVAL if not batches else 0.005)  # a server's commit
        batches.append(len(batch))
        return timed_write(self, batch, *args)

    monkeypatch.setattr(sqlite._Writer, "write", write)

    @doteval.foreach("n", range(3000))
    async def eval_fast(n: int) -> doteval.Score:
        return exact_match(n, n)

    result = await eval_fast(
        experiment="behind", storage=f"sqlite://{tmp_path / 'x.db'}", max_concurrency=100
    )
    assert result.counts.total == 3000
    assert sum(batches) == 3000
    assert len(batches) < 3000 / 5, batches[:50]  # not a commit per record


async def test_a_store_pages_records_by_item_id(store_url: str) -> None:
    rows = [(f"q{i}", f"a{i}") if i % 4 else (f"q{i}",) for i in range(23)]  # 0, 4, ... err
    evaluation = make_eval(rows)
    await evaluation(experiment="paged", storage=store_url, progress=False)
    store = open_storage(store_url)
    pages: list[list[int]] = []
    after = None
    while True:
        page = store.page("paged", evaluation.name, after=after, limit=10)
        if not page:
            break
        pages.append([record.item_id for record in page])
        after = page[-1].item_id
    assert pages == [list(range(10)), list(range(10, 20)), [20, 21, 22]]
    errors = store.page("paged", evaluation.name, after=4, limit=2, errors_only=True)
    assert [record.item_id for record in errors] == [8, 12]
