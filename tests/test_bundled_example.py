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
    assert (
        "doteval.examples.arithmetic.eval_arithmetic: accuracy 0.935 over 200 items"  # FakeModel
        in completed.stdout  # is deterministic
    )
    [experiment] = doteval.experiments(storage=f"sqlite://{tmp_path / '.doteval/doteval.db'}")
    # It says how to look at the results, and the commands it names work.
    assert f"doteval show {experiment.name} --full" in completed.stdout
    assert "doteval view" in completed.stdout
    shown = subprocess.run(
        [str(Path(sys.executable).with_name("doteval")), "show", experiment.name, "--full"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "What is" in shown.stdout  # the items' rows
    [evaluation] = experiment.evaluations
    assert evaluation.name == "doteval.examples.arithmetic.eval_arithmetic"
