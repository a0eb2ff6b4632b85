"""The plain-text table the benchmark command prints."""

from __future__ import annotations

import math
from collections.abc import Sequence

from benchmarks.registry import Row

HEADER = (
    "benchmark",
    "case",
    "backend",
    "window",
    "measure",
    "doteval",
    "baseline",
    "baseline is",
    "ratio",
    "target",
    "result",
)
NUMERIC = {"window", "doteval", "baseline", "ratio"}


def number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def cells(row: Row) -> tuple[str, ...]:
    return (
        row.benchmark,
        row.case,
        row.backend,
        f"{row.window:,}",
        row.unit,
        number(row.doteval),
        number(row.bare),
        row.baseline,
        "-" if math.isnan(row.ratio) else f"{row.ratio:.2f}",
        row.target.describe(row.unit.split()[-1]),
        "PASS" if row.passed else "FAIL",
    )


def render(rows: Sequence[Row]) -> str:
    lines = [HEADER, *map(cells, rows)]
    widths = [max(len(line[column]) for line in lines) for column in range(len(HEADER))]

    def join(line: tuple[str, ...]) -> str:
        return "  ".join(
            text.rjust(width) if name in NUMERIC else text.ljust(width)
            for name, text, width in zip(HEADER, line, widths, strict=True)
        ).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([join(HEADER), rule, *map(join, lines[1:])])
