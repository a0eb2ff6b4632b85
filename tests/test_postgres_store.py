"""What only the postgresql:// store has to get right, on a real server: its versioned
schema, a connection lost or a server stopped mid-run, and credentials kept out of sight.

The behaviour it shares with every store is tested by the store tests, which run on
postgres through the ``store_url`` fixture.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import traceback
import urllib.parse
from collections.abc import Iterator
from typing import Any

import anyio
import anyio.to_thread
import psycopg
import pytest
from click.testing import CliRunner

import doteval
from doteval._private.cli.main import main
from doteval._private.storage.backends import postgres
from doteval._private.storage.lease import activate
from doteval._private.storage.protocol import EvaluationLookup
from doteval.evaluators import exact_match
from doteval.storage import (
    Counts,
    EvaluationBusyError,
    Lease,
    PagedRecords,
    Record,
    StorageError,
    open_storage,
)
from postgres_server import MissingServer, PostgresCluster, unavailable

ITEMS = 3000


def database_of(url: str) -> str:
    return urllib.parse.urlsplit(url).path.lstrip("/")


def query(url: str, sql: str, *arguments: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as connection:
        cursor = connection.execute(sql, arguments)
        return cursor.fetchall() if cursor.description else []


def arithmetic(on_item: Any = None, n: int = ITEMS) -> doteval.Evaluation:
    """Items 0..n-1; every seventh is wrong. ``on_item(a)`` runs first in each item."""

    async def eval_sevens(a: int) -> doteval.Score:
        if on_item is not None:
            await on_item(a)
        await anyio.lowlevel.checkpoint()
        return exact_match(a % 7 != 0, True)

    return doteval.foreach("a", range(n))(eval_sevens)


EXPECTED = sum(1 for a in range(ITEMS) if a % 7 != 0) / ITEMS


def stored_items(url: str) -> list[int]:
    return [item for (item,) in query(url, "SELECT item_id FROM doteval_items ORDER BY item_id")]


# Schema ---------------------------------------------------------------------------


def test_a_new_database_gets_the_current_schema_version(postgres_url: str) -> None:
    open_storage(postgres_url)
    assert query(postgres_url, "SELECT version FROM doteval_schema") == [(postgres.SCHEMA_VERSION,)]
    columns = query(
        postgres_url,
        "SELECT column_name, data_type, column_default FROM information_schema.columns "
        "WHERE table_name = 'doteval_items' ORDER BY ordinal_position",
    )
    assert [(name, kind) for name, kind, _ in columns] == [
        ("evaluation_id", "bigint"),
        ("item_id", "bigint"),
        ("epoch", "integer"),
        ("row_hash", "bigint"),
        ("ok", "boolean"),
        ("body", "text"),
    ]
    assert dict((name, default) for name, _, default in columns)["epoch"] == "0"


def test_the_backend_looks_evaluations_up_and_pages_records_itself(postgres_url: str) -> None:
    backend = open_storage(postgres_url).backend
    assert isinstance(backend, EvaluationLookup)
    assert isinstance(backend, PagedRecords)


def test_a_schema_written_by_a_newer_doteval_is_refused(postgres_url: str) -> None:
    open_storage(postgres_url)
    query(postgres_url, "UPDATE doteval_schema SET version = version + 1")
    with pytest.raises(StorageError, match=r"written by a newer doteval .*: upgrade doteval"):
        open_storage(postgres_url)


async def test_an_older_schema_is_migrated_and_keeps_its_runs(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await arithmetic(n=20)(experiment="old", storage=postgres_url, progress=False)
    later = ("ALTER TABLE doteval_items ADD COLUMN note TEXT",)
    monkeypatch.setattr(postgres, "MIGRATIONS", (*postgres.MIGRATIONS, later))
    store = open_storage(postgres_url)
    assert query(postgres_url, "SELECT version FROM doteval_schema") == [
        (postgres.SCHEMA_VERSION + 1,)
    ]
    assert query(postgres_url, "SELECT count(note) FROM doteval_items") == [(0,)]
    result = doteval.load("old", storage=store)
    assert result.counts.total == 20


def test_processes_opening_an_empty_database_together_all_succeed(postgres_url: str) -> None:
    """Eight stores opened at the same instant on an empty database: the advisory lock
    makes one create the schema while the others wait, then find it."""
    opened = 8
    start = threading.Barrier(opened)
    errors: list[BaseException] = []

    def open_one() -> None:
        start.wait()
        try:
            open_storage(postgres_url)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(opened)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert query(postgres_url, "SELECT version FROM doteval_schema") == [(postgres.SCHEMA_VERSION,)]


# Writing --------------------------------------------------------------------------


def test_a_later_record_of_an_item_in_the_same_batch_replaces_the_earlier(
    postgres_url: str,
) -> None:
    store = open_storage(postgres_url)
    lease = Lease.mine()
    store.begin("batch", "eval_twice", lease, {})
    writer = store.writer("batch", "eval_twice", lease)
    batch = [
        (Record(0, {"a": 0}, model_response="only"), 10),
        (Record(1, {"a": 1}, model_response="first"), 11),
        (Record(1, {"a": 1}, model_response="second"), 12),
        (Record(2, {"a": 2}, model_response="only"), 13),
    ]
    writer.write(batch, Counts(3, 0, 0, 0), None)
    writer.write([(Record(2, {"a": 2}, model_response="rewritten"), 14)], Counts(3, 0, 0, 0), None)
    writer.close()
    stored = [
        (record.item_id, record.model_response) for record in store.records("batch", "eval_twice")
    ]
    assert stored == [(0, "only"), (1, "second"), (2, "rewritten")]
    assert query(postgres_url, "SELECT row_hash FROM doteval_items ORDER BY item_id") == [
        (10,),
        (12,),
        (14,),
    ]


def test_runs_beginning_one_new_evaluation_together_let_exactly_one_in(
    postgres_url: str,
) -> None:
    """Eight runs take the same new evaluation at the same instant: one gets it, and the
    others are refused naming it (not a duplicate-key error from the server)."""
    store = open_storage(postgres_url)
    earlier = Lease.mine()
    store.begin("race", "eval_earlier", earlier, {})  # the experiment exists already
    store.release("race", "eval_earlier", earlier, "completed")
    runs = 8
    start = threading.Barrier(runs)
    outcomes: list[str] = []

    def begin() -> None:
        lease = Lease.mine()
        activate(lease)  # a live run of this process
        start.wait()
        try:
            store.begin("race", "eval_once", lease, {})
            outcomes.append("began")
        except EvaluationBusyError:
            outcomes.append("refused")
        except BaseException as exc:
            outcomes.append(repr(exc))

    threads = [threading.Thread(target=begin) for _ in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["began"] + ["refused"] * (runs - 1)


def test_a_writer_whose_evaluation_was_taken_over_or_deleted_writes_nothing(
    postgres_url: str,
) -> None:
    store = open_storage(postgres_url)
    first = Lease.mine()  # never activated: reads as left behind, so it can be taken over
    store.begin("shared", "eval_x", first, {})
    writer = store.writer("shared", "eval_x", first)
    second = Lease.mine()
    store.begin("shared", "eval_x", second, {})
    record = Record(0, {"a": 0})
    with pytest.raises(StorageError, match="taken over by"):
        writer.write([(record, 0)], Counts(1, 0, 0, 0), None)
    store.delete("shared")
    with pytest.raises(StorageError, match="was deleted while this run held it"):
        writer.heartbeat()
    writer.close()
    assert query(postgres_url, "SELECT count(*) FROM doteval_items") == [(0,)]


# A lost connection, a stopped server ----------------------------------------------


async def test_a_writer_whose_connection_is_ended_reconnects_and_stores_every_item_once(
    postgres_server: Any, postgres_url: str
) -> None:
    database = database_of(postgres_url)
    ended: list[int] = []

    async def end_connections(a: int) -> None:
        if a in (400, 1400, 2400):  # as an administrator would: pg_terminate_backend
            ended.append(await anyio.to_thread.run_sync(postgres_server.terminate, database))

    result = await arithmetic(end_connections)(
        experiment="cut", storage=postgres_url, progress=False, max_concurrency=4
    )
    assert sum(ended) >= 1  # the writer's connection was ended at least once
    assert result.counts.total == ITEMS
    assert result.summary["exact_match"]["accuracy"] == pytest.approx(EXPECTED)
    assert stored_items(postgres_url) == list(range(ITEMS))
    loaded = doteval.load("cut", storage=postgres_url)
    assert loaded.counts == result.counts
    assert loaded.summary == result.summary
    [info] = doteval.experiments(storage=postgres_url)[0].evaluations
    assert (info.status, info.counts) == ("completed", result.counts)


async def test_reading_records_goes_on_after_the_connection_is_ended(
    postgres_server: Any, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await arithmetic(n=1000)(experiment="read", storage=postgres_url, progress=False)
    monkeypatch.setattr(postgres, "PAGE_SIZE", 100)
    store = open_storage(postgres_url)
    [evaluation] = store.experiment("read").evaluations
    read = []
    for record in store.records("read", evaluation.name, start=50, errors_only=False):
        read.append(record.item_id)
        if record.item_id in (120, 480):  # mid-page, the reader's connection is ended
            assert postgres_server.terminate(database_of(postgres_url)) >= 1
    assert read == list(range(50, 1000))


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[PostgresCluster]:
    """A cluster these tests may stop and start (never the one the other tests share)."""
    try:
        cluster = PostgresCluster()
    except MissingServer as exc:
        unavailable(str(exc))
    with cluster:
        yield cluster


async def test_a_server_away_past_the_timeout_stops_the_run_clearly_and_it_resumes_later(
    own_cluster: PostgresCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgres, "RECONNECT_TIMEOUT", 1.0)
    url = own_cluster.url(own_cluster.create_database())
    stopped = anyio.Event()

    async def stop_server(a: int) -> None:
        if a == 1000:
            for _ in range(200):  # until the first batch is stored (at most 10 s)
                if await anyio.to_thread.run_sync(stored_items, url):
                    break
                await anyio.sleep(0.05)
            await anyio.to_thread.run_sync(own_cluster.stop)
            stopped.set()
        if stopped.is_set():
            await anyio.sleep(0.002)  # items go on well past the timeout, at a walk

    try:
        with pytest.raises(StorageError) as raised:
            await arithmetic(stop_server)(
                experiment="outage", storage=url, progress=False, max_concurrency=4
            )
    finally:
        if not own_cluster.running:
            own_cluster.start()
    message = str(raised.value)
    masked = f"postgresql://doteval:***@127.0.0.1:{own_cluster.port}/{database_of(url)}"
    assert f"lost the PostgreSQL server of {masked} for more than 1 s" in message
    assert "resumes from what was stored" in message
    assert own_cluster.password not in "".join(traceback.format_exception(raised.value))

    before = stored_items(url)
    assert 0 < len(before) < ITEMS
    ran: list[int] = []

    async def count(a: int) -> None:
        ran.append(a)

    result = await arithmetic(count)(experiment="outage", storage=url, progress=False)
    assert sorted(ran) == sorted(set(range(ITEMS)) - set(before))  # stored ones are skipped
    assert result.counts.total == ITEMS
    assert result.summary["exact_match"]["accuracy"] == pytest.approx(EXPECTED)
    assert stored_items(url) == list(range(ITEMS))


# Credentials ----------------------------------------------------------------------


def masked_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"postgresql://{parts.username}:***@{parts.hostname}:{parts.port}{parts.path}"


def all_text(exc: BaseException) -> str:
    """Everything a traceback of ``exc`` shows, with its causes and contexts."""
    return "".join(traceback.format_exception(exc))


async def test_the_password_never_shows_in_output_records_metadata_or_the_cli(
    postgres_server: Any, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    password = postgres_server.password
    assert password in postgres_url
    store = open_storage(postgres_url)
    assert store.url == masked_url(postgres_url)
    assert password not in repr(store) + repr(store.backend)

    async def fail_sometimes(a: int) -> None:
        if a % 500 == 3:
            raise RuntimeError(f"item {a} failed")

    await arithmetic(fail_sometimes)(storage=postgres_url)  # announces where it stores
    printed = capsys.readouterr()
    assert masked_url(postgres_url) in printed.err
    assert password not in printed.out + printed.err
    [experiment] = store.experiments()
    assert password not in repr(experiment)
    records = list(store.records(experiment.name, experiment.evaluations[0].name))
    assert len(records) == ITEMS
    assert password not in repr(records)
    for table in ("doteval_experiments", "doteval_evaluations", "doteval_items"):
        rows = query(postgres_url, f"SELECT * FROM {table}")
        assert rows
        assert password not in repr(rows)
    for command in (
        ["list"],
        ["show", experiment.name],
        ["show", experiment.name, "--errors"],
        ["show", experiment.name, "--full"],
    ):
        result = CliRunner().invoke(main, [*command, "--storage", postgres_url])
        assert result.exit_code == 0, result.output
        assert password not in result.output
    database = postgres_server.create_database()
    empty = postgres_server.url(database)
    try:
        listed = CliRunner().invoke(main, ["list", "--storage", empty])
    finally:
        postgres_server.drop_database(database)
    assert f"No experiments in {masked_url(empty)} yet." in " ".join(listed.output.split())
    assert password not in listed.output


def test_a_wrong_password_is_a_clear_error_that_shows_neither_password(
    postgres_server: Any, postgres_url: str
) -> None:
    wrong = "Not-The-Password-7d1f"
    url = postgres_server.url_with_password(database_of(postgres_url), wrong)
    try:
        open_storage(url)
    except StorageError as exc:
        text = all_text(exc)
    else:
        pytest.skip("this server lets anyone in (trust authentication): no password to check")
    assert masked_url(url) in text
    assert "password authentication failed" in text
    assert wrong not in text
    assert postgres_server.password not in text


def test_an_unreachable_server_is_a_clear_error_without_the_password() -> None:
    with socket_nobody_listens_on() as port:
        url = f"postgresql://doteval:S3cret-Pa55@127.0.0.1:{port}/db"
        with pytest.raises(StorageError) as raised:
            open_storage(url)
    text = all_text(raised.value)
    assert f"cannot use the PostgreSQL server of postgresql://doteval:***@127.0.0.1:{port}/db" in (
        text
    )
    assert "check that the server runs" in text
    assert "S3cret-Pa55" not in text


def test_a_password_given_as_a_parameter_is_masked_too() -> None:
    with socket_nobody_listens_on() as port:
        url = f"postgresql://doteval@127.0.0.1:{port}/db?password=S3cret-Pa55&sslmode=disable"
        with pytest.raises(StorageError) as raised:
            open_storage(url)
    text = all_text(raised.value)
    assert f"127.0.0.1:{port}/db?password=***&sslmode=disable" in text
    assert "S3cret-Pa55" not in text


def socket_nobody_listens_on() -> Any:
    """A loopback port that refuses connections: bound for the test, never listened on."""
    import contextlib
    import socket

    @contextlib.contextmanager
    def bound() -> Iterator[int]:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            yield int(probe.getsockname()[1])

    return bound()


# Choosing and loading the backend -------------------------------------------------


async def test_postgres_urls_also_come_from_doteval_storage(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    alias = postgres_url.replace("postgresql://", "postgres://", 1)
    monkeypatch.setenv("DOTEVAL_STORAGE", alias)
    await arithmetic(n=10)(experiment="from-env", progress=False)
    [experiment] = open_storage(postgres_url).experiments()
    assert (experiment.name, experiment.evaluations[0].counts.total) == ("from-env", 10)
    assert open_storage(alias).url == masked_url(postgres_url).replace(
        "postgresql://", "postgres://", 1
    )


def test_importing_doteval_or_using_another_store_does_not_import_psycopg() -> None:
    script = (
        "import sys, doteval, doteval.storage\n"
        "doteval.storage.open_storage('memory://x')\n"
        "print('psycopg' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"


def test_without_psycopg_a_postgres_url_says_how_to_install_it() -> None:
    script = (
        "import sys\n"
        "sys.modules['psycopg'] = None  # what an environment without it imports\n"
        "from doteval.storage import StorageError, open_storage\n"
        "try:\n"
        "    open_storage('postgresql://doteval:S3cret@127.0.0.1:1/db')\n"
        "except StorageError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert 'pip install ".[postgres]"' in done.stdout
    assert "doteval[postgres] @ git+" in done.stdout
    assert "pip install doteval[postgres]" not in done.stdout
