"""Evaluators and metrics that installed packages provide through entry points."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import doteval.evaluators
import doteval.metrics
from doteval import Score, foreach
from doteval.metrics import Metric
from plugin_packages import write_plugin

TOY_EVALUATORS = """
from doteval.evaluators import evaluator
from doteval.metrics import metric


@metric
def hits(values):
    "How many items scored true."
    return sum(map(bool, values))


@evaluator(metrics=hits)
def shout_match(result, expected):
    "Equal once upper-cased: loud answers count."
    return result.upper() == expected.upper()


NOT_CALLABLE = 42
"""


def install(site: Path, suffix: str, monkeypatch: pytest.MonkeyPatch | None = None) -> Path:
    """The toy package, with names ending in ``suffix`` so that tests do not share them."""
    module = f"toy_evaluators_{suffix}"
    write_plugin(
        site,
        f"doteval-toy-{suffix}",
        {f"{module}.py": TOY_EVALUATORS},
        {
            "doteval.evaluators": {
                f"shout_match_{suffix}": f"{module}:shout_match",
                f"broken_{suffix}": f"{module}:NOT_CALLABLE",
            },
            "doteval.metrics": {f"hits_{suffix}": f"{module}:hits"},
        },
    )
    if monkeypatch is not None:
        monkeypatch.syspath_prepend(str(site))
    return site


async def test_a_plugin_evaluator_and_metric_in_a_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(tmp_path / "site", "run", monkeypatch)
    from doteval.evaluators import shout_match_run  # type: ignore[attr-defined]

    assert doteval.evaluators.get("shout_match_run") is shout_match_run
    hits = doteval.metrics.get("hits_run")
    assert isinstance(hits, Metric)
    assert doteval.metrics.hits_run is hits  # type: ignore[attr-defined]

    @foreach("result,expected", [("paris", "Paris"), ("lyon", "Paris"), ("rome", "ROME")])
    async def eval_loud(result: str, expected: str) -> Score:
        return shout_match_run(result, expected)

    outcome = await eval_loud(progress=False)
    assert outcome.summary == {"shout_match": {"hits": 2}}
    assert [record.scores[0].value for record in outcome.records] == [True, False, True]


async def test_metrics_by_name_take_plugin_metrics_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(tmp_path / "site", "named", monkeypatch)

    @doteval.evaluators.evaluator(metrics=["hits_named", "accuracy"])
    def loud(result: str) -> bool:
        return result.isupper()

    @foreach("result", ["YES", "no", "OK"])
    async def eval_named(result: str) -> list[Score]:
        return [loud(result), Score("length", len(result), metrics="mean")]

    outcome = await eval_named(progress=False)
    assert outcome.summary == {
        "loud": {"hits": 2, "accuracy": 2 / 3},
        "length": {"mean": 7 / 3},
    }
    with pytest.raises(LookupError, match=r"no metric named 'f1'; the metrics are: accuracy"):
        Score("x", 1, metrics=["mean", "f1"])


def test_unknown_names_list_what_exists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install(tmp_path / "site", "names", monkeypatch)
    with pytest.raises(
        AttributeError, match=r"no attribute 'bfcl_ast'.*exact_match.*shout_match_names"
    ):
        doteval.evaluators.bfcl_ast  # type: ignore[attr-defined]  # noqa: B018
    with pytest.raises(LookupError, match=r"no evaluator named 'bfcl_ast'.*model_graded"):
        doteval.evaluators.get("bfcl_ast")
    with pytest.raises(
        LookupError, match=r"no metric named 'f1'; the metrics are: accuracy, hits_names, mean"
    ):
        doteval.metrics.get("f1")
    with pytest.raises(ImportError):
        from doteval.metrics import f1  # type: ignore[attr-defined]  # noqa: F401
    assert not hasattr(doteval.evaluators, "__wrapped__")


def test_a_plugin_object_of_the_wrong_kind_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(tmp_path / "site", "kind", monkeypatch)
    with pytest.raises(
        LookupError,
        match=r"'broken_kind' of the package doteval-toy-kind .* is int 42, not a callable",
    ):
        doteval.evaluators.get("broken_kind")


def test_two_packages_with_one_name_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    for distribution in ("doteval-first", "doteval-second"):
        write_plugin(
            site,
            distribution,
            {},
            {"doteval.evaluators": {"twin_match": "doteval.evaluators:exact_match"}},
        )
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(LookupError, match="doteval-first and the package doteval-second both"):
        doteval.evaluators.get("twin_match")


def test_builtins_win_over_a_plugin_of_the_same_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_plugin(
        tmp_path / "site",
        "doteval-shadow",
        {},
        {"doteval.evaluators": {"exact_match": "doteval.evaluators:contains"}},
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert doteval.evaluators.get("exact_match") is doteval.evaluators.exact_match
    assert importlib.import_module("doteval.evaluators").exact_match.__name__ == "exact_match"


def test_entry_points_are_read_only_when_a_plugin_name_is_asked_for(tmp_path: Path) -> None:
    """In a fresh interpreter: importing doteval reads no doteval entry point group."""
    site = install(tmp_path / "site", "lazy")
    script = textwrap.dedent(
        """
        import json
        import importlib.metadata as metadata

        groups = []
        original = metadata.entry_points

        def recording(**selection):
            groups.append(selection.get("group"))
            return original(**selection)

        metadata.entry_points = recording
        import doteval, doteval.evaluators, doteval.metrics, doteval.datasets
        from doteval.evaluators import exact_match
        doteval.foreach.gsm8k  # a built-in dataset: no scan either
        at_import = [group for group in groups if group and group.startswith("doteval.")]
        from doteval.evaluators import shout_match_lazy
        print(json.dumps([at_import, sorted(set(groups) - {None})]))
        """
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *sys.path])},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    at_import, afterwards = json.loads(completed.stdout)
    assert at_import == []
    assert "doteval.evaluators" in afterwards
