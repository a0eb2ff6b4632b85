"""Every benchmark still runs: ``python -m benchmarks`` at a hundredth of its items.

A benchmark is code that no other test runs, so a change elsewhere can break it unseen
(postgres-batch once failed on every run for two days). At ``DOTEVAL_BENCH_SCALE=0.01``
the numbers mean nothing and targets may be missed; what is checked is that every
benchmark measures its rows without breaking.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FULL_SIZE_ONLY = {"adaptive"}
"""Benchmarks whose own checks need their full size: the adaptive window settles on the
server's limit only over a couple of thousand requests."""


def benchmarks(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m benchmarks ARGS`` from the checkout, at a hundredth of the items."""
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", *args],
        cwd=ROOT,
        env={**os.environ, "DOTEVAL_BENCH_SCALE": "0.01"},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def test_every_benchmark_measures_its_rows_at_a_small_scale() -> None:
    names = [name for name in benchmarks("--list").stdout.split() if name not in FULL_SIZE_ONLY]
    assert "postgres-batch" in names
    done = benchmarks("--repeats", "1", "--only", ",".join(names))
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    assert re.fullmatch(r"\d+ passed, \d+ failed in \d+ s", summary), done.stdout + done.stderr
    measured = set(re.findall(r"^measured: ([\w-]+) \|", done.stderr, re.MULTILINE))
    assert measured == set(names), f"no rows from {sorted(set(names) - measured)}\n{done.stderr}"
