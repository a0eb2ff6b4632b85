"""The README's first command: the bundled example runs with no API key or server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import doteval


def test_the_bundled_example_prints_its_summary_and_stores_the_run(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "doteval.examples.arithmetic"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    # Run with -m, the evaluation is stored under its module's name, not "__main__".
    assert "doteval.examples.arithmetic.eval_arithmetic: 200 items, 0 errors" in completed.stdout
    assert "numeric_match.accuracy = 0.935" in completed.stdout  # FakeModel is deterministic
    [experiment] = doteval.experiments(storage=f"sqlite://{tmp_path / '.doteval/doteval.db'}")
    [evaluation] = experiment.evaluations
    assert evaluation.name == "doteval.examples.arithmetic.eval_arithmetic"
