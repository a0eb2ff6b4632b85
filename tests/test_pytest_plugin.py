"""The pytest plugin, through pytest itself: each test builds a small project with
``pytester`` and runs pytest on it (in process, or in a subprocess for xdist)."""

from __future__ import annotations

import json
import os
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import doteval
from doteval._private.progress import display as progress
from pty_screen import run_in_pty, screen

pytest_plugins = ["pytester"]

HEADER = """
import anyio, pytest, sniffio, doteval
from doteval.evaluators import exact_match

DATA = [(str(i), str(i)) for i in range(10)]
"""

FRESH_NAME = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{6}$")


def project(pytester: pytest.Pytester, **files: str) -> None:
    """``name=source`` pairs become ``name.py`` files, each starting with ``HEADER``."""
    pytester.makepyfile(
        **{name: HEADER + textwrap.dedent(source) for name, source in files.items()}
    )


def run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    """Run pytest in process with a JSON report; the result and the report."""
    result = pytester.runpytest_inprocess("--doteval-report", "report.json", *args)
    path = pytester.path / "report.json"
    report = json.loads(path.read_text()) if path.exists() else {}
    return result, report


def rows(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["nodeid"]: row for row in report["evaluations"]}


# Collection ----------------------------------------------------------------------


def test_collects_eval_files_and_evaluations_besides_pytest_patterns(
    pytester: pytest.Pytester,
) -> None:
    project(
        pytester,
        eval_math="""
        @doteval.foreach("q,a", DATA)
        def eval_sum(q, a):
            return exact_match(q, a)

        @doteval.foreach("q,a", DATA)
        def math_check(q, a):  # an evaluation, but not named like one to collect
            return exact_match(q, a)

        def eval_helper():  # named like one, but not an evaluation
            raise AssertionError("not collected")

        def test_plain():
            pass
        """,
        test_other="""
        @doteval.foreach("q,a", DATA)
        def eval_in_test_module(q, a):
            return exact_match(q, a)

        @doteval.foreach("q,a", DATA)
        def test_named_like_a_test(q, a):
            return exact_match(q, a)
        """,
        helpers="""
        @doteval.foreach("q,a", DATA)
        def eval_elsewhere(q, a):  # helpers.py matches no file pattern
            return exact_match(q, a)
        """,
    )
    result = pytester.runpytest_inprocess("--collect-only", "-q")
    collected = [line for line in result.outlines if "::" in line]
    assert collected == [
        "eval_math.py::eval_sum",
        "eval_math.py::test_plain",
        "test_other.py::eval_in_test_module",
        "test_other.py::test_named_like_a_test",
    ]


