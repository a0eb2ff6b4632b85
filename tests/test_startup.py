"""Start-up: ``import doteval`` loads only what a program uses, and the lazily exported
names behave as if they had been imported at once."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

from test_public_api import PUBLIC_MODULES

DEFERRED = (
    "rich",
    "click",
    "jsonschema",
    "pytest",
    "stamina",
    "sqlite3",
    "importlib.metadata",
    "doteval._private.analysis",
    "doteval._private.stats",
    "doteval._private.storage",
    "doteval._private.progress",
    "doteval._private.datasets",
    "doteval._private.view",
    "doteval._private.cli",
    "doteval._private.pytest",
    "doteval._private.run",
)
"""Packages, and rooms of doteval, that ``import doteval`` must leave for later."""

LAZY_MODULES = ("doteval", "doteval.storage", "doteval.concurrency", "doteval.datasets")


def _fresh(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout


def _loaded_after(code: str) -> list[str]:
    return json.loads(_fresh(f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"))


@pytest.mark.parametrize("module", LAZY_MODULES)
def test_importing_a_public_module_defers_the_heavy_parts(module: str) -> None:
    loaded = _loaded_after(f"import {module}")
    early = [
        name
        for name in loaded
        for deferred in DEFERRED
        if name == deferred or name.startswith(deferred + ".")
    ]
    assert not early, f"import {module} loads {early}"


def test_a_name_is_listed_before_and_imported_when_first_used() -> None:
    code = (
        "import sys, doteval\n"
        "print('compare' in dir(doteval), 'compare' in vars(doteval),"
        " 'doteval._private.analysis.compare' in sys.modules)\n"
        "doteval.compare\n"
        "print('compare' in vars(doteval), 'doteval._private.analysis.compare' in sys.modules)"
    )
    assert _fresh(code).split() == ["True", "False", "False", "True", "True"]


def test_a_default_run_loads_neither_the_analysis_nor_distribution_metadata() -> None:
    loaded = _loaded_after(
        "import doteval\n"
        "from doteval.evaluators import exact_match\n"
        "@doteval.foreach('a', [1])\n"
        "async def eval_one(a):\n"
        "    return exact_match(a, a)\n"
        "assert doteval.run(eval_one, progress=False).counts.total == 1"
    )
    for deferred in (
        "importlib.metadata",
        "doteval._private.analysis.compare",
        "doteval._private.stats.power",
        "doteval._private.stats.paired",
        "doteval._private.stats.bootstrap",
        "doteval._private.stats.epochs",  # epochs=1 and the mean: nothing to group
        "doteval._private.results.epochs",
        "rich",
        "jsonschema",
    ):
        assert deferred not in loaded, f"a 1-item run imports {deferred}"


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_dir_lists_every_exported_name_and_each_resolves_to_its_source(module: str) -> None:
    public = importlib.import_module(module)
    assert set(public.__all__) <= set(dir(public))
    for name in public.__all__:
        exec(f"from {module} import {name} as imported", namespace := {})
        assert namespace["imported"] is getattr(public, name)


@pytest.mark.parametrize("module", LAZY_MODULES)
def test_a_lazy_module_exports_nothing_beyond_all(module: str) -> None:
    public = importlib.import_module(module)
    lazy = set(public._EXPORTS.sources)
    assert lazy <= set(public.__all__), f"{module} imports names it does not export"


@pytest.mark.parametrize("module", LAZY_MODULES)
def test_an_unknown_name_is_an_attribute_error_naming_it(module: str) -> None:
    public = importlib.import_module(module)
    with pytest.raises(AttributeError, match=f"module '{module}' has no attribute 'no_such'"):
        public.no_such  # noqa: B018
    with pytest.raises(ImportError, match="no_such"):
        exec(f"from {module} import no_such", {})


def test_a_lazily_loaded_module_names_its_public_home_for_every_name_it_exports() -> None:
    # compare() raises PairingError: once compare is used, a stored error or a traceback
    # says doteval.PairingError, though the program never named it.
    output = _fresh(
        "import doteval\n"
        "doteval.compare\n"
        "from doteval._private.analysis.compare import PairingError\n"
        "print(PairingError.__module__)"
    )
    assert output.split() == ["doteval"]


def test_a_name_re_exported_by_a_second_module_keeps_its_first_home() -> None:
    output = _fresh(
        "import doteval.storage\nprint(doteval.storage.Record.__module__, doteval.storage.load)"
    )
    assert output.split()[0] == "doteval"
