"""The rules every store follows, kept above the backends: names, leases, statuses, messages.

:class:`Store` wraps a backend (a plain store, see
:mod:`~doteval._private.storage.protocol`) and is what the rest of doteval
uses. Each rule and each of its error messages exists once, here.
"""

from __future__ import annotations

import itertools
from collections.abc import Generator, Mapping
from typing import Any

import attrs

from doteval._private.errors import (
    EvaluationBusyError,
    ExperimentExistsError,
    StorageError,
    UnknownNameError,
)
from doteval._private.protocols import provides
from doteval._private.results.records import Counts, Record
from doteval._private.storage.estimates_json import Estimates
from doteval._private.storage.lease import Lease, is_stale
from doteval._private.storage.merge import merged
from doteval._private.storage.naming import (
    check_evaluation_name,
    check_experiment_name,
    closest,
    dotted,
)
from doteval._private.storage.protocol import (
    Admit,
    EvaluationInfo,
    EvaluationLookup,
    ExperimentInfo,
    PagedRecords,
    RecordCount,
    ShardedRuns,
    Storage,
    StoredItem,
    StoredState,
    Writer,
)
from doteval._private.storage.row_hash import CURRENT, LEGACY, METADATA_KEY
from doteval._private.storage.shard import Shard
from doteval._private.storage.status import INTERRUPTED, effective_status
from doteval._private.storage.urls import mask_url


def check_free(
    holder: Lease | None, experiment: str, evaluation: str, shard: Shard | None = None
) -> None:
    """Refuse to run ``shard`` of an evaluation (``None``: all of it) while a live run holds
    an overlapping share (a stale holder is taken over)."""
    if holder is None or is_stale(holder):
        return
    if shard is not None and holder.shard is not None and not shard.overlaps(holder.shard):
        return  # the shards of one count run side by side
    held = evaluation if holder.shard is None else f"shard {holder.shard} of {evaluation}"
    if holder.shard is not None and shard is None:
        why = (
            "a run of the whole evaluation would redo its items; wait for the shards to "
            "finish, or run the missing shards with shard="
        )
    elif holder.shard is not None and shard is not None and shard != holder.shard:
        why = (
            f"shard {shard} would redo some of its items; run shards of one count side by "
            f"side (0/{holder.shard.count} to {holder.shard.count - 1}/{holder.shard.count}), "
            f"or wait for it to finish"
        )
    else:
        why = (
            "wait for that run to finish, stop it, or pass another experiment= to run it separately"
        )
    raise EvaluationBusyError(
        f"{held} in experiment {experiment!r} is already being run by {holder.describe()}; {why}"
    )


def verify_holder(
    stored: Lease | None, mine: Lease, experiment: str, evaluation: str, *, exists: bool = True
) -> None:
    """Raise unless the lease stored for the evaluation is still ``mine``.

    Backends call it in the transaction of every write, so a run whose lease was
    taken over never writes another record.
    """
    if stored is not None and stored.token == mine.token:
        return
    if not exists:
        why = "deleted"
    elif stored is None:
        why = "released"
    else:
        why = f"taken over by {stored.describe()}"
    raise StorageError(
        f"{evaluation} in experiment {experiment!r} was {why} while this run held it; "
        f"this run stops so that the two do not overwrite each other"
    )


@attrs.frozen(repr=False)
class _Began:
    """A backend's stored state, with the status it had as doteval reads it and the
    scheme its rows are hashed with."""

    previous: str | None
    state: StoredState
    row_hash: str

    @property
    def extent(self) -> int:
        return self.state.extent

    @property
    def seed(self) -> Mapping[str, Any] | None:
        return self.state.seed

    def fetch(self, start: int, stop: int | None, count: int) -> list[StoredItem]:
        return list(self.state.fetch(start, stop, count))


