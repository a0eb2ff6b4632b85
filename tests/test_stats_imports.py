"""The statistics layer must not pull numpy or scipy into ``import doteval``."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["doteval", "doteval._private.stats"])
def test_import_loads_neither_numpy_nor_scipy(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "heavy = sorted(m for m in ('numpy', 'scipy', 'statsmodels') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_computing_with_the_stats_layer_loads_neither() -> None:
    code = (
        "import sys\n"
        "from doteval._private import stats as s\n"
        "s.wilson_interval(3, 10); s.t_isf(0.025, 9); s.chi2_isf(0.05, 3)\n"
        "s.clopper_pearson_interval(3, 10); s.paired_difference([0, 1, 1], [1, 1, 0])\n"
        "s.bootstrap_estimate([0.1, 0.5, 0.9]); s.mde_paired(100, 0.5)\n"
        "print(','.join(m for m in ('numpy', 'scipy') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
