"""doteval's pytest plugin: every ``@foreach`` evaluation is a pytest item.

Registered through the ``pytest11`` entry point. It collects ``eval_*.py`` files and
``eval_*`` evaluations besides pytest's own patterns. When pytest runs an evaluation
item, the evaluation runs to completion on the chosen async backend, with the
parameters of its signature that are not dataset columns filled by fixtures.
"""

from __future__ import annotations

import inspect
from collections.abc import Generator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from anyio.pytest_plugin import get_runner

from doteval._private.api.environment import environment_experiment
from doteval._private.api.foreach import Evaluation
from doteval._private.pytest.collection import (
    fixture_parameters,
    name_matches,
    path_matches,
    stand_in,
)
from doteval._private.pytest.options import add_options, read_settings
from doteval._private.pytest.report import crash_row, result_row
from doteval._private.pytest.running import on_backend, options_for, run_item, storage_url
from doteval._private.pytest.session import (
    EXPERIMENT_KEY,
    LEASE,
    ROW,
    SESSION,
    Session,
    Summary,
    XdistController,
)
from doteval._private.pytest.terminal import PytestTarget
from doteval._private.pytest.thresholds import MARKER_HELP, ThresholdError, Thresholds
from doteval._private.storage.naming import fresh_experiment_name


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    settings = read_settings(config)
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and EXPERIMENT_KEY in workerinput:
        experiment = workerinput[EXPERIMENT_KEY]
    else:
        experiment = (
            settings.options.experiment or environment_experiment() or fresh_experiment_name()
        )
    session = Session(settings, experiment, worker=workerinput is not None)
    if not session.worker and settings.options.progress is not False:
        session.target = PytestTarget.open(config)
    config.stash[SESSION] = session
    if not session.worker:
        config.pluginmanager.register(Summary(config), "doteval-summary")
        if config.pluginmanager.hasplugin("xdist"):
            config.pluginmanager.register(XdistController(experiment), "doteval-xdist")


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(SESSION, None)
    if session is not None and session.target is not None:
        session.target.close()


# Collection ----------------------------------------------------------------------


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    config = parent.config
    if (
        file_path.suffix != ".py"
        or parent.session.isinitpath(file_path)  # pytest collects those itself
        or not path_matches(file_path, config.getini("doteval_files"))
        or path_matches(file_path, config.getini("python_files"))
    ):
        return None
    module: pytest.Collector = parent.session.gethookproxy(file_path).pytest_pycollect_makemodule(
        module_path=file_path, parent=parent
    )
    return module


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(
    collector: pytest.Module | pytest.Class, name: str, obj: object
) -> list[pytest.Function] | None:
    if not isinstance(obj, Evaluation) or not isinstance(collector, pytest.Module):
        return None
    wanted = collector.funcnamefilter(name) or name_matches(
        name, collector.config.getini("doteval_functions")
    )
    if not wanted or not getattr(obj, "__test__", True):
        return None
    # pytest's own generation of function items (parametrisation, fixture closure);
    # the items' ``obj`` is the evaluation, found by name in the module.
    return list(collector._genfunctions(name, stand_in(obj, name)))


# Running -------------------------------------------------------------------------


def _is_evaluation(item: pytest.Item) -> bool:
    return isinstance(item, pytest.Function) and isinstance(item.obj, Evaluation)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    if not _is_evaluation(item):
        return (yield)
    # One event loop from the first fixture's setup to the last one's teardown: the
    # evaluation and its async fixtures share it.
    session = item.config.stash[SESSION]
    lease = ExitStack()
    lease.enter_context(get_runner(session.settings.backend, {}))
    item.stash[LEASE] = lease
    session.backend = session.settings.backend
    return (yield)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    try:
        return (yield)
    finally:
        lease = item.stash.get(LEASE, None)
        if lease is not None:
            item.config.stash[SESSION].backend = None
            lease.close()


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(
    fixturedef: Any, request: pytest.FixtureRequest
) -> Generator[Any, Any, Any]:
    backend = request.config.stash[SESSION].backend
    func = fixturedef.func
    if (
        backend is None
        or "anyio_backend" in request.fixturenames  # anyio's plugin runs it
        or not (inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func))
    ):
        return (yield)
    fixturedef.func = on_backend(func, backend)
    try:
        return (yield)
    finally:
        fixturedef.func = func


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    evaluation = pyfuncitem.obj
    if not isinstance(evaluation, Evaluation):
        return None
    session = pyfuncitem.config.stash[SESSION]
    options = options_for(session, evaluation)
    experiment = options.over(evaluation.defaults).experiment
    storage = storage_url(options, evaluation)
    try:
        thresholds = Thresholds.of(pyfuncitem)
    except ThresholdError as exc:
        pyfuncitem.stash[ROW] = crash_row(pyfuncitem.nodeid, str(exc), experiment, storage)
        pytest.fail(f"{pyfuncitem.nodeid}: {exc}", pytrace=False)
    arguments = {
        parameter.name: pyfuncitem.funcargs[parameter.name]
        for parameter in fixture_parameters(evaluation)
        if parameter.name in pyfuncitem.funcargs
    }
    try:
        result = run_item(pyfuncitem, session, evaluation, arguments, options)
    except Exception as exc:
        pyfuncitem.stash[ROW] = crash_row(
            pyfuncitem.nodeid, f"{type(exc).__name__}: {exc}", experiment, storage
        )
        raise
    row = pyfuncitem.stash[ROW] = result_row(pyfuncitem.nodeid, result, experiment, storage)
    failures = thresholds.failures(result)
    if failures:
        row["failures"] = failures
        # The reason first: pytest's short summary (-ra) shows the first line.
        pytest.fail("\n".join(failures), pytrace=False)
    return True


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    row = item.stash.get(ROW, None)
    if call.when == "call" and row is not None:
        # An attribute of the report, so pytest-xdist carries it to the controller.
        report.doteval = row  # type: ignore[attr-defined]
    return report