@attrs.define(eq=False)
class Store:
    """A backend under doteval's rules; what ``open_storage`` returns."""

    backend: Storage

    @property
    def url(self) -> str:
        """The backend's URL with any password masked."""
        return mask_url(self.backend.url)

    def __repr__(self) -> str:
        return f"<doteval store {self.url}>"

    # Reading ------------------------------------------------------------------

    def experiments(self) -> list[ExperimentInfo]:
        """Every experiment with its evaluations, newest first; a run whose holder is gone
        reads ``interrupted``, and an evaluation run in shards has the status of them all
        (see :mod:`~doteval._private.storage.merge`)."""
        return [
            attrs.evolve(
                experiment, evaluations=tuple(merged(info) for info in experiment.evaluations)
            )
            for experiment in self.backend.experiments()
        ]

    def experiment(self, name: str) -> ExperimentInfo:
        """The experiment called ``name``; an unknown name lists the closest ones."""
        check_experiment_name(name)
        found = self.experiments()
        for info in found:
            if info.name == name:
                return info
        raise self._unknown(name, [info.name for info in found])

    def _unknown(self, name: str, names: list[str] | None = None) -> UnknownNameError:
        if names is None:
            names = [info.name for info in self.backend.experiments()]
        return UnknownNameError(
            f"no experiment {name!r} in {self.url}; {closest(name, names, 'experiment')}"
        )

    def records(
        self,
        experiment: str,
        evaluation: str,
        *,
        start: int = 0,
        stop: int | None = None,
        errors_only: bool = False,
        successes_only: bool = False,
    ) -> Generator[Record, None, None]:
        """The effective record of every stored item in ``[start, stop)``, by item id."""
        check_experiment_name(experiment)
        records = self.backend.records(
            experiment,
            evaluation,
            start=start,
            stop=stop,
            errors_only=errors_only,
            successes_only=successes_only,
        )
        try:
            yield from records
        except UnknownNameError:
            raise self._missing(experiment, evaluation) from None
        finally:
            close = getattr(records, "close", None)
            if close is not None:
                close()

    def page(
        self,
        experiment: str,
        evaluation: str,
        *,
        after: int | None = None,
        limit: int = 50,
        errors_only: bool = False,
    ) -> list[Record]:
        """Up to ``limit`` records with ids above ``after``: a keyset page, never an offset."""
        if provides(self.backend, PagedRecords):
            return self.backend.page(
                experiment, evaluation, after=after, limit=limit, errors_only=errors_only
            )
        start = 0 if after is None else after + 1
        records = self.records(experiment, evaluation, start=start, errors_only=errors_only)
        try:
            return list(itertools.islice(records, limit))
        finally:
            records.close()

    def evaluation(self, experiment: str, name: str) -> EvaluationInfo | None:
        """The stored evaluation, or ``None``; its status as stored."""
        if provides(self.backend, EvaluationLookup):
            return self.backend.evaluation(experiment, name)
        for info in self.backend.experiments():
            if info.name == experiment:
                return next((found for found in info.evaluations if found.name == name), None)
        return None

    @property
    def counts_cheaply(self) -> bool:
        """Whether :meth:`count` asks the backend rather than reading every record."""
        return provides(self.backend, RecordCount)

    def count(self, experiment: str, evaluation: str) -> int:
        """How many records the evaluation holds."""
        if provides(self.backend, RecordCount):
            return self.backend.count(experiment, evaluation)
        return sum(1 for _ in self.records(experiment, evaluation))

    def _missing(self, experiment: str, evaluation: str) -> UnknownNameError:
        for info in self.backend.experiments():
            if info.name == experiment:
                names = [found.name for found in info.evaluations]
                return UnknownNameError(
                    f"experiment {experiment!r} has no evaluation {evaluation!r}; "
                    f"{closest(evaluation, names, 'evaluation')}"
                )
        return self._unknown(experiment)

    # Running ------------------------------------------------------------------

    def begin(
        self,
        experiment: str,
        evaluation: str,
        lease: Lease,
        metadata: Mapping[str, Any],
    ) -> _Began:
        """Take the evaluation's lease, or its shard's (``EvaluationBusyError`` if a live
        run holds an overlapping share), creating the experiment and evaluation if needed,
        and mark it running."""
        check_experiment_name(experiment)
        check_evaluation_name(evaluation)
        if lease.shard is not None and not provides(self.backend, ShardedRuns):
            raise StorageError(
                f"{self.url} cannot run an evaluation in shards: its backend keeps one "
                f"lease per evaluation (it lacks the ShardedRuns capability of "
                f"doteval.storage); use a sqlite://, jsonl://, postgresql:// or memory:// "
                f"store, or run without shard="
            )
        existing = self.evaluation(experiment, evaluation)
        # An evaluation keeps the row-hash scheme it was first stored with.
        scheme = CURRENT if existing is None else existing.metadata.get(METADATA_KEY, LEGACY)
        metadata = {**metadata, METADATA_KEY: scheme}
        seen: list[Lease | None] = []

        def admit(name: str, holder: Lease | None) -> None:
            check_free(holder, experiment, name, lease.shard)
            if holder is not None and holder.shard == lease.shard:
                seen.append(holder)  # the previous holder of what this run takes

        state = self.backend.begin(experiment, evaluation, lease, metadata, admit)
        previous = state.previous
        if previous is not None:
            previous = effective_status(previous, seen[-1] if seen else None)
        return _Began(previous, state, scheme)

    def writer(self, experiment: str, evaluation: str, lease: Lease) -> Writer:
        check_experiment_name(experiment)
        try:
            return self.backend.writer(experiment, evaluation, lease)
        except UnknownNameError:
            raise self._missing(experiment, evaluation) from None

    def release(self, experiment: str, evaluation: str, lease: Lease, status: str) -> None:
        """Give the lease back without writing; ``status`` is what the evaluation was."""
        check_experiment_name(experiment)
        self.backend.release(experiment, evaluation, lease, status or INTERRUPTED)

    def settle(
        self,
        experiment: str,
        evaluation: str,
        status: str,
        counts: Counts,
        summary: Mapping[str, Mapping[str, Any]],
        estimates: Estimates,
    ) -> bool:
        """Store the totals over every shard of an evaluation whose shards all ended, if the
        store holds exactly the records they count; whether it did (not while a run holds
        any part of it, nor on a backend without shards)."""
        if not provides(self.backend, ShardedRuns):
            return False

        def admit(name: str, holder: Lease | None) -> None:
            check_free(holder, experiment, name)

        try:
            return self.backend.settle(
                experiment, evaluation, status, counts, summary, estimates, admit
            )
        except EvaluationBusyError:  # a run began meanwhile: it settles when it ends
            return False

    # Managing -----------------------------------------------------------------

    def _refuse_running(self, experiment: str) -> Admit:
        def admit(evaluation: str, holder: Lease | None) -> None:
            check_free(holder, experiment, evaluation)

        return admit

    def rename(self, old: str, new: str) -> None:
        """Rename experiment ``old`` to ``new``; refused while one of its evaluations runs."""
        check_experiment_name(old)
        check_experiment_name(new)
        try:
            self.backend.rename(old, new, self._refuse_running(old))
        except ExperimentExistsError:
            raise ExperimentExistsError(
                f"cannot rename {old!r} to {new!r}: an experiment of that name exists; "
                f"delete it first or choose another name"
            ) from None
        except UnknownNameError:
            raise self._unknown(old) from None

    def delete(self, experiment: str) -> None:
        """Delete ``experiment``; refused while one of its evaluations runs."""
        check_experiment_name(experiment)
        try:
            self.backend.delete(experiment, self._refuse_running(experiment))
        except UnknownNameError:
            raise self._unknown(experiment) from None