def test_collection_patterns_come_from_the_ini_file(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ndoteval_files = checks_*.py\ndoteval_functions = check_\n")
    project(
        pytester,
        checks_math="""
        @doteval.foreach("q,a", DATA)
        def check_sum(q, a):
            return exact_match(q, a)

        @doteval.foreach("q,a", DATA)
        def eval_sum(q, a):
            return exact_match(q, a)
        """,
        eval_other="""
        @doteval.foreach("q,a", DATA)
        def check_other(q, a):
            return exact_match(q, a)
        """,
    )
    result = pytester.runpytest_inprocess("--collect-only", "-q")
    assert [line for line in result.outlines if "::" in line] == ["checks_math.py::check_sum"]


def test_an_evaluation_runs_when_pytest_runs_its_item(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        eval_order="""
        events = []

        def test_before():
            events.append("test before")

        @doteval.foreach("q,a", DATA[:3])
        def eval_middle(q, a):
            events.append("item")
            return exact_match(q, a)

        def test_after():
            assert events == ["test before", "item", "item", "item"]
        """,
    )
    pytester.runpytest_inprocess().assert_outcomes(passed=3)


def test_selection_markers_and_stopping_work_as_for_tests(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nmarkers =\n    slow: a slow evaluation\n")
    project(
        pytester,
        eval_select="""
        @doteval.foreach("q,a", DATA)
        def eval_one(q, a):
            return exact_match(q, a)

        @pytest.mark.slow
        @doteval.foreach("q,a", DATA)
        def eval_two(q, a):
            return exact_match(q, a)

        @doteval.foreach("q,a", DATA)
        def eval_broken(q, a):
            raise ValueError("always")

        @doteval.foreach("q,a", DATA)
        def eval_three(q, a):
            return exact_match(q, a)
        """,
    )

    def ran(*args: str) -> list[str]:
        _, report = run(pytester, *args)
        return [row["nodeid"].split("::")[1] for row in report["evaluations"]]

    assert ran("-k", "two") == ["eval_two"]
    assert ran("-m", "slow") == ["eval_two"]
    assert ran("eval_select.py::eval_three") == ["eval_three"]
    assert ran("-x") == ["eval_one", "eval_two", "eval_broken"]
    assert ran("--lf") == ["eval_broken"]


# Fixtures ------------------------------------------------------------------------


def test_only_the_extra_parameters_are_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture
        def template():
            return "{}"
        """
    )
    project(
        pytester,
        eval_fixtures="""
        used = []

        @pytest.fixture
        def q():
            raise AssertionError("a dataset column must not be taken from a fixture")

        @pytest.fixture
        def suffix():
            return ""

        @pytest.fixture(autouse=True)
        def watcher():
            used.append("autouse")

        @doteval.foreach("q,a", DATA)
        def eval_filled(q, a, template, suffix, temperature=0.0):
            return exact_match(template.format(q) + suffix, a)

        def test_autouse_ran_for_the_evaluation():
            assert used == ["autouse", "autouse"]
        """,
    )
    result, report = run(pytester)
    result.assert_outcomes(passed=2)
    row = rows(report)["eval_fixtures.py::eval_filled"]
    assert row["metrics"] == {"exact_match": {"accuracy": 1.0}}


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_async_fixtures_run_on_the_chosen_backend_and_tear_down_after_the_last_item(
    pytester: pytest.Pytester, backend: str
) -> None:
    project(
        pytester,
        eval_backend="""
        events = []

        @pytest.fixture(scope="session")
        async def session_client():
            return sniffio.current_async_library()

        @pytest.fixture(scope="module")
        async def module_client():
            events.append("module setup")
            yield sniffio.current_async_library()
            events.append("module teardown")

        @pytest.fixture
        async def client(module_client):
            await anyio.sleep(0)
            yield sniffio.current_async_library()
            events.append("async teardown")

        @pytest.fixture
        def counter():
            yield []
            events.append("sync teardown")

        @doteval.foreach("q,a", DATA[:4])
        async def eval_on_backend(q, a, client, module_client, session_client, counter):
            await anyio.sleep(0.001)
            library = sniffio.current_async_library()
            assert client == module_client == session_client == library, (client, library)
            counter.append(q)
            events.append(f"item on {library}")
            return exact_match(q, a)

        def test_teardown_came_after_the_last_item():
            assert events == [
                "module setup", *["item on BACKEND"] * 4, "sync teardown", "async teardown"
            ]
        """.replace("BACKEND", backend),
    )
    result, report = run(pytester, "--doteval-backend", backend)
    result.assert_outcomes(passed=2)
    assert rows(report)["eval_backend.py::eval_on_backend"]["items"] == 4


def test_parametrize_stores_one_evaluation_per_parameter_set(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        eval_models="""
        @pytest.mark.parametrize("offset", [0, 1], ids=["exact", "off_by_one"])
        @doteval.foreach("q,a", DATA)
        def eval_model(q, a, offset):
            return exact_match(str(int(q) + offset), a)
        """,
    )
    result, report = run(pytester, "--experiment", "sweep")
    result.assert_outcomes(passed=2)
    for nodeid, accuracy in [
        ("eval_models.py::eval_model[exact]", 1.0),
        ("eval_models.py::eval_model[off_by_one]", 0.0),
    ]:
        # Stored as a script stores it, plus the parameter ids; the node id finds it too.
        name = nodeid.replace(".py::", ".")
        assert rows(report)[nodeid]["evaluation"] == name
        stored = doteval.load(
            "sweep", evaluation=nodeid, storage=str(rows(report)[nodeid]["storage"])
        )
        assert stored.evaluation == name
        assert stored.summary == {"exact_match": {"accuracy": accuracy}}
        assert stored.counts.total == 10


# Options -------------------------------------------------------------------------

PEAK = """
running = 0
peak = 0

@foreach("q,a", DATA * 3)
async def eval_window(q, a):
    global running, peak
    running += 1
    peak = max(peak, running)
    await anyio.sleep(0.005)
    running -= 1
    return exact_match(q, a)

def test_peak():
    assert peak == int(open("expected_peak").read())
"""


@pytest.mark.parametrize(
    ("args", "ini", "expected"),
    [
        ((), "", 5),  # the decorator's
        (("--max-concurrency", "3"), "", 3),
        ((), "doteval_max_concurrency = 2", 2),  # the ini file beats the decorator
        (("--max-concurrency", "4"), "doteval_max_concurrency = 2", 4),  # the command line wins
    ],
)
def test_max_concurrency_from_the_command_line_or_ini_file(
    pytester: pytest.Pytester, args: tuple[str, ...], ini: str, expected: int
) -> None:
    pytester.makeini(f"[pytest]\n{ini}\n")
    project(pytester, eval_window="foreach = doteval.ForEach(max_concurrency=5)\n" + PEAK)
    (pytester.path / "expected_peak").write_text(str(expected))
    pytester.runpytest_inprocess(*args).assert_outcomes(passed=2)


def test_samples_experiment_and_storage_options(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        eval_options="""
        @doteval.foreach("q,a", DATA)
        def eval_one(q, a):
            return exact_match(q, a)
        """,
    )
    result, report = run(
        pytester, "--samples", "4", "--experiment", "nightly", "--storage", "jsonl://store"
    )
    result.assert_outcomes(passed=1)
    row = rows(report)["eval_options.py::eval_one"]
    assert (row["items"], row["experiment"], row["storage"]) == (4, "nightly", "jsonl://store")
    stored = doteval.load("nightly", storage=f"jsonl://{pytester.path / 'store'}")
    assert stored.counts.total == 4


def test_settings_in_pyproject_toml(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(
        """
        [tool.pytest.ini_options]
        doteval_samples = 3
        doteval_experiment = "from-ini"
        doteval_storage = "jsonl://ini-store"
        doteval_backend = "trio"
        doteval_progress = false
        """
    )
    project(
        pytester,
        eval_ini="""
        @doteval.foreach("q,a", DATA)
        async def eval_one(q, a):
            assert sniffio.current_async_library() == "trio"
            return exact_match(q, a)
        """,
    )
    result, report = run(pytester)
    result.assert_outcomes(passed=1)
    row = rows(report)["eval_ini.py::eval_one"]
    assert (row["items"], row["experiment"], row["storage"]) == (3, "from-ini", "jsonl://ini-store")


def test_one_fresh_experiment_per_session_unless_the_decorator_names_one(
    pytester: pytest.Pytester,
) -> None:
    project(
        pytester,
        eval_names="""
        @doteval.foreach("q,a", DATA)
        def eval_a(q, a):
            return exact_match(q, a)

        @doteval.foreach("q,a", DATA)
        def eval_b(q, a):
            return exact_match(q, a)

        @doteval.ForEach(experiment="mine")("q,a", DATA)
        def eval_c(q, a):
            return exact_match(q, a)
        """,
    )
    _, report = run(pytester)
    names = [row["experiment"] for row in report["evaluations"]]
    assert FRESH_NAME.match(names[0])
    assert names == [names[0], names[0], "mine"]
    _, report = run(pytester, "--experiment", "given")
    assert [row["experiment"] for row in report["evaluations"]] == ["given"] * 3


@pytest.mark.parametrize(
    ("args", "ini", "message"),
    [
        (("--max-concurrency", "0"), "", "argument --max-concurrency: expected a whole number"),
        (("--max-concurrency", "many"), "", "argument --max-concurrency: expected a whole"),
        (("--samples", "-1"), "", "argument --samples: expected a whole number of at least 0"),
        (("--doteval-backend", "curio"), "", "argument --doteval-backend: expected one of"),
        (("--experiment", "../up"), "", "argument --experiment: experiment name '../up'"),
        (("--storage", "nowhere"), "", "argument --storage: expected a storage URL"),
        ((), "doteval_max_concurrency = zero", "doteval_max_concurrency = 'zero' in"),
        ((), "doteval_progress = sometimes", "must be true or false"),
    ],
)
def test_bad_values_are_usage_errors_naming_the_option(
    pytester: pytest.Pytester, args: tuple[str, ...], ini: str, message: str
) -> None:
    pytester.makeini(f"[pytest]\n{ini}\n")
    result = pytester.runpytest_inprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


# Pass and fail -------------------------------------------------------------------


def test_pass_and_fail(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        eval_outcomes="""
        def broken_rows():
            yield ("1", "1")
            raise OSError("the dataset file went away")

        @doteval.foreach("q,a", broken_rows)
        def eval_cannot_complete(q, a):
            return exact_match(q, a)

        @doteval.foreach("q,a", DATA[:5])
        def eval_all_errors(q, a):
            raise PermissionError("invalid API key")

        @pytest.mark.doteval(max_error_rate=1.0)
        @doteval.foreach("q,a", DATA[:5])
        def eval_errors_allowed(q, a):
            raise PermissionError("invalid API key")

        @pytest.mark.doteval(fail_under={"exact_match.accuracy": 0.8})
        @doteval.foreach("q,a", DATA)
        def eval_below(q, a):
            return exact_match(q, "0" if int(q) % 2 else a)

        @pytest.mark.doteval(fail_under={"exact_match.accuracy": 0.8}, max_error_rate=0.1)
        @doteval.foreach("q,a", DATA)
        def eval_above(q, a):
            if q == "0":
                raise ValueError("one bad item")
            return exact_match(q, a)

        @pytest.mark.doteval(max_error_rate=0.1)
        @doteval.foreach("q,a", DATA)
        def eval_too_many_errors(q, a):
            if int(q) < 2:
                raise ValueError("bad")
            return exact_match(q, a)

        @pytest.mark.doteval(fail_under={"exact_match.acuracy": 0.5})
        @doteval.foreach("q,a", DATA)
        def eval_misspelt_metric(q, a):
            return exact_match(q, a)

        ran = []

        @pytest.mark.doteval(0.8)
        @doteval.foreach("q,a", DATA)
        def eval_bad_marker(q, a):
            ran.append(q)
            return exact_match(q, a)

        def test_the_bad_marker_stopped_the_run_before_it_started():
            assert ran == []
        """,
    )
    result, report = run(pytester)
    outcomes = {nodeid.split("::")[1]: row["outcome"] for nodeid, row in rows(report).items()}
    assert outcomes == {
        "eval_cannot_complete": "failed",
        "eval_all_errors": "failed",
        "eval_errors_allowed": "passed",
        "eval_below": "failed",
        "eval_above": "passed",
        "eval_too_many_errors": "failed",
        "eval_misspelt_metric": "failed",
        "eval_bad_marker": "failed",
    }
    result.assert_outcomes(passed=3, failed=6)
    output = result.stdout.str()
    assert "DatasetError: reading row 1 of the dataset" in output
    assert "all 5 items errored (5 × PermissionError: invalid API key)" in output
    assert "exact_match.accuracy = 0.5 is below fail_under 0.8" in output
    assert "error rate 0.200 (2 of 10 items) is above max_error_rate 0.1" in output
    assert (
        "fail_under names exact_match.acuracy, which the evaluation did not measure; "
        "it measured exact_match.accuracy" in output
    )
    assert "@pytest.mark.doteval takes the keyword arguments fail_under," in output


def test_zero_items_pass(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        eval_empty="""
        @doteval.foreach("q,a", [])
        def eval_nothing(q, a):
            return exact_match(q, a)
        """,
    )
    pytester.runpytest_inprocess().assert_outcomes(passed=1)


# The summary ---------------------------------------------------------------------


def test_one_summary_table_and_the_json_report(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    project(
        pytester,
        eval_summary="""
        @doteval.foreach("q,a", DATA)
        async def eval_good(q, a):
            return exact_match(q, a)

        @doteval.foreach("q,a", DATA)
        async def eval_bad(q, a):
            if int(q) < 3:
                raise ValueError("bad")
            return exact_match(q, "x")

        def test_ordinary():
            pass
        """,
    )
    result, report = run(pytester, "--experiment", "summary", "-p", "no:randomly")
    output = result.stdout.str()
    assert output.count("doteval summary") == 1
    table = output[output.index("doteval summary") :]
    lines = table.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == ["evaluation"])
    assert lines[start - 1].split() == ["exact_match"]  # score above metric, in two lines
    header, rule, good_line, bad_line = lines[start : start + 4]
    columns = ["evaluation", "outcome", "items", "errors", "accuracy", "time"]
    assert header.split() == columns
    assert set(rule.strip()) == {"─"}
    assert good_line.split()[:5] == ["eval_summary.eval_good", "passed", "10", "0", "1.000"]
    assert bad_line.split()[:5] == ["eval_summary.eval_bad", "passed", "10", "3", "0.000"]
    assert "experiment summary · stored in sqlite://.doteval/doteval.db" in table
    assert report["experiment"] == "summary"
    assert report["exit_status"] == 0
    good, bad = report["evaluations"]
    assert good["outcome"] == bad["outcome"] == "passed"
    assert (bad["items"], bad["errors"], bad["retried"]) == (10, 3, 0)
    assert bad["metrics"] == {"exact_match": {"accuracy": 0.0}}
    assert bad["failures"] == []  # 3 of 10 errors: only all-errors fails by default
    assert isinstance(good["wall_time"], float)


def test_no_table_without_evaluations(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    result, report = run(pytester)
    assert "doteval summary" not in result.stdout.str()
    assert report["evaluations"] == []


def test_the_spec_commands(pytester: pytest.Pytester) -> None:
    """``pytest eval_async.py --max-concurrency 20`` and ``--samples 1000``, as the spec
    shows them, over the spec's examples."""
    pytester.makepyfile(
        eval_async="""
        import asyncio
        import doteval
        from doteval.evaluators import exact_match
        from doteval.testing import FakeModel

        async_model = FakeModel()
        dataset = [("What is 2+2?", "4"), ("What is 3+3?", "6")]

        @doteval.foreach("question,answer", dataset)
        async def eval_async_math(question, answer):
            # Simulate async model call
            await asyncio.sleep(0.1)
            result = await async_model.generate(question)
            return exact_match(result, answer)

        from doteval import ForEach
        from doteval.concurrency import SlidingWindowStrategy

        # Configure sliding window concurrency
        sliding_window = SlidingWindowStrategy(max_concurrency=20)
        foreach = ForEach(concurrency=sliding_window)

        @foreach("question,answer", dataset)
        async def eval_with_strategy(question, answer):
            result = await async_model.generate(question)
            return exact_match(result, answer)
        """
    )
    for option, value in (("--max-concurrency", "20"), ("--samples", "1000")):
        result = pytester.runpytest_inprocess("eval_async.py", option, value)
        result.assert_outcomes(passed=2)


# Progress ------------------------------------------------------------------------

SLOW = """
@doteval.foreach("q,a", DATA * 2)
async def eval_slow(q, a):
    await anyio.sleep(0.01)
    return exact_match(q, a)
"""


@pytest.mark.parametrize(
    ("args", "ini", "shown"),
    [((), "", True), (("--no-progress",), "", False), ((), "doteval_progress = false", False)],
)
def test_progress_lines_when_pytest_writes_to_a_log(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    ini: str,
    shown: bool,
) -> None:
    monkeypatch.setattr(progress, "PLAIN_INTERVAL", 0.05)
    pytester.makeini(f"[pytest]\n{ini}\n")
    project(pytester, eval_log=SLOW + "\ndef test_after():\n    pass\n")
    result = pytester.runpytest_inprocess("--max-concurrency", "1", *args)
    result.assert_outcomes(passed=2)
    lines = result.outlines
    progress_lines = [line for line in lines if line.startswith("eval_log.py::eval_slow: ")]
    assert bool(progress_lines) is shown
    if shown:
        # pytest's line for the file is ended before the first progress line, and
        # started again after the last one.
        first = lines.index(progress_lines[0])
        assert lines[first - 1] == "eval_log.py "
        assert lines[first + len(progress_lines)].startswith("eval_log.py ..")  # the eval, the test
        assert "finished 20 items" in progress_lines[-1]


def test_live_display_leaves_pytest_output_intact_in_a_terminal(
    pytester: pytest.Pytester,
) -> None:
    project(
        pytester,
        eval_live="""
        def test_before():
            pass

        @doteval.foreach("q,a", DATA * 3)
        async def eval_slow(q, a):
            await anyio.sleep(0.04)
            print("output pytest captures")
            return exact_match(q, a)

        def test_after():
            pass
        """,
    )
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "PYTEST_ADDOPTS")}

    def pytest_in_pty(*args: str) -> tuple[bytes, list[str]]:
        command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--storage"]
        code, output = run_in_pty(
            [*command, "memory://", "--experiment", "pty", "--max-concurrency", "1", *args],
            pytester.path,
            env,
        )
        assert code == 0, output.decode()
        timings = re.compile(rb"\d+\.\d+ ?s\b")  # durations differ from run to run
        return output, screen(timings.sub(b"T", output))

    for verbosity in ((), ("-v",)):
        drawn, with_progress = pytest_in_pty(*verbosity)
        _, without_progress = pytest_in_pty("--no-progress", *verbosity)
        assert drawn.count(b"in flight") >= 2  # the display was drawn, and redrawn
        assert with_progress == without_progress
    assert "eval_live.py::eval_slow PASSED" in "\n".join(with_progress)


