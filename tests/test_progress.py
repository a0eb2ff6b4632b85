"""The live progress display of runs in scripts: plain lines, a terminal, a real pty."""

from __future__ import annotations

import functools
import io
import os
import sys
import textwrap
import threading
from pathlib import Path

import anyio
import pytest

import doteval
from doteval._private.progress import display as progress
from doteval._private.progress.target import DisplayTarget, display_target
from doteval.evaluators import exact_match
from pty_screen import run_in_pty, screen

FAST_RETRIES = doteval.RetryPolicy(wait_initial=0.001, wait_max=0.01, wait_jitter=0)
QUIET = {"experiment": "progress"}
"""Runs store into the test's own directory; naming the experiment keeps them from
announcing a fresh one, so the display's lines are all there is on standard error."""


@pytest.fixture
def fast_display(monkeypatch: pytest.MonkeyPatch) -> None:
    """Draw at once and often, so a short run shows what a long one would."""
    monkeypatch.setattr(progress, "FIRST_DRAW_DELAY", 0.01)
    monkeypatch.setattr(progress, "REFRESH_INTERVAL", 0.02)
    monkeypatch.setattr(progress, "PLAIN_INTERVAL", 0.02)


def doteval_threads(kind: str = "doteval") -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith(kind)]


def slow_evaluation(items: int, delay: float = 0.01, fail_every: int = 0) -> doteval.Evaluation:
    @doteval.foreach("a", list(range(items)))
    async def eval_slow(a: int) -> doteval.Score:
        await anyio.sleep(delay)
        if fail_every and a % fail_every == 0:
            raise ValueError("no answer")
        return exact_match(a, a)

    return eval_slow


async def test_plain_lines_when_the_output_is_not_a_terminal(
    fast_display: None, capsys: pytest.CaptureFixture[str]
) -> None:
    await slow_evaluation(20, fail_every=5)(max_concurrency=2, **QUIET)
    lines = capsys.readouterr().err.splitlines()
    *progress, end, metric, where = lines
    assert progress
    assert all(line.startswith("eval_slow: ") for line in progress)
    for field in ("/20, ", "items/s", "ETA", "in flight", "error", "retr"):
        assert field in progress[0]
    assert end.startswith("eval_slow: completed 20 items in ")
    assert end.endswith("4 errors, 0 retries")
    assert metric.startswith("  exact_match.accuracy 0.800 ± ")
    assert where.startswith("  experiment ")


async def test_nothing_with_progress_false(
    fast_display: None, capsys: pytest.CaptureFixture[str]
) -> None:
    await slow_evaluation(10)(progress=False)  # announces nothing either
    assert capsys.readouterr().err == ""


async def test_a_quick_run_prints_only_its_summary(capsys: pytest.CaptureFixture[str]) -> None:
    await slow_evaluation(5, delay=0)(**QUIET)
    end, metric, where = capsys.readouterr().err.splitlines()
    assert end.startswith("eval_slow: completed 5 items in ")
    assert metric.startswith("  exact_match.accuracy 1.000 ± ")
    assert where.endswith(": doteval show progress")


async def test_count_without_total_for_a_generator(
    fast_display: None, capsys: pytest.CaptureFixture[str]
) -> None:
    def rows():  # type: ignore[no-untyped-def]
        yield from range(10)

    @doteval.foreach("a", rows)
    async def eval_stream(a: int) -> doteval.Score:
        await anyio.sleep(0.01)
        return exact_match(a, a)

    await eval_stream(max_concurrency=1, **QUIET)
    first = capsys.readouterr().err.splitlines()[0]
    assert first.startswith("eval_stream: ")
    count = first.removeprefix("eval_stream: ").split(",")[0]
    assert count.isdigit()  # no "/total" and no ETA
    assert "ETA" not in first


async def test_total_is_capped_by_samples(
    fast_display: None, capsys: pytest.CaptureFixture[str]
) -> None:
    await slow_evaluation(100)(samples=8, max_concurrency=1, **QUIET)
    assert "/8, " in capsys.readouterr().err


async def test_retries_and_errors_are_counted_live(
    fast_display: None, capsys: pytest.CaptureFixture[str]
) -> None:
    failed_once: set[int] = set()

    @doteval.foreach("a", list(range(6)))
    async def eval_flaky(a: int) -> doteval.Score:
        await anyio.sleep(0.01)
        if a not in failed_once:
            failed_once.add(a)
            raise ConnectionError("reset")
        if a == 0:
            raise ValueError("wrong")
        return exact_match(a, a)

    await eval_flaky(retries=FAST_RETRIES, max_concurrency=1, **QUIET)
    end = capsys.readouterr().err.splitlines()[-3]
    assert end.startswith("eval_flaky: completed 6 items in ")
    assert end.endswith("1 error, 6 retries")


