"""``doteval check``: verify a store against itself, and repair its totals from its records.

A store keeps totals (counts, and the snapshot a resumed run continues from) beside
the records they count. Checking reads every record back and compares; it changes
nothing. Repairing recomputes the totals of an evaluation from the records that are
intact and marks it ``partial``, so running it again finishes the missing items.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from doteval._private.errors import DotevalError
from doteval._private.protocols import provides
from doteval._private.results.aggregate import Aggregator
from doteval._private.storage.lease import Lease, activate, deactivate
from doteval._private.storage.policy import Store
from doteval._private.storage.protocol import EvaluationInfo, IntegrityCheck, Storage
from doteval._private.storage.registry import open_storage
from doteval._private.storage.status import PARTIAL


@attrs.frozen
class Finding:
    """What checking one part of a store found; ``problems`` is empty when it is sound."""

    where: str
    problems: tuple[str, ...] = ()
    repaired: bool = False

    @property
    def sound(self) -> bool:
        return not self.problems


def _read_back(store: Store, info: EvaluationInfo) -> tuple[Aggregator, Aggregator, str | None]:
    """Every record that reads: all of them, the successes alone (what a resume seeds
    from), and why reading stopped early, if it did."""
    everything, successes = Aggregator(), Aggregator(defer_custom=True)
    try:
        for record in store.records(info.experiment, info.name):
            everything.tally.add(record)
            if record.error is None:
                successes.add(record)
    except DotevalError as exc:
        return everything, successes, str(exc)
    return everything, successes, None


def _check_evaluation(store: Store, info: EvaluationInfo, repair: bool) -> Finding:
    where = f"{info.experiment} / {info.name}"
    everything, successes, broken = _read_back(store, info)
    problems = [] if broken is None else [f"reading its records failed: {broken}"]
    read = everything.counts
    counted = info.counts
    if counted is not None and (counted.total, counted.errors) != (read.total, read.errors):
        problems.append(
            f"its totals count {counted.total:,} records ({counted.errors:,} errors) but "
            f"{read.total:,} ({read.errors:,} errors) can be read"
        )
    if not problems or not repair:
        return Finding(where, tuple(problems))
    _repair(store, info, everything, successes)
    return Finding(where, tuple(problems), repaired=True)


def _repair(
    store: Store, info: EvaluationInfo, everything: Aggregator, successes: Aggregator
) -> None:
    """Store the totals of what reads, as a run would, and mark the evaluation partial."""
    lease = Lease.mine()
    activate(lease)
    try:
        store.begin(info.experiment, info.name, lease, dict(info.metadata))
        writer = store.writer(info.experiment, info.name, lease)
        try:
            writer.write([], everything.counts, successes.snapshot() if writer.keeps_seed else None)
            writer.finish(PARTIAL, everything.counts, None)
        finally:
            writer.close()
    finally:
        deactivate(lease)


def check(
    storage: str | Storage | Store | None = None,
    experiments: Iterable[str] = (),
    *,
    repair: bool = False,
) -> list[Finding]:
    """Check the store's files and every evaluation (or those of ``experiments``); with
    ``repair``, recompute damaged evaluations' totals from their intact records."""
    store = open_storage(storage)
    findings: list[Finding] = []
    if provides(store.backend, IntegrityCheck):
        findings.append(Finding(store.url, tuple(store.backend.integrity())))
    wanted = list(experiments)
    chosen = [store.experiment(name) for name in wanted] if wanted else store.experiments()
    for experiment in chosen:
        for info in experiment.evaluations:
            findings.append(_check_evaluation(store, info, repair))
    return findings
