"""The public API's types hold: ``tests/typing/api.py`` passes ``mypy --strict``.

That file marks each call the types must reject with a ``# type: ignore[...]``;
``--strict`` fails on an ignore that is not needed, so a rejected call that
starts to type-check fails this test too.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def test_the_public_api_type_checks_as_documented(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--cache-dir",
            str(tmp_path / "mypy-cache"),
            str(ROOT / "tests" / "typing" / "api.py"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
