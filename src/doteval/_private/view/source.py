"""Everything the viewer reads from a store, shaped like the pages' needs.

This is the only module of the viewer that touches the store, and it uses only the
public ``doteval.storage`` API. Stores stream records by item id, so pages are cut by
keyset (``after`` an item id), never by offset: the page 250,000 items in costs what
the first page costs. The error filter is pushed into the store; the other filters
are applied here, over at most ``SCAN_LIMIT`` records a request, so a rare match
never makes one request read a whole million-item run (the page then says how far it
searched and links on). When stores gain native paged and filtered queries, only the
bodies of these functions change.
"""

from __future__ import annotations

import difflib
import json
import math
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs

import doteval
from doteval import Record
from doteval.storage import (
    RUNNING,
    EvaluationInfo,
    ExperimentInfo,
    Storage,
    StorageError,
    Store,
    UnknownNameError,
    open_storage,
)

SCAN_LIMIT = 20_000
"""Records one request examines at most for the filters the store cannot apply itself."""

LIVE_SUMMARY_LIMIT = 20_000
"""An evaluation without a stored summary (running, or killed) is totalled up from its
records only up to this many items; above it the page shows the counts alone."""


class NotFound(LookupError):
    """No such experiment, evaluation or item: the page answers 404 with this message."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class BadQuery(ValueError):
    """A query parameter the page cannot use: the page answers 400 with this message."""


# What the statistics give the pages ---------------------------------------------------


Estimates = Mapping[str, Mapping[str, doteval.Estimate | None]]
"""``[score][metric]`` -> estimate."""

Comparison = Mapping[str, Mapping[str, doteval.Difference]]
"""``[score][metric]`` -> paired comparison of run A against run B."""


def estimates(info: EvaluationInfo) -> Estimates | None:
    """The confidence intervals of the evaluation's metrics, as the store keeps them
    (``None`` for a run still going, or a store that keeps none)."""
    return info.estimates


def comparison(a: EvaluationInfo, b: EvaluationInfo, storage: Store) -> Comparison | None:
    """The paired comparison of two evaluations (``b - a``); ``None`` when they do not pair
    (different rows, or nothing scored by both)."""
    try:
        found = doteval.compare(
            doteval.load(a.experiment, a.name, storage=storage),
            doteval.load(b.experiment, b.name, storage=storage),
        )
    except doteval.PairingError:
        return None
    return found.differences or None


# Filters and pages ---------------------------------------------------------------------

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


def _value_matches(value: Any, wanted: str) -> bool:
    """Does a stored score value equal the text typed in a filter box?"""
    text = wanted.strip()
    if isinstance(value, bool):
        return text.lower() in (_TRUE if value else _FALSE)
    if isinstance(value, (int, float)):
        try:
            return float(text) == value
        except ValueError:
            return False
    if value is None:
        return text.lower() in ("", "none", "null")
    return str(value) == text


def searchable(record: Record) -> str:
    """The text a search looks in: the row, the prompt and the response, lower-cased."""
    row = record.row if isinstance(record.row, str) else json.dumps(record.row, default=repr)
    return "\n".join((row, record.prompt or "", record.model_response or "")).lower()


@attrs.frozen(repr=False)
class Filters:
    """What the item table shows; every field maps to one query parameter."""

    errors: bool = False
    retried: bool = False
    score: str | None = None
    value: str | None = None
    text: str | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> Filters:
        score = (query.get("score") or "").strip() or None
        value = query.get("value")
        if value is not None and value.strip() == "":
            value = None
        if value is not None and score is None:
            raise BadQuery(f"value={value!r} needs score=NAME too: which score should equal it?")
        return cls(
            errors=_flag(query, "errors"),
            retried=_flag(query, "retried"),
            score=score,
            value=value if score is not None else None,
            text=(query.get("q") or "").strip() or None,
        )

    def query(self) -> dict[str, str]:
        """The query parameters that give these filters back (for links)."""
        query: dict[str, str] = {}
        if self.errors:
            query["errors"] = "1"
        if self.retried:
            query["retried"] = "1"
        if self.score is not None and self.value is not None:
            query["score"], query["value"] = self.score, self.value
        if self.text:
            query["q"] = self.text
        return query

    @property
    def active(self) -> bool:
        return bool(self.query())

    @property
    def scans(self) -> bool:
        """Whether filtering happens here rather than in the store."""
        return self.retried or self.value is not None or bool(self.text)

    def matches(self, record: Record) -> bool:
        """The filters the store did not apply (it applies ``errors``)."""
        if self.errors and record.error is None:
            return False
        if self.retried and record.attempts <= 1:
            return False
        if self.score is not None and self.value is not None:
            values = [score.value for score in record.scores if score.name == self.score]
            if not values or not _value_matches(values[0], self.value):
                return False
        return not self.text or self.text.lower() in searchable(record)


def _flag(query: Mapping[str, str], name: str) -> bool:
    return (query.get(name) or "").strip().lower() in ("1", "true", "on", "yes")


@attrs.frozen(repr=False)
class Page:
    """A page of records and where the pages beside it start.

    ``next_after`` is the ``after=`` of the next page and ``previous_before`` the
    ``before=`` of the previous one (``None``: there is none). ``searched_to`` is set
    when the scan limit stopped the search before the page filled: the last item id
    examined, from which the next page searches on.
    """

    items: tuple[Record, ...]
    next_after: int | None
    previous_before: int | None = None
    searched_to: int | None = None


@attrs.frozen(repr=False)
class ItemView:
    record: Record
    previous: int | None
    next: int | None


@attrs.frozen(repr=False)
class Pair:
    """One item of two runs, and which run did better on it."""

    item_id: int
    a: Record
    b: Record
    better: str | None
    """``"a"``, ``"b"``, or ``None`` when they differ without an order (e.g. two strings)."""


@attrs.frozen(repr=False)
class PairPage:
    pairs: tuple[Pair, ...]
    next_after: int | None
    searched_to: int | None = None
    compared: int = 0
    """Items present in both runs that this page examined."""


def _rank(record: Record, score: str) -> float | str | None:
    """How good an item came out on ``score``: an error ranks below everything."""
    if record.error is not None:
        return -math.inf
    for found in record.scores:
        if found.name == score:
            value = found.value
            if isinstance(value, (bool, int, float)):
                return float(value)
            return None if value is None else json.dumps(value, sort_keys=True, default=repr)
    return None


def _better(a: Record, b: Record, score: str) -> tuple[bool, str | None]:
    """Whether the two records disagree on ``score``, and which one is better."""
    left, right = _rank(a, score), _rank(b, score)
    if left == right:
        return False, None
    if isinstance(left, float) and isinstance(right, float):
        return True, "a" if left > right else "b"
    return True, None


def _close(records: Iterator[Record]) -> None:
    close = getattr(records, "close", None)
    if close is not None:
        close()


# The source ------------------------------------------------------------------------------


@attrs.define(eq=False, repr=False)
class Source:
    """One store, opened once for the server's life (the jsonl store keeps its index)."""

    storage: Store
    _summaries: dict[tuple[Any, ...], doteval.EvaluationResult] = attrs.field(
        factory=dict, init=False
    )
    """Runs without a stored summary, totalled up from their records: once per state."""
    _comparisons: dict[tuple[Any, ...], Comparison | None] = attrs.field(factory=dict, init=False)
    """Comparisons read both runs' records: once per pair of stored states."""
    _lock: threading.Lock = attrs.field(factory=threading.Lock, init=False)

    @classmethod
    def open(cls, url: str | Storage | Store | None) -> Source:
        return cls(open_storage(url))

    @property
    def url(self) -> str:
        return self.storage.url

    def experiments(self) -> list[ExperimentInfo]:
        """Every experiment with its evaluations, newest first."""
        return self.storage.experiments()

    def experiment(self, name: str) -> ExperimentInfo:
        found = self.experiments()
        for info in found:
            if info.name == name:
                return info
        raise NotFound(
            f"there is no experiment {name!r} in {self.url}"
            + _closest(name, [info.name for info in found])
        )

    def evaluation(self, experiment: str, name: str) -> EvaluationInfo:
        info = self.experiment(experiment)
        for evaluation in info.evaluations:
            if evaluation.name == name:
                return evaluation
        raise NotFound(
            f"experiment {experiment!r} has no evaluation {name!r}"
            + _closest(name, [evaluation.name for evaluation in info.evaluations])
        )

    def history(self, evaluation: str) -> list[EvaluationInfo]:
        """The evaluation of that name in every experiment, oldest run first."""
        found = [
            info
            for experiment in self.experiments()
            for info in experiment.evaluations
            if info.name == evaluation
        ]
        if not found:
            raise NotFound(f"no experiment in {self.url} has an evaluation {evaluation!r}")
        return sorted(found, key=lambda info: (info.started_at or 0.0, info.experiment))

    def summary(self, info: EvaluationInfo) -> Mapping[str, Mapping[str, Any]] | None:
        """The stored summary, or one totalled up from the records of a run that has
        none yet (running or killed), unless that run is too big to total per request."""
        if info.summary is not None:
            return info.summary
        live = self._live(info)
        return None if live is None else live.summary

    def _live(self, info: EvaluationInfo) -> doteval.EvaluationResult | None:
        """The evaluation as its records total up now, unless too big to total per request."""
        total = info.counts.total if info.counts is not None else None
        if total is None or total > LIVE_SUMMARY_LIMIT:
            return None
        key = (info.experiment, info.name, info.status, info.counts)
        with self._lock:
            cached = self._summaries.get(key)
        if cached is None:
            try:
                cached = doteval.load(info.experiment, info.name, storage=self.storage)
            except (StorageError, UnknownNameError):
                return None
            with self._lock:
                self._summaries[key] = cached
        return cached

    def estimates(self, info: EvaluationInfo) -> Estimates | None:
        """The stored estimates; while shards run, those of the records stored so far (the
        shards' merged summary has no stored estimates until the last shard ends)."""
        found = estimates(info)
        if found is None and info.shards and info.summary is None:
            live = self._live(info)
            return None if live is None else live.estimates
        return found

    def comparison(self, a: EvaluationInfo, b: EvaluationInfo) -> Comparison | None:
        key = (a.experiment, a.name, a.counts, b.experiment, b.name, b.counts)
        with self._lock:
            if key in self._comparisons:
                return self._comparisons[key]
        found = comparison(a, b, self.storage)
        with self._lock:
            self._comparisons[key] = found
        return found

    def _records(
        self, info: EvaluationInfo, start: int, stop: int | None, errors: bool
    ) -> Iterator[Record]:
        return self.storage.records(
            info.experiment, info.name, start=start, stop=stop, errors_only=errors
        )

    def page(
        self,
        experiment: str,
        evaluation: str,
        *,
        after: int | None = None,
        before: int | None = None,
        limit: int = 50,
        filters: Filters = Filters(),
    ) -> Page:
        """Up to ``limit`` records matching ``filters`` with item ids above ``after``
        (or, given ``before``, the last ``limit`` ones below it), by item id."""
        info = self.evaluation(experiment, evaluation)
        if before is not None:
            return self._backward(info, before, limit, filters)
        start = 0 if after is None else after + 1
        found: list[Record] = []
        scanned, last, cut = 0, None, False
        records = self._records(info, start, None, filters.errors)
        try:
            for record in records:
                scanned, last = scanned + 1, record.item_id
                if filters.matches(record):
                    found.append(record)
                    if len(found) > limit:
                        break
                if scanned >= SCAN_LIMIT:
                    cut = True
                    break
        finally:
            _close(records)
        items = tuple(found[:limit])
        more = len(found) > limit
        if more:
            next_after: int | None = items[-1].item_id
        else:
            next_after = last if cut else None
        previous = None if start == 0 else (items[0].item_id if items else start)
        return Page(items, next_after, previous, last if cut and not more else None)

    def _backward(self, info: EvaluationInfo, before: int, limit: int, filters: Filters) -> Page:
        """The last ``limit`` matches below ``before``: windows read right to left,
        doubling in width (the stores stream in ascending order only)."""
        found: list[Record] = []
        stop, width, scanned = before, max(limit, 64), 0
        while stop > 0 and len(found) <= limit and scanned < SCAN_LIMIT:
            start = max(0, stop - width)
            window: list[Record] = []
            records = self._records(info, start, stop, filters.errors)
            try:
                for record in records:
                    scanned += 1
                    if filters.matches(record):
                        window.append(record)
            finally:
                _close(records)
            found[:0] = window
            stop, width = start, min(width * 2, SCAN_LIMIT)
        items = tuple(found[-limit:]) if limit else ()
        if len(found) > limit and items:
            previous: int | None = items[0].item_id
        else:
            previous = stop if stop > 0 else None
        next_after = items[-1].item_id if items else before - 1
        return Page(items, next_after, previous)

    def item(
        self,
        experiment: str,
        evaluation: str,
        item_id: int,
        filters: Filters = Filters(),
    ) -> ItemView:
        """One record, and the item ids before and after it among those ``filters`` keep."""
        info = self.evaluation(experiment, evaluation)
        records = self._records(info, item_id, item_id + 1, False)
        try:
            record = next(records, None)
        finally:
            _close(records)
        if record is None or record.item_id != item_id:
            raise NotFound(f"{evaluation} of experiment {experiment!r} has no item {item_id}")
        after = self.page(experiment, evaluation, after=item_id, limit=1, filters=filters)
        before = self.page(experiment, evaluation, before=item_id, limit=1, filters=filters)
        return ItemView(
            record,
            before.items[0].item_id if before.items else None,
            after.items[0].item_id if after.items else None,
        )

    def disagreements(
        self,
        a: EvaluationInfo,
        b: EvaluationInfo,
        *,
        score: str,
        after: int | None = None,
        limit: int = 50,
        better: str | None = None,
    ) -> PairPage:
        """The items of both runs on which they disagree on ``score``, by item id:
        a merge-join of the two record streams, so neither run is held in memory.
        ``better="a"`` keeps the items A did better on ("A right, B wrong"), ``"b"``
        the reverse."""
        start = 0 if after is None else after + 1
        left = self._records(a, start, None, False)
        right = self._records(b, start, None, False)
        pairs: list[Pair] = []
        compared, last, cut = 0, None, False
        try:
            x, y = next(left, None), next(right, None)
            while x is not None and y is not None:
                if x.item_id < y.item_id:
                    x = next(left, None)
                    continue
                if y.item_id < x.item_id:
                    y = next(right, None)
                    continue
                compared, last = compared + 1, x.item_id
                differ, winner = _better(x, y, score)
                if differ and (better is None or winner == better):
                    pairs.append(Pair(x.item_id, x, y, winner))
                    if len(pairs) > limit:
                        break
                if compared >= SCAN_LIMIT:
                    cut = True
                    break
                x, y = next(left, None), next(right, None)
        finally:
            _close(left)
            _close(right)
        shown = tuple(pairs[:limit])
        more = len(pairs) > limit
        next_after = shown[-1].item_id if more else (last if cut else None)
        return PairPage(shown, next_after, last if cut and not more else None, compared)


def _closest(name: str, names: Sequence[str]) -> str:
    near = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    return f"; did you mean {', '.join(map(repr, near))}?" if near else ""


def wall_time(info: EvaluationInfo) -> float | None:
    """Seconds the evaluation ran (so far, while it is running)."""
    if info.started_at is None:
        return None
    end = info.ended_at or (time.time() if info.status == RUNNING else None)
    return None if end is None else max(0.0, end - info.started_at)


def score_names(info: EvaluationInfo, summary: Mapping[str, Any] | None) -> list[str]:
    """The evaluation's score names, as its summary lists them."""
    return list((summary or info.summary or {}).keys())