def test_xdist_workers_share_one_experiment_and_store_and_one_summary(
    pytester: pytest.Pytester,
) -> None:
    evaluations = """
    import os, pathlib

    def mark(name):
        worker = os.environ["PYTEST_XDIST_WORKER"]
        pathlib.Path(f"ran-{worker}-{name}").touch()

    @doteval.foreach("q,a", DATA)
    async def eval_NAME_one(q, a):
        await anyio.sleep(0.01)
        mark("NAME_one")
        return exact_match(q, a)

    @doteval.foreach("q,a", DATA)
    async def eval_NAME_two(q, a):
        await anyio.sleep(0.01)
        mark("NAME_two")
        return exact_match(q, a)
    """
    project(
        pytester, eval_x=evaluations.replace("NAME", "x"), eval_y=evaluations.replace("NAME", "y")
    )
    result = pytester.runpytest_subprocess("-n", "2", "--doteval-report", "report.json")
    result.assert_outcomes(passed=4)
    assert result.stdout.str().count("doteval summary") == 1
    report = json.loads((pytester.path / "report.json").read_text())
    assert len(report["evaluations"]) == 4
    experiment = report["experiment"]
    assert FRESH_NAME.match(experiment)  # minted once, by the controller
    workers = {path.name.split("-")[1] for path in pytester.path.glob("ran-*")}
    assert workers == {"gw0", "gw1"}
    store = f"sqlite://{pytester.path / '.doteval' / 'doteval.db'}"
    for row in report["evaluations"]:
        assert row["experiment"] == experiment
        stored = doteval.load(experiment, evaluation=row["nodeid"], storage=store)
        assert stored.counts.total == 10


