"""doteval's pytest plugin: every ``@foreach`` evaluation is a pytest item.

Registered through the ``pytest11`` entry point. It collects ``eval_*.py`` files and
``eval_*`` evaluations besides pytest's own patterns. When pytest runs an evaluation
item, the evaluation runs to completion on the chosen async backend, with the
parameters of its signature that are not dataset columns filled by fixtures.
"""

from __future__ import annotations

import fnmatch
import inspect
from collections.abc import Callable, Generator, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import attrs
import pytest
from anyio.pytest_plugin import get_runner

from doteval._private.evaluation import Evaluation
from doteval._private.options import RunOptions, run_identity, session_options
from doteval._private.progress import display_target
from doteval._private.pytest_options import Settings, add_options, read_settings
from doteval._private.pytest_report import Row, crash_row, render_table, result_row, write_report
from doteval._private.pytest_terminal import PytestTarget
from doteval._private.pytest_thresholds import MARKER_HELP, ThresholdError, Thresholds
from doteval._private.records import EvaluationResult
from doteval._private.storage.base import default_url
from doteval._private.storage.naming import fresh_experiment_name

EXPERIMENT_KEY = "doteval_experiment"
"""The key of the controller's experiment name in an xdist worker's ``workerinput``."""


@attrs.define(eq=False)
class _Session:
    """The plugin's state for one pytest session."""

    settings: Settings
    experiment: str
    """The session's experiment, for evaluations whose options name none."""
    worker: bool
    target: PytestTarget | None = None
    backend: str | None = None
    """Set while an evaluation item runs: its async fixtures run on this backend."""


_SESSION = pytest.StashKey[_Session]()
_ROW = pytest.StashKey[Row]()
_LEASE = pytest.StashKey[ExitStack]()


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    settings = read_settings(config)
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and EXPERIMENT_KEY in workerinput:
        experiment = workerinput[EXPERIMENT_KEY]
    else:
        experiment = settings.options.experiment or fresh_experiment_name()
    session = _Session(settings, experiment, worker=workerinput is not None)
    if not session.worker and settings.options.progress is not False:
        session.target = PytestTarget.open(config)
    config.stash[_SESSION] = session
    if not session.worker:
        config.pluginmanager.register(_Summary(config), "doteval-summary")
        if config.pluginmanager.hasplugin("xdist"):
            config.pluginmanager.register(_XdistController(experiment), "doteval-xdist")


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(_SESSION, None)
    if session is not None and session.target is not None:
        session.target.close()


@attrs.define
class _XdistController:
    """Hands the controller's experiment to each worker, so they all store into one."""

    experiment: str

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[EXPERIMENT_KEY] = self.experiment


# Collection ----------------------------------------------------------------------


def _path_matches(path: Path, patterns: list[str]) -> bool:
    return any(
        fnmatch.fnmatch(str(path) if "/" in pattern else path.name, pattern) for pattern in patterns
    )


def _name_matches(name: str, patterns: list[str]) -> bool:
    """pytest's rule for ``python_functions``: a prefix, or a glob."""
    return any(
        name.startswith(pattern)
        or (any(char in pattern for char in "*?[") and fnmatch.fnmatch(name, pattern))
        for pattern in patterns
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    config = parent.config
    if (
        file_path.suffix != ".py"
        or parent.session.isinitpath(file_path)  # pytest collects those itself
        or not _path_matches(file_path, config.getini("doteval_files"))
        or _path_matches(file_path, config.getini("python_files"))
    ):
        return None
    module: pytest.Collector = parent.session.gethookproxy(file_path).pytest_pycollect_makemodule(
        module_path=file_path, parent=parent
    )
    return module


def fixture_parameters(evaluation: Evaluation) -> list[inspect.Parameter]:
    """The parameters pytest fills: those of the signature that no dataset column fills."""
    return [
        parameter
        for parameter in inspect.signature(evaluation.fn).parameters.values()
        if parameter.name not in evaluation.columns
        and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    ]


def _stand_in(evaluation: Evaluation, name: str) -> Callable[..., Any]:
    """A function pytest can read in place of the evaluation: its signature holds only
    the fixture parameters, its marks are the evaluation's."""

    def stand_in(**kwargs: Any) -> None:
        raise AssertionError("pytest reads this function's signature; it never calls it")

    stand_in.__name__ = stand_in.__qualname__ = name
    stand_in.__module__ = evaluation.fn.__module__
    stand_in.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [p.replace(kind=p.KEYWORD_ONLY) for p in fixture_parameters(evaluation)]
    )
    stand_in.pytestmark = list(getattr(evaluation, "pytestmark", []))  # type: ignore[attr-defined]
    return stand_in


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(
    collector: pytest.Module | pytest.Class, name: str, obj: object
) -> list[pytest.Function] | None:
    if not isinstance(obj, Evaluation) or not isinstance(collector, pytest.Module):
        return None
    wanted = collector.funcnamefilter(name) or _name_matches(
        name, collector.config.getini("doteval_functions")
    )
    if not wanted or not getattr(obj, "__test__", True):
        return None
    # pytest's own generation of function items (parametrisation, fixture closure);
    # the items' ``obj`` is the evaluation, found by name in the module.
    return list(collector._genfunctions(name, _stand_in(obj, name)))


# Running -------------------------------------------------------------------------


