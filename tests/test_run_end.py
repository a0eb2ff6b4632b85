"""How a run ends, as a user sees it: a run that can never succeed stops early, an
evaluation whose items all errored is ``failed``, a resumed run says so, the end of a
run is summarised, and doteval's own retries do not flood the log."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import anyio
import pytest
from click.testing import CliRunner

import doteval
from doteval import RetryPolicy, Score
from doteval._private.api.identity import RunIdentity, run_identity
from doteval._private.cli.main import main
from doteval.evaluators import exact_match
from doteval.storage import COMPLETED, FAILED, open_storage

pytest_plugins = ["pytester"]

NO_WAIT = RetryPolicy(attempts=3, wait_initial=0, wait_max=0, wait_jitter=0)


def always_failing(items: int = 200, error: type[Exception] = KeyError) -> doteval.Evaluation:
    calls: list[int] = []

    @doteval.foreach("n", range(items))
    async def eval_broken(n: int) -> Score:
        calls.append(n)
        await anyio.sleep(0)
        raise error(str(n))

    eval_broken.calls = calls  # type: ignore[attr-defined]
    return eval_broken


# stop_after_errors ---------------------------------------------------------------


async def test_a_run_that_can_never_succeed_stops_after_the_first_errors(store_url: str) -> None:
    evaluation = always_failing()
    result = await evaluation(experiment="e", storage=store_url, max_concurrency=4)
    assert result.status == FAILED
    assert result.stopped is not None
    assert "the first 20 items all failed with KeyError" in result.stopped
    assert "stop_after_errors=20" in result.stopped
    # It stopped: the items in flight and in the hand-off buffers (4 each) still ran.
    assert 20 <= len(evaluation.calls) <= 20 + 3 * 4  # type: ignore[attr-defined]
    assert result.counts.errors == result.counts.total >= 20
    [info] = open_storage(store_url).experiment("e").evaluations
    assert info.status == FAILED


async def test_stop_after_errors_0_runs_every_item(store_url: str) -> None:
    evaluation = always_failing(60)
    result = await evaluation(experiment="e", storage=store_url, stop_after_errors=0)
    assert result.counts.total == result.counts.errors == 60
    assert result.stopped is None
    assert result.status == FAILED  # every item errored: nothing was measured


async def test_once_an_item_succeeded_errors_are_recorded_and_the_run_goes_on() -> None:
    @doteval.foreach("n", range(100))
    async def eval_mostly_broken(n: int) -> Score:
        if n:
            raise KeyError(n)
        return exact_match(n, n)

    result = await eval_mostly_broken(max_concurrency=1, stop_after_errors=5)
    assert result.counts.total == 100
    assert result.counts.errors == 99
    assert result.status == COMPLETED
    assert result.stopped is None


async def test_different_errors_do_not_stop_the_run() -> None:
    @doteval.foreach("n", range(40))
    async def eval_two_bugs(n: int) -> Score:
        raise (KeyError if n % 2 else TypeError)(n)

    result = await eval_two_bugs(max_concurrency=1, stop_after_errors=5)
    assert result.counts.total == 40
    assert result.stopped is None


async def test_a_resumed_run_with_stored_successes_does_not_stop(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'store.db'}"
    broken = False

    @doteval.foreach("n", range(50))
    async def eval_server(n: int) -> Score:
        if broken:
            raise ConnectionRefusedError("server down")
        return exact_match(n, n)

    await eval_server(experiment="e", storage=url, samples=10)
    broken = True
    result = await eval_server(experiment="e", storage=url, stop_after_errors=5, retries=0)
    assert result.stopped is None
    assert result.counts.total == 50
    assert result.counts.errors == 40


def test_bad_stop_after_errors_values_are_named() -> None:
    evaluation = always_failing(1)
    for bad in (-1, 2.5, "20"):
        with pytest.raises((TypeError, ValueError), match="stop_after_errors"):
            doteval.run(evaluation, stop_after_errors=bad)  # type: ignore[arg-type]


def test_the_early_stop_says_why_and_how_to_resume(capsys: pytest.CaptureFixture[str]) -> None:
    doteval.run(always_failing(), experiment="broken", max_concurrency=1)
    stopped, fix, where = capsys.readouterr().err.splitlines()[-3:]
    assert stopped == (
        "eval_broken: stopped: the first 20 items all failed with KeyError: '19', and none "
        "succeeded, so the run stopped (stop_after_errors=20)."
    )
    assert fix == '  Fix the cause, then resume with experiment="broken"'
    assert where == "  experiment broken: doteval show broken"


def test_pytest_stop_after_errors_option_and_ini(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        eval_down="""
        import doteval

        @doteval.foreach("n", range(100))
        def eval_down(n):
            raise LookupError("no such key")
        """
    )
    result = pytester.runpytest_inprocess(
        "--doteval-stop-after-errors", "3", "--experiment", "down", "--doteval-report", "r.json"
    )
    result.assert_outcomes(failed=1)
    store = open_storage("sqlite://.doteval/doteval.db")
    [info] = store.experiment("down").evaluations
    assert info.status == FAILED
    assert info.counts is not None
    assert 3 <= info.counts.total < 100

    pytester.makeini("[pytest]\ndoteval_stop_after_errors = 0\n")
    result = pytester.runpytest_inprocess("--experiment", "down-all")
    [info] = store.experiment("down-all").evaluations
    assert info.counts is not None
    assert info.counts.total == 100


# Failed when nothing was measured ------------------------------------------------------


def test_an_evaluation_whose_items_all_errored_is_failed_everywhere(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'store.db'}"
    result = doteval.run(always_failing(8), experiment="e", storage=url, progress=False)
    assert result.status == FAILED
    assert result.stopped is None  # fewer than 20 items: it ran them all
    [info] = open_storage(url).experiment("e").evaluations
    assert info.status == FAILED
    assert doteval.load("e", storage=url).status == FAILED
    listed = CliRunner().invoke(main, ["list", "--storage", url])
    assert "failed" in listed.output
    shown = CliRunner().invoke(main, ["show", "e", "--storage", url])
    assert "failed" in shown.output


# Resuming -------------------------------------------------------------------------------


def test_a_resumed_run_says_so_at_once_and_in_its_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite://{tmp_path / 'store.db'}"

    @doteval.foreach("n", range(300))
    async def eval_long(n: int) -> Score:
        return exact_match(n, n)

    doteval.run(eval_long, experiment="again", storage=url, samples=137)
    capsys.readouterr()
    result = doteval.run(eval_long, experiment="again", storage=url)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "eval_long: resumed: 137 stored, 163 to run"
    assert lines[1].endswith("; resumed: 137 stored, 163 to run")
    assert result.counts.attempts == 163  # this run's calls
    assert doteval.load("again", storage=url).counts.attempts == 300  # every run's


def test_pytest_says_a_run_resumed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        eval_resumed="""
        import doteval
        from doteval.evaluators import exact_match

        @doteval.foreach("n", range(30))
        def eval_resumed(n):
            return exact_match(n, n)
        """
    )
    pytester.runpytest_inprocess("--experiment", "twice", "--samples", "12")
    result = pytester.runpytest_inprocess("--experiment", "twice")
    result.stdout.fnmatch_lines(["*eval_resumed.py::eval_resumed: resumed: 12 stored, 18 to run*"])


# The summary -----------------------------------------------------------------------


def test_the_summary_gives_values_intervals_counts_and_where_to_look(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"jsonl://{tmp_path / 'runs'}"

    @doteval.foreach("n", range(1000))
    async def eval_sum(n: int) -> Score:
        if n == 3:
            raise ValueError("bad")
        return exact_match(n % 4, 0)

    result = doteval.run(eval_sum, experiment="sum", storage=url)
    end, metric, where = capsys.readouterr().err.splitlines()
    assert end.startswith("eval_sum: completed 1,000 items in ")
    assert end.endswith(" s, 1 error, 0 retries")
    found = result.estimates["exact_match"]["accuracy"]
    assert found is not None
    assert found.ci is not None
    low, high = found.ci
    assert metric == (
        f"  exact_match.accuracy 0.250 ± {(high - low) / 2:.3f} "
        f"(95% CI {low:.3f}–{high:.3f}, n=1,000)"
    )
    assert where == f"  experiment sum: doteval show sum --storage {url}"


def test_progress_false_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    doteval.run(always_failing(30), experiment="quiet", progress=False)
    assert capsys.readouterr().err == ""


# Retries in the log --------------------------------------------------------------------


def flaky_evaluation() -> doteval.Evaluation:
    tried: set[int] = set()

    @doteval.foreach("n", range(10))
    async def eval_flaky(n: int) -> Score:
        if n not in tried:
            tried.add(n)
            raise ConnectionError("reset")
        return exact_match(n, n)

    return eval_flaky


def retry_logs(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.getMessage() == "stamina.retry_scheduled"]


def test_dotevals_own_retries_are_counted_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    result = doteval.run(flaky_evaluation(), retries=NO_WAIT, progress=False)
    assert result.counts.retried == 10
    assert retry_logs(caplog) == []


@pytest.mark.parametrize("asked_by", ["DOTEVAL_LOG", "logging"])
def test_dotevals_retries_log_when_asked(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, asked_by: str
) -> None:
    if asked_by == "DOTEVAL_LOG":
        monkeypatch.setenv("DOTEVAL_LOG", "debug")
    else:
        caplog.set_level(logging.DEBUG, logger="doteval")
    caplog.set_level(logging.DEBUG)
    doteval.run(flaky_evaluation(), retries=NO_WAIT, progress=False)
    assert len(retry_logs(caplog)) == 10


def test_the_users_own_stamina_retries_still_log(caplog: pytest.LogCaptureFixture) -> None:
    import stamina

    caplog.set_level(logging.DEBUG)
    failed = []

    @stamina.retry(on=ConnectionError, attempts=2, wait_initial=0, wait_max=0, wait_jitter=0)
    async def call_the_model(n: int) -> int:
        if n not in failed:
            failed.append(n)
            raise ConnectionError("reset")
        return n

    @doteval.foreach("n", range(3))
    async def eval_own_retries(n: int) -> Score:
        return exact_match(await call_the_model(n), n)

    doteval.run(eval_own_retries, retries=NO_WAIT, progress=False)
    assert len(retry_logs(caplog)) == 3  # inside doteval's item, the user's retries log


# One identity for script and pytest --------------------------------------------------

EVAL_FILE = """
import doteval
from doteval.evaluators import exact_match

