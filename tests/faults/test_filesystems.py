"""Read-only stores can be read, full disks are named as the cause, and stored totals never
run ahead of stored records.

Read-only cases read through a read-only bind mount (root ignores file modes, not a
read-only mount); disk-full cases write to a small tmpfs. The tests mount and unmount
them, which needs root: CI has it; elsewhere they skip, saying why.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import doteval
from doteval._private.cli.main import main
from doteval.evaluators import exact_match
from doteval.storage import StorageError, StorageWarning


def _as_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: to run as another user, and to mount a small file system")


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory another user can reach (pytest's own temporary directories are 0700)."""
    path = Path(tempfile.mkdtemp(prefix="doteval-shared-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def read_only_view(shared_dir: Path) -> Iterator[tuple[Path, Path]]:
    """``shared_dir`` and a read-only bind mount of it: writes through the view fail with
    EROFS, whoever makes them (root included)."""
    view = Path(tempfile.mkdtemp(prefix="doteval-ro-"))
    for command in (
        ["mount", "--bind", str(shared_dir), str(view)],
        ["mount", "-o", "remount,ro,bind", str(view)],
    ):
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            subprocess.run(["umount", str(view)], check=False, capture_output=True)
            view.rmdir()
            pytest.skip(f"cannot make a read-only bind mount here: {done.stderr.strip()}")
    try:
        yield shared_dir, view
    finally:
        subprocess.run(["umount", "-l", str(view)], check=False)
        view.rmdir()


def _filled(url: str) -> None:
    @doteval.foreach("a", range(50))
    async def eval_stored(a: int) -> doteval.Score:
        return exact_match(a % 3, 0)

    doteval.run(eval_stored, experiment="kept", storage=url, progress=False)


@pytest.mark.parametrize("kind", ["sqlite", "jsonl"])
def test_a_read_only_store_can_be_listed_shown_and_exported_not_run_into(
    kind: str, read_only_view: tuple[Path, Path]
) -> None:
    _as_root()
    writable, view = read_only_view
    name = "store.db" if kind == "sqlite" else "runs"
    _filled(f"{kind}://{writable / name}")
    url = f"{kind}://{view / name}"
    assert doteval.load("kept", storage=url).summary == {"exact_match": {"accuracy": 0.34}}
    assert len(list(doteval.load("kept", storage=url).records)) == 50
    for args in (["list"], ["show", "kept"], ["export", "kept"]):
        result = CliRunner().invoke(main, [*args, "--storage", url])
        assert result.exit_code == 0, result.output
        assert "Traceback" not in result.output

    @doteval.foreach("a", range(3))
    def eval_more(a: int) -> doteval.Score:
        return doteval.Score("x", True)

    with pytest.raises(StorageError, match="read-only"):
        doteval.run(eval_more, storage=url, progress=False)
    assert sorted(path.name for path in view.iterdir()) == [name]  # nothing was added


@pytest.fixture
def small_disk() -> Iterator[Path]:
    _as_root()
    mount = Path(tempfile.mkdtemp(prefix="doteval-full-"))
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        mount.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
        mount.rmdir()


def _filling_evaluation() -> doteval.Evaluation:
    @doteval.foreach("n", range(20_000))
    async def eval_fills(n: int) -> doteval.Result:
        return doteval.Result(exact_match(n, n), prompt="p" * 200, model_response="r" * 200)

    return eval_fills


@pytest.mark.parametrize("kind", ["sqlite", "jsonl"])
async def test_a_full_disk_is_named_first_and_the_totals_match_the_records(
    kind: str, small_disk: Path
) -> None:
    url = f"{kind}://{small_disk / ('store.db' if kind == 'sqlite' else 'runs')}"
    with pytest.raises(StorageError) as raised:
        await _filling_evaluation()(storage=url, experiment="full", progress=False)
    message = str(raised.value)
    assert message.startswith(f"disk full at {small_disk}"), message
    assert "not stored" in message
    assert "no transaction is active" not in message
    assert raised.value.__cause__ is None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        [info] = doteval.experiments(storage=url)[0].evaluations
        counted = 0 if info.counts is None else info.counts.total
        stored = len(list(doteval.load("full", storage=url).records))
    # A JSON-lines write the disk cut short leaves a partial last line, which reading
    # names and skips; nothing else warns.
    for warning in caught:
        assert kind == "jsonl", warning
        assert issubclass(warning.category, StorageWarning), warning
        assert "ignoring a truncated last line" in str(warning.message), warning
    assert stored < 20_000
    assert counted <= stored  # the totals never count records the store does not hold
    if kind == "sqlite":  # a transaction stores records and their totals together
        assert counted == stored
    if kind == "sqlite":
        path = small_disk / "store.db"
        with sqlite3.connect(path) as connection:
            (count,) = connection.execute("SELECT count(*) FROM items").fetchone()
        assert count == stored
