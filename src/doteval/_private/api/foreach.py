"""``@foreach``: turning a function over one row into an evaluation over a dataset."""

from __future__ import annotations

import functools
import inspect
import math
import sys
from collections.abc import Callable
from typing import Any

import anyio
import attrs

from doteval._private.api.environment import environment_options
from doteval._private.api.identity import evaluation_name, legacy_names, run_identity
from doteval._private.api.options import (
    DEFAULT_BLOCKING_THRESHOLD,
    DEFAULT_STOP_AFTER_ERRORS,
    RESERVED,
    Concurrency,
    ReducersOption,
    Retries,
    RunOptions,
    ShardOption,
    StorageOption,
    session_options,
)
from doteval._private.concurrency.strategies import Strategy, resolve_strategy
from doteval._private.persist.hook import StoreTarget
from doteval._private.progress.display import open_display
from doteval._private.results.records import EvaluationResult
from doteval._private.retry.policy import resolve_retries
from doteval._private.run.dataset import DatasetSource, parse_columns
from doteval._private.run.engine import execute
from doteval._private.run.item import ItemRunner
from doteval._private.run.plan import RunPlan, Sampling
from doteval._private.run.second_interrupt import ctrl_c_seen
from doteval._private.scoring.reducers import resolve_reducers
from doteval._private.storage.naming import fresh_experiment_name


def _stored_options(
    options: RunOptions, strategy: Strategy, sampling: Sampling, batch_size: int | None
) -> dict[str, Any]:
    """The options kept with a stored evaluation, as JSON-friendly values."""
    window = strategy.window_limit
    return {
        "max_concurrency": int(window) if math.isfinite(window) else None,
        "samples": options.samples,
        "strategy": repr(strategy),
        "timeout": options.timeout,
        "retries": None if options.retries is None else repr(options.retries),
        "epochs": sampling.epochs,
        "reducers": [reducer.name for reducer in sampling.reducers],
        "cluster": sampling.cluster,
        "batch_size": batch_size,
    }


def _sampling(options: RunOptions, columns: tuple[str, ...], owner: str) -> Sampling:
    """The run's sampling options, checked before any row is read."""
    cluster = options.cluster
    if cluster is not None and cluster not in columns:
        raise ValueError(
            f"{owner}: cluster={cluster!r} must name one of the columns "
            f"{', '.join(columns)}: items with equal values of it form a cluster"
        )
    return Sampling(options.epochs or 1, resolve_reducers(options.reducers), cluster)