@doteval.foreach("n", range(40))
def eval_same(n):
    return exact_match(n, n)

if __name__ == "__main__":
    result = doteval.run(eval_same, experiment="shared", samples=15, progress=False)
    print(result.evaluation)
"""


def test_a_script_and_pytest_store_one_evaluation(pytester: pytest.Pytester) -> None:
    path = pytester.makepyfile(eval_same=EVAL_FILE)
    script = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, check=True, cwd=path.parent
    )
    assert script.stdout.strip() == "eval_same.eval_same"
    result = pytester.runpytest_inprocess("--experiment", "shared")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*resumed: 15 stored, 25 to run*"])
    [info] = open_storage("sqlite://.doteval/doteval.db").experiment("shared").evaluations
    assert info.name == "eval_same.eval_same"
    assert info.counts is not None
    assert info.counts.total == 40
    for alias in ("eval_same.py::eval_same", "eval_same", "eval_same.eval_same"):
        assert doteval.load("shared", alias).evaluation == "eval_same.eval_same"


def test_evaluations_stored_under_the_old_names_resume(pytester: pytest.Pytester) -> None:
    @doteval.foreach("n", range(12))
    def eval_old(n: int) -> Score:
        return exact_match(n, n)

    # Stored as earlier versions named them: pytest's node id, a script's __main__.
    for name, experiment in (
        ("eval_old.py::eval_old", "pytest-old"),
        ("__main__.eval_old", "script-old"),
    ):
        token = run_identity.set(RunIdentity(name, label=name))
        try:
            doteval.run(eval_old, experiment=experiment, samples=5, progress=False)
        finally:
            run_identity.reset(token)
    path = pytester.makepyfile(
        eval_old=textwrap.dedent(
            """
            import doteval
            from doteval.evaluators import exact_match

            @doteval.foreach("n", range(12))
            def eval_old(n):
                return exact_match(n, n)

            if __name__ == "__main__":
                print(doteval.run(eval_old, experiment="script-old").evaluation)
            """
        )
    )
    result = pytester.runpytest_inprocess("--experiment", "pytest-old")
    result.stdout.fnmatch_lines(["*resumed: 5 stored, 7 to run*"])
    script = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, check=True, cwd=path.parent
    )
    assert script.stdout.strip() == "__main__.eval_old"
    assert "resumed: 5 stored, 7 to run" in script.stderr
