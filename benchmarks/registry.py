"""What a benchmark is: a registered function that yields one row per measured case."""

from __future__ import annotations

import importlib
import math
import os
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass

BACKENDS = ("asyncio", "trio")

SCALE = float(os.environ.get("DOTEVAL_BENCH_SCALE", "1"))
"""The share of its items every benchmark runs (``DOTEVAL_BENCH_SCALE``, default 1). Below
1 the numbers mean nothing: it only checks that every benchmark still runs
(``tests/test_benchmarks_run.py``). The environment carries it into the benchmarks' own
processes."""


def scaled(count: int) -> int:
    """``count`` items at :data:`SCALE`, at least one."""
    return max(1, round(count * SCALE))


@dataclass(frozen=True)
class Settings:
    """How hard to measure; every benchmark reads the same settings."""

    quick: bool = False
    repeats: int = 5
    backends: tuple[str, ...] = BACKENDS


@dataclass(frozen=True)
class Target:
    """A pass/fail bound on a row: on the doteval/bare ratio, or on doteval's own number."""

    bound: float
    on_ratio: bool
    at_most: bool
    strict: bool = False

    def describe(self, unit: str) -> str:
        sign = ("<" if self.strict else "≤") if self.at_most else (">" if self.strict else "≥")
        return f"ratio {sign} {self.bound:g}" if self.on_ratio else f"{sign} {self.bound:g} {unit}"

    def met_by(self, value: float) -> bool:
        if self.at_most:
            return value < self.bound if self.strict else value <= self.bound
        return value > self.bound if self.strict else value >= self.bound


def ratio_at_least(bound: float) -> Target:
    return Target(bound, on_ratio=True, at_most=False)


def ratio_at_most(bound: float) -> Target:
    return Target(bound, on_ratio=True, at_most=True)


def below(bound: float) -> Target:
    return Target(bound, on_ratio=False, at_most=True, strict=True)


@dataclass(frozen=True)
class Row:
    """One benchmark case on one backend: doteval's number beside its baseline's.

    The baseline is measured in the same process and run; by default it is the bare
    anyio worker pool of :mod:`benchmarks.baseline`.
    """

    benchmark: str
    case: str
    backend: str
    window: int
    unit: str
    doteval: float
    bare: float
    target: Target
    baseline: str = "bare anyio"

    @property
    def ratio(self) -> float:
        """doteval's number over the bare one; NaN where a target bounds doteval's own
        number (a memory growth next to a near-zero bare growth is no useful ratio)."""
        if not self.target.on_ratio or not self.bare:
            return math.nan
        return self.doteval / self.bare

    @property
    def passed(self) -> bool:
        return self.target.met_by(self.ratio if self.target.on_ratio else self.doteval)


Benchmark = Callable[[Settings], Iterable[Row]]


@dataclass(frozen=True)
class Entry:
    name: str
    run: Benchmark
    order: int


REGISTRY: dict[str, Entry] = {}


def benchmark(name: str, *, order: int = 100) -> Callable[[Benchmark], Benchmark]:
    """Register a benchmark under ``name`` (for ``--only``); lower ``order`` runs first."""

    def register(run: Benchmark) -> Benchmark:
        if name in REGISTRY:
            raise ValueError(f"two benchmarks are named {name!r}")
        REGISTRY[name] = Entry(name, run, order)
        return run

    return register


def discover() -> list[Entry]:
    """Import every module of this package, so a new module registers itself."""
    package = importlib.import_module(__package__ or "benchmarks")
    for module in pkgutil.iter_modules(package.__path__):
        if not module.name.startswith("__"):
            importlib.import_module(f"{package.__name__}.{module.name}")
    return sorted(REGISTRY.values(), key=lambda entry: (entry.order, entry.name))
