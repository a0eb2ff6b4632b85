"""Running an evaluation item: its options, its event loop, and its async fixtures."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pytest
from anyio.pytest_plugin import get_runner

from doteval._private.api.foreach import Evaluation
from doteval._private.api.identity import RunIdentity, run_identity
from doteval._private.api.options import RunOptions, session_options
from doteval._private.progress.target import display_target
from doteval._private.pytest.session import Session
from doteval._private.results.records import EvaluationResult
from doteval._private.storage.registry import default_url, open_storage


def on_backend(func: Callable[..., Any], backend: str) -> Callable[..., Any]:
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


def options_for(session: Session, evaluation: Evaluation) -> RunOptions:
    """The session's options for this evaluation: explicit ones rank above the
    decorator's; the session's experiment only fills a gap."""
    options = session.settings.options
    if options.experiment is None and evaluation.defaults.experiment is None:
        options = attrs.evolve(options, experiment=session.experiment)
    if session.worker:  # a worker has no terminal to draw on
        options = attrs.evolve(options, progress=False)
    return options


def storage_url(options: RunOptions, evaluation: Evaluation) -> str:
    """The URL the evaluation stores into, as the session's report shows it."""
    storage = options.over(evaluation.defaults).storage or default_url()
    return storage if isinstance(storage, str) else open_storage(storage).url


def identity(item: pytest.Function, evaluation: Evaluation) -> RunIdentity:
    """The evaluation's stored name, as a script stores it, plus the item's parameter
    ids; the node id, which earlier versions stored it under, is an alias."""
    callspec = getattr(item, "callspec", None)
    name = evaluation.name if callspec is None else f"{evaluation.name}[{callspec.id}]"
    return RunIdentity(name, label=item.nodeid, aliases=(item.nodeid,))


def run_item(
    item: pytest.Function,
    session: Session,
    evaluation: Evaluation,
    arguments: dict[str, Any],
    options: RunOptions,
) -> EvaluationResult:
    results: list[EvaluationResult] = []

    async def run() -> None:
        # Set inside the runner's task, so they hold for this run and are undone after.
        tokens = (
            session_options.set(options),
            run_identity.set(identity(item, evaluation)),
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