@attrs.define(slots=False, eq=False, repr=False)
class Evaluation:
    """An evaluation over a dataset; await a call to run it.

    Keyword arguments that are not run options (see ``RESERVED_OPTIONS``) go to
    the evaluation function, e.g. a model client. With a ``batch_size`` (``@batch``),
    the function takes that many rows at a time, as one list per column.
    """

    fn: Callable[..., Any]
    columns: tuple[str, ...]
    source: DatasetSource
    defaults: RunOptions
    is_async: bool
    _parameters: dict[str, inspect.Parameter]
    batch_size: int | None = None

    def __attrs_post_init__(self) -> None:
        functools.update_wrapper(self, self.fn)

    @property
    def name(self) -> str:
        """Module-qualified name: the evaluation's identity in stored experiments."""
        return evaluation_name(self.fn)

    def __repr__(self) -> str:
        batches = "" if self.batch_size is None else f" in batches of {self.batch_size}"
        return f"<doteval.Evaluation {self.name} over columns {', '.join(self.columns)}{batches}>"

    async def __call__(
        self,
        *,
        max_concurrency: int | None = None,
        samples: int | None = None,
        concurrency: Concurrency | None = None,
        retries: Retries | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - per attempt, not for this call
        experiment: str | None = None,
        storage: StorageOption | None = None,
        progress: bool | None = None,
        keep_records: bool | None = None,
        blocking_threshold: float | None = None,
        epochs: int | None = None,
        reducers: ReducersOption | None = None,
        cluster: str | None = None,
        stop_after_errors: int | None = None,
        shard: ShardOption | None = None,
        **arguments: Any,
    ) -> EvaluationResult:
        """Run the evaluation; ``arguments`` go to the function (e.g. ``model=``)."""
        try:
            call_options = RunOptions(
                max_concurrency=max_concurrency,
                samples=samples,
                concurrency=concurrency,
                retries=retries,
                timeout=timeout,
                experiment=experiment,
                storage=storage,
                progress=progress,
                keep_records=keep_records,
                blocking_threshold=blocking_threshold,
                epochs=epochs,
                reducers=reducers,
                cluster=cluster,
                stop_after_errors=stop_after_errors,
                shard=shard,
            )
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{self.fn.__name__}: {exc}") from None
        self._check_arguments(arguments)
        options = call_options.over(session_options.get(), self.defaults, environment_options())
        plan = self._plan(options, arguments)
        interrupted = False
        try:
            return await execute(plan)
        except KeyboardInterrupt:
            interrupted = True
        except anyio.get_cancelled_exc_class() as exc:
            if sys.version_info < (3, 11) and ctrl_c_seen(exc):
                # asyncio's runner cancelled the main task for a Ctrl-C; on Python 3.10 it
                # cannot tell that from another cancellation (tasks have no uncancel()),
                # and the program would end with a CancelledError instead.
                interrupted = True
            else:
                # Passed on as itself (the caller's cancel scope catches it), without the
                # run's frames and the stream hand-off it interrupted: the user reads one
                # frame here.
                exc.__context__ = None
                raise exc.with_traceback(None) from None
        # Ctrl-C inside the run: raised afresh, outside the except block, so the user's
        # traceback shows this call and nothing of doteval's, anyio's or a chained error.
        assert interrupted
        raise KeyboardInterrupt

    def _plan(self, options: RunOptions, arguments: dict[str, Any]) -> RunPlan:
        """Resolve the options into a run plan; errors here come before any row is read."""
        strategy = resolve_strategy(
            options.concurrency,
            options.max_concurrency,
            self.is_async,
            self.fn.__name__,
        )
        limit = strategy.window_limit
        retrier = resolve_retries(options.retries)  # before the dataset is touched
        sampling = _sampling(options, self.columns, self.fn.__name__)
        if options.shard is not None and options.experiment is None:
            raise ValueError(
                f"{self.fn.__name__}: shard={options.shard} needs experiment=: every shard "
                f"stores into the same experiment, so name it (experiment='NAME', "
                f"--experiment NAME under pytest, or DOTEVAL_EXPERIMENT=NAME)"
            )
        identity = run_identity.get()
        rows = self.source.rows()
        display = open_display(
            options.progress,
            self.fn.__name__ if identity is None else identity.label,
            self.source.dataset,
            rows,
            options.samples,
            sampling.epochs,
            shard=options.shard,
        )
        runner = ItemRunner(
            evaluation=self.fn.__name__,
            fn=self.fn,
            is_async=self.is_async,
            columns=self.columns,
            extra=arguments,
            retrier=retrier,
            timeout=options.timeout,
            thread_limiter=None
            if self.is_async
            else anyio.CapacityLimiter(limit if math.isfinite(limit) else 1000),
            stats=None if display is None else display.stats,
        )
        return RunPlan(
            evaluation=self.name if identity is None else identity.name,
            aliases=legacy_names(self.fn) if identity is None else identity.aliases,
            rows=rows,
            runner=runner,
            strategy=strategy,
            samples=options.samples,
            keep_records=options.keep_records is not False,
            blocking_threshold=options.blocking_threshold or DEFAULT_BLOCKING_THRESHOLD,
            hooks=() if display is None else (display,),
            store=StoreTarget(
                url=options.storage,
                experiment=options.experiment or fresh_experiment_name(),
                announce=options.experiment is None and options.progress is not False,
                options=_stored_options(options, strategy, sampling, self.batch_size),
                shard=options.shard,
                keep_records=options.keep_records is not False,
            ),
            sampling=sampling,
            stop_after_errors=DEFAULT_STOP_AFTER_ERRORS
            if options.stop_after_errors is None
            else options.stop_after_errors,
            reporter=display,
            batch_size=self.batch_size,
        )

    def _check_arguments(self, extra: dict[str, Any]) -> None:
        """Catch a misspelt or missing argument once, not as one error per item."""
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in self._parameters.values())
        unknown = [
            name
            for name in extra
            if name in self.columns or (not takes_any and name not in self._parameters)
        ]
        if unknown:
            raise TypeError(
                f"{self.fn.__name__}() got unexpected keyword argument(s) "
                f"{', '.join(map(repr, unknown))}: the dataset fills "
                f"{', '.join(self.columns)}, run options are "
                f"{', '.join(sorted(RESERVED))}, and other arguments must be "
                f"parameters of {self.fn.__name__}"
            )
        missing = [
            name
            for name, p in self._parameters.items()
            if name not in self.columns
            and name not in extra
            and p.default is inspect.Parameter.empty
            and p.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
        ]
        if missing:
            raise TypeError(
                f"{self.fn.__name__}() needs {', '.join(map(repr, missing))}, which the "
                f"dataset's columns do not provide: pass "
                f"{', '.join(f'{name}=...' for name in missing)} when you call it"
            )


