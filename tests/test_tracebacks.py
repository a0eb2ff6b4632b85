"""Stored tracebacks trimmed to the user's frames, and a run's errors grouped by type."""

from __future__ import annotations

import importlib.util
import re
import textwrap
from pathlib import Path
from types import ModuleType

import doteval
from doteval._private.results.records import ErrorInfo, Record
from doteval._private.results.tracebacks import group_errors, package_of, trim_traceback

USER_MODULE = """
import doteval
from doteval.evaluators import exact_match

TABLE = {}


def lookup(key):
    return TABLE[key]


def wrap(key):
    try:
        lookup(key)
    except KeyError as error:
        raise RuntimeError(f"cannot price {key}") from error


@doteval.foreach("q", ["0", "1", "2", "3"])
async def eval_async(q):
    if q == "3":
        wrap(q)
    if q != "0":
        lookup(q)
    return exact_match(q, q)


@doteval.foreach("q", ["0", "1"])
def eval_sync(q):
    if q == "1":
        lookup(key=q)
    return exact_match(q, q)
"""


def _user_module(tmp_path: Path) -> ModuleType:
    """The user's evaluation file, imported from disk so its frames have a real file."""
    path = tmp_path / "eval_user.py"
    path.write_text(textwrap.dedent(USER_MODULE), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("eval_user", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _line(tmp_path: Path, text: str) -> int:
    lines = (tmp_path / "eval_user.py").read_text().splitlines()
    return next(number for number, line in enumerate(lines, 1) if line.strip() == text)


async def test_a_stored_traceback_shows_the_users_frames_and_folds_dotevals(
    tmp_path: Path,
) -> None:
    user = _user_module(tmp_path)
    result = await user.eval_async(storage=f"sqlite://{tmp_path / 'runs.db'}", retries=0)
    records = {
        record.item_id: record
        for record in doteval.load(result.experiment, storage=result.storage).errors
    }
    stored = records[1].error
    assert stored is not None
    assert "doteval/_private/run/item.py" in stored.traceback  # the whole text is stored
    trimmed = trim_traceback(stored.traceback, cwd=str(tmp_path)).splitlines()
    assert trimmed[:4] == [
        f"eval_user.py:{_line(tmp_path, 'lookup(q)')}: in eval_async",
        "    lookup(q)",
        f"eval_user.py:{_line(tmp_path, 'return TABLE[key]')}: in lookup",
        "    return TABLE[key]",
    ]
    assert re.fullmatch(r"  \.\.\. \d+ frames? of doteval hidden", trimmed[4])
    assert trimmed[5:] == ["E   KeyError: '1'"]
    # A chain keeps both exceptions, each trimmed.
    chained = trim_traceback(records[3].error.traceback, cwd=str(tmp_path))  # type: ignore[union-attr]
    first, _, second = chained.partition(
        "\n\nThe above exception was the direct cause of the following exception:\n\n"
    )
    assert first.splitlines() == [
        f"eval_user.py:{_line(tmp_path, 'lookup(key)')}: in wrap",
        "    lookup(key)",
        f"eval_user.py:{_line(tmp_path, 'return TABLE[key]')}: in lookup",
        "    return TABLE[key]",
        "E   KeyError: '3'",
    ]
    raising = 'raise RuntimeError(f"cannot price {key}") from error'
    assert second.splitlines()[:4] == [
        f"eval_user.py:{_line(tmp_path, 'wrap(q)')}: in eval_async",
        "    wrap(q)",
        f"eval_user.py:{_line(tmp_path, raising)}: in wrap",
        f"    {raising}",
    ]
    assert second.splitlines()[-1] == "E   RuntimeError: cannot price 3"
    for text in (chained, "\n".join(trimmed)):
        assert "_private" not in text
        assert "^" not in text  # the caret lines under the source are gone


def test_a_plain_def_evaluation_hides_the_thread_it_ran_in(tmp_path: Path) -> None:
    user = _user_module(tmp_path)
    result = doteval.run(
        user.eval_sync, storage=f"sqlite://{tmp_path / 'runs.db'}", retries=0, progress=False
    )
    (record,) = doteval.load(result.experiment, storage=result.storage).errors
    assert record.error is not None
    trimmed = trim_traceback(record.error.traceback, cwd=str(tmp_path)).splitlines()
    assert trimmed[:2] == [
        f"eval_user.py:{_line(tmp_path, 'lookup(key=q)')}: in eval_sync",
        "    lookup(key=q)",
    ]
    assert re.fullmatch(r"  \.\.\. \d+ frames? of doteval hidden", trimmed[-2])
    assert trimmed[-1] == "E   KeyError: '1'"


FROM_ANOTHER_MACHINE = """\
Traceback (most recent call last):
  File "/srv/app/.venv/lib/python3.12/site-packages/doteval/_private/run/item.py", line 141, in _run
    value = await self.retrier.call(attempt)
            ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/srv/app/.venv/lib/python3.12/site-packages/stamina/_core.py", line 400, in call
    return await fn()
  File "/usr/lib/python3.12/asyncio/tasks.py", line 520, in wait_for
    return await fut
  File "/srv/app/evals/eval_chat.py", line 31, in eval_chat
    reply = await client.post("/chat", json=payload)
  File "/srv/app/.venv/lib/python3.12/site-packages/httpx/_client.py", line 1859, in post
    return await self.request(
  File "/srv/app/.venv/lib/python3.12/site-packages/anyio/_core/_sockets.py", line 190, in connect
    raise OSError("All connection attempts failed")
OSError: All connection attempts failed

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/srv/app/.venv/lib/python3.12/site-packages/trio/_core/_run.py", line 10, in run
    x()
  File "/srv/app/evals/eval_chat.py", line 35, in eval_chat
    raise ConnectionError(
        "chat server down"
    )
ConnectionError: chat server down
second line of the message
"""


def test_a_traceback_stored_on_another_machine_is_trimmed_by_its_text() -> None:
    assert trim_traceback(FROM_ANOTHER_MACHINE, cwd="/home/me").splitlines() == [
        "/srv/app/evals/eval_chat.py:31: in eval_chat",
        '    reply = await client.post("/chat", json=payload)',
        "/srv/app/.venv/lib/python3.12/site-packages/httpx/_client.py:1859: in post",
        "    return await self.request(",
        "  ... 4 frames of doteval, stamina, asyncio and anyio hidden",
        "E   OSError: All connection attempts failed",
        "",
        "During handling of the above exception, another exception occurred:",
        "",
        "/srv/app/evals/eval_chat.py:35: in eval_chat",
        "    raise ConnectionError(",
        '    "chat server down"',
        "    )",
        "  ... 1 frame of trio hidden",
        "E   ConnectionError: chat server down",
        "E   second line of the message",
    ]
    # Below the working directory, paths are shown relative to it, as pytest does.
    assert trim_traceback(FROM_ANOTHER_MACHINE, cwd="/srv/app").splitlines()[0] == (
        "evals/eval_chat.py:31: in eval_chat"
    )


def test_which_frames_are_hidden() -> None:
    hidden = {
        "/x/site-packages/anyio/_core/_tasks.py": "anyio",
        "/x/dist-packages/sniffio/_impl.py": "sniffio",
        "/usr/lib/python3.11/concurrent/futures/thread.py": "concurrent",
        "/usr/lib/python3.11/threading.py": "threading",
        "C:\\Python312\\Lib\\asyncio\\runners.py": "asyncio",
        "/home/me/doteval/src/doteval/_private/run/item.py": "doteval",
        str(Path(doteval.__file__)): "doteval",
    }
    for path, package in hidden.items():
        assert package_of(path) == package, path
    shown = [
        "/x/site-packages/httpx/_client.py",
        "/usr/lib/python3.11/json/decoder.py",
        "/home/me/doteval/eval_math.py",  # a project called doteval is the user's own
        str(Path(doteval.__file__).parent / "examples" / "arithmetic.py"),  # an evaluation
        "/home/me/project/lib/asyncio_helpers.py",
        "<string>",
    ]
    for path in shown:
        assert package_of(path) is None, path


def test_exception_groups_are_folded_where_the_frames_were() -> None:
    text = (
        "  + Exception Group Traceback (most recent call last):\n"
        '  |   File "/x/site-packages/doteval/_private/run/item.py", line 1, in _run\n'
        "  |     value = await call()\n"
        '  |   File "/srv/eval_x.py", line 9, in eval_x\n'
        "  |     async with anyio.create_task_group() as group:\n"
        '  |   File "/x/site-packages/anyio/_backends/_asyncio.py", line 871, in __aexit__\n'
        "  |     raise BaseExceptionGroup(\n"
        "  | ExceptionGroup: unhandled errors in a TaskGroup (1 sub-exception)\n"
        "  +-+---------------- 1 ----------------\n"
        "    | Traceback (most recent call last):\n"
        '    |   File "/srv/eval_x.py", line 5, in ask\n'
        '    |     raise ValueError("bad")\n'
        "    | ValueError: bad\n"
        "    +------------------------------------\n"
    )
    assert trim_traceback(text).splitlines() == [
        "  + Exception Group Traceback (most recent call last):",
        "  |   ... 1 frame of doteval hidden",
        '  |   File "/srv/eval_x.py", line 9, in eval_x',
        "  |     async with anyio.create_task_group() as group:",
        "  |   ... 1 frame of anyio hidden",
        "  | ExceptionGroup: unhandled errors in a TaskGroup (1 sub-exception)",
        "  +-+---------------- 1 ----------------",
        "    | Traceback (most recent call last):",
        '    |   File "/srv/eval_x.py", line 5, in ask',
        '    |     raise ValueError("bad")',
        "    | ValueError: bad",
        "    +------------------------------------",
    ]


def test_recursion_and_a_traceback_without_frames() -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "/srv/eval_x.py", line 3, in f\n'
        "    return f(n + 1)\n"
        "  [Previous line repeated 996 more times]\n"
        "RecursionError: maximum recursion depth exceeded\n"
    )
    assert trim_traceback(text, cwd="/srv").splitlines() == [
        "eval_x.py:3: in f",
        "    return f(n + 1)",
        "    [Previous line repeated 996 more times]",
        "E   RecursionError: maximum recursion depth exceeded",
    ]
    assert trim_traceback("KeyError: 'x'\n") == "E   KeyError: 'x'"


def _failed(item_id: int, kind: str, message: str = "m") -> Record:
    return Record(item_id, {"n": item_id}, error=ErrorInfo(kind, message, f"{kind}: {message}\n"))


def test_errors_are_grouped_by_type_most_frequent_first() -> None:
    records = [
        Record(0, {"n": 0}),
        _failed(1, "ValueError", "one"),
        _failed(2, "KeyError", "'2'"),
        _failed(3, "KeyError", "'3'"),
        _failed(4, "TimeoutError"),
        _failed(5, "ValueError", "five"),
        _failed(6, "KeyError", "'6'"),
        Record(7, "x" * 500),
    ]
    groups = group_errors(records)
    assert [(group.type, group.count, group.item_id) for group in groups] == [
        ("KeyError", 3, 2),
        ("ValueError", 2, 1),
        ("TimeoutError", 1, 4),
    ]
    assert groups[0].message == "'2'"
    assert groups[0].row == "{'n': 2}"
    heading, *body = groups[0].lines("short", total=8)
    assert heading == ("heading", "KeyError on 3 of 8 items, for example item 2, row {'n': 2}")
    assert body == [("error", "E   KeyError: '2'")]
    assert groups[2].lines("no") == [
        ("heading", "TimeoutError on 1 item, for example item 4, row {'n': 4}")
    ]
    assert group_errors([Record(0, None)]) == []


def test_a_long_row_is_shortened_in_the_heading() -> None:
    (group,) = group_errors([Record(0, {"text": "x" * 500}, error=ErrorInfo("E", "m", ""))])
    assert len(group.row) == 120
    assert group.row.endswith("...")
    # A record stored without a traceback still says what it was.
    assert group.lines("long")[1:] == [("error", "E   E: m")]