def _is_evaluation(item: pytest.Item) -> bool:
    return isinstance(item, pytest.Function) and isinstance(item.obj, Evaluation)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    if not _is_evaluation(item):
        return (yield)
    # One event loop from the first fixture's setup to the last one's teardown: the
    # evaluation and its async fixtures share it.
    session = item.config.stash[_SESSION]
    lease = ExitStack()
    lease.enter_context(get_runner(session.settings.backend, {}))
    item.stash[_LEASE] = lease
    session.backend = session.settings.backend
    return (yield)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    try:
        return (yield)
    finally:
        lease = item.stash.get(_LEASE, None)
        if lease is not None:
            item.config.stash[_SESSION].backend = None
            lease.close()


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(
    fixturedef: Any, request: pytest.FixtureRequest
) -> Generator[Any, Any, Any]:
    backend = request.config.stash[_SESSION].backend
    func = fixturedef.func
    if (
        backend is None
        or "anyio_backend" in request.fixturenames  # anyio's plugin runs it
        or not (inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func))
    ):
        return (yield)
    fixturedef.func = _on_backend(func, backend)
    try:
        return (yield)
    finally:
        fixturedef.func = func


def _on_backend(func: Callable[..., Any], backend: str) -> Callable[..., Any]:
    """An async fixture as the synchronous one pytest can call, run on ``backend``."""
    if inspect.isasyncgenfunction(func):

        def setup_and_teardown(**kwargs: Any) -> Iterator[Any]:
            with get_runner(backend, {}) as runner:
                yield from runner.run_asyncgen_fixture(func, kwargs)

        return setup_and_teardown

    def setup(**kwargs: Any) -> Any:
        with get_runner(backend, {}) as runner:
            return runner.run_fixture(func, kwargs)

    return setup


def _options(session: _Session, evaluation: Evaluation) -> RunOptions:
    """The session's options for this evaluation: explicit ones rank above the
    decorator's; the session's experiment only fills a gap."""
    options = session.settings.options
    if options.experiment is None and evaluation.defaults.experiment is None:
        options = attrs.evolve(options, experiment=session.experiment)
    if session.worker:  # a worker has no terminal to draw on
        options = attrs.evolve(options, progress=False)
    return options


def _storage_url(options: RunOptions, evaluation: Evaluation) -> str:
    return options.over(evaluation.defaults).storage or default_url()


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    evaluation = pyfuncitem.obj
    if not isinstance(evaluation, Evaluation):
        return None
    session = pyfuncitem.config.stash[_SESSION]
    options = _options(session, evaluation)
    experiment = options.over(evaluation.defaults).experiment
    storage = _storage_url(options, evaluation)
    try:
        thresholds = Thresholds.of(pyfuncitem)
    except ThresholdError as exc:
        pyfuncitem.stash[_ROW] = crash_row(pyfuncitem.nodeid, str(exc), experiment, storage)
        pytest.fail(f"{pyfuncitem.nodeid}: {exc}", pytrace=False)
    arguments = {
        parameter.name: pyfuncitem.funcargs[parameter.name]
        for parameter in fixture_parameters(evaluation)
        if parameter.name in pyfuncitem.funcargs
    }
    try:
        result = _run(pyfuncitem, session, evaluation, arguments, options)
    except Exception as exc:
        pyfuncitem.stash[_ROW] = crash_row(
            pyfuncitem.nodeid, f"{type(exc).__name__}: {exc}", experiment, storage
        )
        raise
    row = pyfuncitem.stash[_ROW] = result_row(pyfuncitem.nodeid, result, experiment, storage)
    failures = thresholds.failures(result)
    if failures:
        row["failures"] = failures
        pytest.fail(
            f"{pyfuncitem.nodeid} failed:\n" + "\n".join(f"  {text}" for text in failures),
            pytrace=False,
        )
    return True


def _run(
    item: pytest.Function,
    session: _Session,
    evaluation: Evaluation,
    arguments: dict[str, Any],
    options: RunOptions,
) -> EvaluationResult:
    results: list[EvaluationResult] = []

    async def run() -> None:
        # Set inside the runner's task, so they hold for this run and are undone after.
        tokens = (
            session_options.set(options),
            run_identity.set(item.nodeid),
            display_target.set(session.target),
        )
        try:
            results.append(await evaluation(**arguments))
        finally:
            display_target.reset(tokens[2])
            run_identity.reset(tokens[1])
            session_options.reset(tokens[0])

    with get_runner(session.settings.backend, {}) as runner:
        runner.run_test(run, {})
    return results[0]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    row = item.stash.get(_ROW, None)
    if call.when == "call" and row is not None:
        # An attribute of the report, so pytest-xdist carries it to the controller.
        report.doteval = row  # type: ignore[attr-defined]
    return report


# The session's summary -----------------------------------------------------------


@attrs.define(eq=False)
class _Summary:
    """Collects the rows of the session's evaluations (the workers' too, under xdist)
    and shows them at the end."""

    config: pytest.Config
    rows: list[Row] = attrs.field(factory=list)
    html_note: str | None = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        row = getattr(report, "doteval", None)
        if row is not None:
            self.rows.append({**row, "outcome": report.outcome})

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.html_note is not None:
            terminalreporter.write_line(self.html_note)  # before the table: it may return
        if not self.rows:
            return
        writer = self.config.get_terminal_writer()
        terminalreporter.write_sep("=", "doteval summary")
        terminalreporter.write(render_table(self.rows, writer.fullwidth, writer.hasmarkup))

    def pytest_sessionfinish(self, exitstatus: int) -> None:
        session = self.config.stash[_SESSION]
        report = session.settings.report
        if report is not None:
            write_report(report, self.rows, int(exitstatus))
        if session.settings.html is not None:
            from doteval._private.view.pytest_html import write_session_html

            storage = session.settings.options.storage or default_url()
            self.html_note = write_session_html(
                session.settings.html, self.rows, session.experiment, storage
            )
