"""The outcome of one item, and of one whole run."""

from __future__ import annotations

import traceback
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from doteval._private.scoring.score import Score
from doteval._private.stats.estimate import Estimate
from doteval._private.text import safe_str

if TYPE_CHECKING:
    from doteval._private.stats.epochs import EpochEstimate


@attrs.frozen
class ErrorInfo:
    """Why an item produced no scores; kept as text so it survives storage."""

    type: str
    message: str
    traceback: str

    @classmethod
    def from_exception(cls, exc: BaseException) -> ErrorInfo:
        kind = type(exc)
        qualname = (
            kind.__qualname__
            if kind.__module__ == "builtins"
            else f"{kind.__module__}.{kind.__qualname__}"
        )
        text = "".join(traceback.format_exception(kind, exc, exc.__traceback__))
        return cls(qualname, safe_str(exc), text)


@attrs.frozen
class Record:
    """Everything doteval knows about one item after it ran."""

    item_id: int
    row: Any
    scores: tuple[Score, ...] = ()
    prompt: str | None = None
    model_response: str | None = None
    error: ErrorInfo | None = None
    attempts: int = 0
    duration: float = 0.0
    timestamp: float = 0.0
    epoch: int = 0
    """Which run of the item this is (``epochs=K`` runs every item K times)."""


@attrs.frozen
class Counts:
    """How many items ran, failed and needed retries."""

    total: int
    errors: int
    attempts: int
    retried: int

    @property
    def succeeded(self) -> int:
        return self.total - self.errors


@attrs.frozen
class EvaluationResult:
    """What a run returns; ``summary`` is ``{score_name: {metric_name: value}}``.

    ``counts.total`` and ``counts.errors`` describe the whole evaluation (what a resumed
    run found stored too), ``counts.attempts`` and ``counts.retried`` this run's calls.

    ``experiment`` and ``storage`` (its URL, any password masked) say where the run
    is stored, so code can resume or load it: ``experiment=result.experiment``.
    """

    evaluation: str
    summary: Mapping[str, Mapping[str, Any]]
    counts: Counts
    records: Iterable[Record] = attrs.field(repr=False)
    wall_time: float
    started_at: float
    experiment: str | None = None
    storage: str | None = None
    estimates: Mapping[str, Mapping[str, Estimate | None]] = attrs.field(factory=dict, repr=False)
    """Beside ``summary``: each metric's value with its standard error and confidence
    interval (``None`` for a metric that has none)."""
    epochs: int = 1
    """How many times each item ran; ``records`` and ``counts`` count item-epochs."""
    variance: Mapping[str, EpochEstimate] = attrs.field(factory=dict, repr=False)
    """With ``epochs=K``: per score, its variance within items (across epochs) and between
    them, which says whether more epochs would narrow the interval."""
    status: str = "completed"
    """How the run ended, as stored: ``completed``, ``partial`` (``samples=`` stopped it
    before the dataset ended) or ``failed`` (every item errored, or ``stop_after_errors``
    stopped it)."""
    stopped: str | None = None
    """Why the run stopped itself before the end of its dataset (``stop_after_errors``)."""

    @property
    def errors(self) -> list[Record]:
        """The records of items that failed, in item order."""
        return [record for record in self.records if record.error is not None]