def test_the_example_of_the_docs_page(pytester: pytest.Pytester) -> None:
    page = (Path(__file__).parents[1] / "docs" / "pytest.md").read_text(encoding="utf-8")
    example = re.search(r"```python\n(# eval_models\.py\n.*?)```", page, re.DOTALL)
    assert example is not None
    pytester.makepyfile(eval_models=example[1])
    result, report = run(pytester, "eval_models.py", "--max-concurrency", "20")
    result.assert_outcomes(passed=3)
    accuracy = {
        nodeid.split("::")[1]: row["metrics"]["exact_match"]["accuracy"]
        for nodeid, row in rows(report).items()
    }
    assert accuracy["eval_addition"] == accuracy["eval_sweep[sharp]"] == 1.0
    assert 0.9 < accuracy["eval_sweep[sloppy]"] < 1.0


def test_a_gate_on_the_low_end_of_the_interval_and_estimates_in_the_report(
    pytester: pytest.Pytester,
) -> None:
    project(
        pytester,
        eval_gates="""
        RIGHT = [(str(i), str(i) if i % 10 < 8 else "wrong") for i in range(60)]

        @pytest.mark.doteval(fail_under={"exact_match.accuracy": 0.7})
        @doteval.foreach("q,a", RIGHT)
        async def eval_value_gate(q, a):
            return exact_match(q, a)

        @pytest.mark.doteval(fail_under={"exact_match.accuracy": 0.7}, bound="ci_low")
        @doteval.foreach("q,a", RIGHT)
        async def eval_interval_gate(q, a):
            return exact_match(q, a)
        """,
    )
    result, report = run(pytester, "--epochs", "2")
    result.assert_outcomes(passed=1, failed=1)
    found = rows(report)
    value_gate = found["eval_gates.py::eval_value_gate"]
    interval_gate = found["eval_gates.py::eval_interval_gate"]
    assert value_gate["metrics"]["exact_match"]["accuracy"] == pytest.approx(0.8)
    estimate = value_gate["estimates"]["exact_match"]["accuracy"]
    assert set(estimate) == {"value", "stderr", "ci", "level", "n", "method"}
    assert estimate["n"] == 60
    assert estimate["ci"][0] < 0.7 < 0.8 < estimate["ci"][1]
    assert value_gate["items"] == 60
    assert value_gate["epochs"] == 2
    assert interval_gate["failures"] == [
        f"the low end of exact_match.accuracy's interval = {estimate['ci'][0]:.4g} is below "
        f"fail_under 0.7"
    ]
    table = result.stdout.str()
    assert "0.800 ±" in table


def test_a_gate_names_a_bad_bound(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        eval_bad_bound="""
        @pytest.mark.doteval(fail_under={"exact_match.accuracy": 0.7}, bound="lower")
        @doteval.foreach("q,a", DATA)
        async def eval_bound(q, a):
            return exact_match(q, a)
        """,
    )
    result, _ = run(pytester)
    result.assert_outcomes(failed=1)
    assert "bound must be one of 'value', 'ci_low', 'ci_high', got 'lower'" in result.stdout.str()