async def test_a_resumed_run_counts_the_stored_items_as_done(
    fast_display: None, capsys: pytest.CaptureFixture[str]
) -> None:
    first_run = True

    @doteval.foreach("a", list(range(10)))
    async def eval_resumed(a: int) -> doteval.Score:
        await anyio.sleep(0.02)
        if first_run and a >= 6:
            raise ValueError("down")
        return exact_match(a, a)

    await eval_resumed(max_concurrency=1, **QUIET)
    first_run = False
    capsys.readouterr()
    await eval_resumed(max_concurrency=1, **QUIET)
    notice, *progress, end, _, _ = capsys.readouterr().err.splitlines()
    assert notice == "eval_resumed: resumed: 6 stored, 4 to run"
    assert end.startswith("eval_resumed: completed 10 items in ")
    assert end.endswith("0 errors, 0 retries; resumed: 6 stored, 4 to run")
    first_count = progress[0].removeprefix("eval_resumed: ").split("/")[0]
    assert int(first_count) >= 6  # it starts from the stored items, not from 0
    assert "resumed: 6 stored, 4 to run" in progress[0]


async def test_no_thread_outlives_the_run(
    fast_display: None, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[int] = []

    @doteval.foreach("a", list(range(5)))
    async def eval_watch(a: int) -> doteval.Score:
        seen.append(len(doteval_threads("doteval progress")))
        await anyio.sleep(0.01)
        return exact_match(a, a)

    await eval_watch(**QUIET)
    assert max(seen) == 1  # the display's thread ran during the run...
    assert doteval_threads() == []  # ...and is gone when the call returns


async def test_a_cancelled_run_stops_its_display(
    fast_display: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with anyio.move_on_after(0.2):
        await slow_evaluation(1000, delay=0.05)(max_concurrency=2, **QUIET)
    assert doteval_threads() == []
    *_, stopped, interrupted = capsys.readouterr().err.splitlines()
    assert stopped.startswith("eval_slow: stopped after ")
    assert interrupted.startswith("interrupted: eval_slow ")
    assert interrupted.endswith('/1,000 items stored; resume with experiment="progress"')


async def test_concurrent_runs_share_one_live_region_redrawn_at_a_bounded_rate(
    fast_display: None,
) -> None:
    output = io.StringIO()
    target = DisplayTarget(output, is_terminal=True, width=120)
    token = display_target.set(target)
    started = anyio.current_time()
    try:
        async with anyio.create_task_group() as task_group:
            for index in range(6):
                evaluation = slow_evaluation(20, delay=0.02)
                evaluation.fn.__name__ = evaluation.fn.__qualname__ = f"eval_run{index}"
                run = functools.partial(evaluation, max_concurrency=1, **QUIET)
                task_group.start_soon(run)
    finally:
        display_target.reset(token)
    elapsed = anyio.current_time() - started
    text = output.getvalue()
    shown = screen(text.encode(), 120)
    final_rows = [line for line in shown if "20/20" in line]
    summaries = [line for line in shown if ": completed 20 items in " in line]
    # Each run leaves its final row and its summary; the live region itself is erased.
    assert sorted(line.split()[0] for line in final_rows) == [f"eval_run{i}" for i in range(6)]
    assert all("finished in " in line and "ETA" not in line for line in final_rows)
    assert sorted(line.split(":")[0] for line in summaries) == [f"eval_run{i}" for i in range(6)]
    # Six runs each ask for a redraw every interval, but the board draws at most twice
    # as often as one run would (plus a redraw as each run leaves): 6 times less here.
    frames = text.count("eval_run0") - 1  # the last one is its final row
    assert 5 <= frames <= 2 * elapsed / progress.REFRESH_INTERVAL + 2 * 6


def test_live_display_in_a_real_terminal(tmp_path: Path) -> None:
    script = tmp_path / "run_eval.py"
    script.write_text(
        textwrap.dedent(
            """
            import anyio, doteval
            from doteval.evaluators import exact_match

            @doteval.foreach("a", list(range(30)))
            async def eval_slow(a):
                await anyio.sleep(0.04)
                if a % 10 == 0:
                    print(f"note {a}")
                return exact_match(a, a)

            result = doteval.run(eval_slow, max_concurrency=1, experiment="pty")
            print("done", result.counts.total)
            """
        )
    )
    code, output = run_in_pty([sys.executable, str(script)], tmp_path, dict(os.environ))
    assert code == 0, output.decode()
    assert output.count(b"in flight") >= 2  # it was redrawn while running
    lines = screen(output)
    # The program's prints stay above the display; the final row stays; the rest is gone.
    assert lines[:3] == ["note 0", "note 10", "note 20"]
    assert lines[3].startswith("eval_slow ")
    assert "30/30" in lines[3]
    assert "0 errors" in lines[3]
    assert "finished in " in lines[3]
    assert "ETA" not in lines[3]
    assert lines[4].startswith("eval_slow: completed 30 items in ")
    assert lines[5].startswith("  exact_match.accuracy 1.000 ± ")
    assert lines[6] == "  experiment pty: doteval show pty"
    assert lines[7:] == ["done 30"]