def find_evaluation(info: ExperimentInfo, evaluation: str | None) -> EvaluationInfo:
    """The evaluation of ``info`` named ``evaluation`` (a short name will do when unambiguous;
    ``None`` when the experiment has just one)."""
    names = [found.name for found in info.evaluations]
    if evaluation is None:
        if len(info.evaluations) == 1:
            return info.evaluations[0]
        if not info.evaluations:
            raise UnknownNameError(f"experiment {info.name!r} has no evaluations yet")
        raise UnknownNameError(
            f"experiment {info.name!r} has {len(names)} evaluations; pass "
            f"evaluation= one of {', '.join(map(repr, names))}"
        )
    for found in info.evaluations:
        if found.name == evaluation:
            return found
    # A pytest node id finds the module-qualified name and the other way round; a short
    # name ("eval_math") finds "pkg.module.eval_math"; either when it is unambiguous.
    wanted = dotted(evaluation)
    forms = [dotted(name) for name in names]
    same = [index for index, form in enumerate(forms) if form == wanted]
    ends = [
        index
        for index, form in enumerate(forms)
        if form.endswith("." + wanted) or wanted.endswith("." + form)
    ]
    for found_at in (same, ends):
        if len(found_at) == 1:
            return info.evaluations[found_at[0]]
    raise UnknownNameError(
        f"experiment {info.name!r} has no evaluation {evaluation!r}; "
        f"{closest(evaluation, names, 'evaluation')}"
    )
