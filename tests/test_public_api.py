"""The public surface: every name has one public home, and stored data never names internals."""

from __future__ import annotations

import importlib
import inspect
import json
import sqlite3
from pathlib import Path
from types import GenericAlias, ModuleType
from typing import Any

import anyio
import pytest

import doteval
from doteval.evaluators import exact_match

PUBLIC_MODULES = (
    "doteval",
    "doteval.concurrency",
    "doteval.storage",
    "doteval.evaluators",
    "doteval.metrics",
    "doteval.testing",
    "doteval.datasets",
    "doteval.reducers",
)


def _module(name: str) -> ModuleType:
    return importlib.import_module(name)


def _defined_here(module: ModuleType, value: Any) -> bool:
    return (inspect.isclass(value) or inspect.isfunction(value)) and (
        value.__module__ == module.__name__
    )


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_every_public_module_lists_what_it_defines_in_all(name: str) -> None:
    module = _module(name)
    exported = set(module.__all__)
    assert len(exported) == len(module.__all__), f"{name}.__all__ repeats a name"
    missing = exported - set(dir(module))
    assert not missing, f"{name}.__all__ names what the module lacks: {missing}"
    unlisted = {
        attribute
        for attribute, value in vars(module).items()
        if not attribute.startswith("_") and _defined_here(module, value)
    } - exported
    assert not unlisted, f"{name} defines public names missing from __all__: {unlisted}"


def test_each_public_class_and_function_has_exactly_one_public_home() -> None:
    homes: dict[int, set[str]] = {}
    for name in PUBLIC_MODULES:
        module = _module(name)
        for attribute in module.__all__:
            value = getattr(module, attribute)
            if isinstance(value, GenericAlias):  # a type alias (Python 3.10 calls it a class)
                continue
            if not (inspect.isclass(value) or inspect.isfunction(value)):
                continue
            home = value.__module__
            assert home in PUBLIC_MODULES, (
                f"{name}.{attribute} reports the internal module {home}; it must report "
                f"the public module users import it from"
            )
            assert attribute in _module(home).__all__, (
                f"{name}.{attribute} says it lives in {home}, which does not export it"
            )
            homes.setdefault(id(value), set()).add(home)
    assert all(len(found) == 1 for found in homes.values())


class CustomFailure(Exception):
    pass


@pytest.fixture
def failing_evaluation() -> doteval.Evaluation:
    rows = [
        ("ok", "ok"),
        ("raise", "x"),
        ("bad-return", "x"),
        ("slow", "x"),
        ("bad-row",),
        ("look-up", "x"),
    ]

    async def eval_mixed(question: str, answer: str) -> Any:
        if question == "raise":
            raise CustomFailure("boom")
        if question == "bad-return":
            return 42
        if question == "slow":
            await anyio.sleep(5)
        if question == "look-up":  # a store error raised inside an item
            doteval.load("no-such-experiment", storage="memory://empty")
        return exact_match(question, answer)

    return doteval.foreach("question,answer", rows)(eval_mixed)


def _stored_texts(url: str) -> list[str]:
    """Everything the store holds, as text, without the tracebacks (which show file paths)."""
    kind, _, path = url.partition("://")
    documents: list[Any] = []
    if kind == "sqlite":
        with sqlite3.connect(path) as connection:
            for table in ("experiments", "evaluations", "items"):
                documents += [list(row) for row in connection.execute(f"SELECT * FROM {table}")]
    else:
        for file in Path(path).rglob("*"):
            if file.is_file() and file.suffix in (".json", ".jsonl"):
                documents += [json.loads(line) for line in file.read_text().splitlines() if line]

    def strip(value: Any) -> Any:
        if isinstance(value, str) and value.startswith(("[", "{")):
            try:
                return strip(json.loads(value))
            except ValueError:
                return value
        if isinstance(value, dict):
            return {key: strip(item) for key, item in value.items() if key != "traceback"}
        if isinstance(value, list):
            # A compact error record is [type, message, traceback]: drop the traceback.
            if (
                len(value) == 3
                and all(isinstance(item, str) for item in value)
                and ("Traceback" in value[2])
            ):
                return value[:2]
            return [strip(item) for item in value]
        return value

    return [json.dumps(strip(document)) for document in documents]


@pytest.mark.parametrize("kind", ["sqlite", "jsonl"])
async def test_no_stored_record_names_an_internal_module(
    kind: str, tmp_path: Path, failing_evaluation: doteval.Evaluation
) -> None:
    url = f"{kind}://{tmp_path / 'store'}"
    result = await failing_evaluation(storage=url, timeout=0.05, retries=0, progress=False)
    types = {record.error.type for record in result.errors if record.error is not None}
    assert types == {
        f"{__name__}.CustomFailure",
        "doteval.ReturnValueError",
        "doteval.ItemTimeoutError",
        "doteval.RowError",
        "doteval.storage.UnknownNameError",
    }
    texts = _stored_texts(url)
    assert texts
    assert not [text for text in texts if "_private" in text]


def test_the_version_is_the_installed_distributions() -> None:
    from importlib.metadata import version

    assert doteval.__version__ == version("doteval")