@attrs.frozen
class ForEach(RunOptions):
    """A configured ``foreach`` decorator: its options are the defaults of its evaluations.

    ``ForEach(concurrency=..., retries=..., max_concurrency=...)`` takes every run
    option; ``ForEach()("question,answer", dataset)`` decorates like ``foreach``.
    """

    def __new__(cls, *args: Any, **options: Any) -> ForEach:
        # attrs' own message for a misspelt option does not say which ones exist.
        known = attrs.fields_dict(cls)
        unknown = sorted(set(options) - set(known))
        if unknown or args:
            given = [repr(arg) for arg in args] + unknown
            raise TypeError(
                f"{cls.__name__}() got unknown option(s) {', '.join(given)}; the options "
                f"are {', '.join(sorted(known))}, all by keyword"
            )
        return super().__new__(cls)

    def __attrs_post_init__(self) -> None:
        resolve_retries(self.retries)  # fail at decoration time, not at the first run
        if self.concurrency is not None:
            resolve_strategy(self.concurrency, None, True, f"{type(self).__name__}()")

    def __getattr__(self, name: str) -> Callable[..., Callable[[Callable[..., Any]], Evaluation]]:
        """``@foreach.gsm8k("test")``: an evaluation over a dataset of ``doteval.datasets``."""
        from doteval._private.datasets.registry import foreach_dataset

        return foreach_dataset(self, name)

    def __call__(self, columns: str, dataset: Any) -> Callable[[Callable[..., Any]], Evaluation]:
        return self._decorator(columns, dataset, None)

    def _decorator(
        self, columns: str, dataset: Any, batch_size: int | None
    ) -> Callable[[Callable[..., Any]], Evaluation]:
        """The decorator of ``@foreach(columns, dataset)``, or with a ``batch_size`` of
        ``@batch``'s."""
        names = parse_columns(columns)
        defaults = RunOptions(**{name: getattr(self, name) for name in RESERVED})

        def decorate(fn: Callable[..., Any]) -> Evaluation:
            if isinstance(fn, Evaluation):
                raise TypeError(f"{fn.fn.__name__} is already decorated with @foreach or @batch")
            parameters = dict(inspect.signature(fn).parameters)
            clashes = sorted(set(parameters) & RESERVED)
            if clashes:
                raise TypeError(
                    f"{fn.__name__} has parameter(s) named {', '.join(clashes)}, which "
                    f"doteval reserves for run options; rename them (e.g. "
                    f"{clashes[0]} -> {clashes[0]}_)"
                )
            takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
            absent = [name for name in names if name not in parameters]
            if absent and not takes_any:
                raise TypeError(
                    f"{fn.__name__} has no parameter for column(s) "
                    f"{', '.join(absent)}; add them to its signature or fix the "
                    f"columns string {columns!r}"
                )
            return Evaluation(
                fn=fn,
                columns=names,
                source=DatasetSource(dataset, fn.__name__),
                defaults=defaults,
                is_async=inspect.iscoroutinefunction(fn),
                parameters=parameters,
                batch_size=batch_size,
            )

        return decorate


foreach = ForEach()
"""``@foreach("question,answer", dataset)`` with doteval's default options."""
