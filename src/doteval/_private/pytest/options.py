"""The plugin's command-line options and ini settings, read into one ``Settings``."""

from __future__ import annotations

import argparse
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest

from doteval._private.api.environment import environment_options
from doteval._private.api.options import RunOptions
from doteval._private.errors import InvalidNameError
from doteval._private.results.tracebacks import TRACEBACK_STYLES, TracebackStyle
from doteval._private.storage.naming import check_experiment_name
from doteval._private.storage.shard import Shard
from doteval._private.text import install_hint

BACKENDS = ("asyncio", "trio")


def _whole_number(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(str(text).strip())
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(
                f"expected a whole number of at least {minimum}, got {text!r}"
            )
        return value

    return parse


def _path(text: str) -> str:
    if not str(text).strip():
        raise argparse.ArgumentTypeError("expected a file path")
    return str(text).strip()


def _experiment(text: str) -> str:
    try:
        return check_experiment_name(str(text))
    except InvalidNameError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _storage(text: str) -> str:
    if "://" not in str(text):
        raise argparse.ArgumentTypeError(
            f"expected a storage URL such as sqlite://PATH, jsonl://DIR or memory://, got {text!r}"
        )
    return str(text)


def _one_of(choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in choices:
            raise argparse.ArgumentTypeError(f"expected one of {', '.join(choices)}, got {text!r}")
        return text

    return parse


def _shard(text: str) -> Shard:
    try:
        return Shard.parse(str(text), "")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


@attrs.frozen(repr=False)
class _Setting:
    """One option, given on the command line or, failing that, in the ini file."""

    flag: str
    ini: str
    parse: Callable[[str], Any]
    help: str
    metavar: str

    @property
    def dest(self) -> str:
        return "doteval_" + self.flag.lstrip("-").removeprefix("doteval-").replace("-", "_")


SETTINGS = (
    _Setting(
        "--max-concurrency",
        "doteval_max_concurrency",
        _whole_number(1),
        "items each evaluation runs at once (resizes its concurrency strategy)",
        "N",
    ),
    _Setting(
        "--samples",
        "doteval_samples",
        _whole_number(0),
        "evaluate only the first N items of each dataset",
        "N",
    ),
    _Setting(
        "--epochs",
        "doteval_epochs",
        _whole_number(1),
        "run every item of each evaluation K times (repeated sampling)",
        "K",
    ),
    _Setting(
        "--doteval-stop-after-errors",
        "doteval_stop_after_errors",
        _whole_number(0),
        "stop an evaluation whose first N items all fail with the same error while none "
        "succeeded (default 20; 0: never stop early)",
        "N",
    ),
    _Setting(
        "--experiment",
        "doteval_experiment",
        _experiment,
        "store the session's evaluations in this experiment (default: a fresh name)",
        "NAME",
    ),
    _Setting(
        "--shard",
        "doteval_shard",
        _shard,
        "run only shard I of N of each evaluation's items (0-based: 0/4 to 3/4), into the "
        "experiment every shard names (needs --experiment, or DOTEVAL_EXPERIMENT)",
        "I/N",
    ),
    _Setting(
        "--storage",
        "doteval_storage",
        _storage,
        "where results are stored, e.g. sqlite://PATH, jsonl://DIR or memory://",
        "URL",
    ),
    _Setting(
        "--doteval-backend",
        "doteval_backend",
        _one_of(BACKENDS),
        "the async library evaluations and their async fixtures run on (default: asyncio)",
        "{asyncio,trio}",
    ),
    _Setting(
        "--doteval-tb",
        "doteval_tb",
        _one_of(TRACEBACK_STYLES),
        "how the session summary shows the errors of items, one traceback per error type: "
        "short (trimmed to your frames, the default), long (in full) or no",
        "{no,short,long}",
    ),
    _Setting(
        "--doteval-report",
        "doteval_report",
        _path,
        "write the summary of the session's evaluations to PATH as JSON",
        "PATH",
    ),
    _Setting(
        "--doteval-html",
        "doteval_html",
        _path,
        "write the session's experiment to PATH as one self-contained HTML report",
        "PATH",
    ),
)


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("doteval", "doteval evaluations")
    for setting in SETTINGS:
        group.addoption(
            setting.flag,
            dest=setting.dest,
            type=setting.parse,
            metavar=setting.metavar,
            default=None,
            help=f"{setting.help} [ini: {setting.ini}]",
        )
        parser.addini(setting.ini, f"doteval: {setting.help}", type="string", default=None)
    group.addoption(
        "--no-progress",
        dest="doteval_progress",
        action="store_false",
        default=None,
        help="do not show the live progress of evaluations [ini: doteval_progress = false]",
    )
    parser.addini("doteval_progress", "doteval: show live progress", type="bool", default=None)
    parser.addini(
        "doteval_files",
        "doteval: glob patterns of files collected for evaluations (besides python_files)",
        type="args",
        default=["eval_*.py"],
    )
    parser.addini(
        "doteval_functions",
        "doteval: prefixes or globs of evaluation names collected (besides python_functions)",
        type="args",
        default=["eval_*"],
    )


@attrs.frozen(repr=False)
class Settings:
    """What the command line and ini file set for the session's evaluations."""

    options: RunOptions
    """The run options given explicitly: they rank above an evaluation's decorator."""
    backend: str
    report: Path | None
    html: Path | None = None
    tb: TracebackStyle = "short"
    """How the summary shows item errors (``--doteval-tb``)."""


def _value(config: pytest.Config, setting: _Setting) -> Any:
    value = config.getoption(setting.dest)
    if value is not None:
        return value
    raw = config.getini(setting.ini)
    if raw in (None, "", []):  # unset (pytest < 9 answers [] for an unset value)
        return None
    try:
        return setting.parse(raw)
    except argparse.ArgumentTypeError as exc:
        raise pytest.UsageError(f"{setting.ini} = {raw!r} in {config.inipath}: {exc}") from None


def read_settings(config: pytest.Config) -> Settings:
    values = {setting.dest: _value(config, setting) for setting in SETTINGS}
    progress = config.getoption("doteval_progress")
    if progress is None:
        try:
            progress = config.getini("doteval_progress")
        except (ValueError, pytest.UsageError) as exc:
            raise pytest.UsageError(
                f"doteval_progress in {config.inipath} must be true or false ({exc})"
            ) from None
        if progress == []:
            progress = None
    backend = values["doteval_backend"] or "asyncio"
    if backend == "trio" and importlib.util.find_spec("trio") is None:
        raise pytest.UsageError(
            f"--doteval-backend trio needs trio, which is not installed: {install_hint('trio')}"
        )
    shard = values["doteval_shard"]
    try:
        from_environment = environment_options()
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    experiment = values["doteval_experiment"] or from_environment.experiment
    if (shard or from_environment.shard) is not None and experiment is None:
        raise pytest.UsageError(
            f"--shard {shard or from_environment.shard} needs --experiment NAME (or "
            f"doteval_experiment in the ini file, or DOTEVAL_EXPERIMENT=NAME): every shard "
            f"stores into the same experiment"
        )
    report, html = values["doteval_report"], values["doteval_html"]
    if html is not None and importlib.util.find_spec("jinja2") is None:
        from doteval._private.view.commands import INSTALL_HINT

        raise pytest.UsageError(f"--doteval-html needs jinja2; {INSTALL_HINT}")
    return Settings(
        options=RunOptions(
            max_concurrency=values["doteval_max_concurrency"],
            samples=values["doteval_samples"],
            epochs=values["doteval_epochs"],
            stop_after_errors=values["doteval_stop_after_errors"],
            experiment=values["doteval_experiment"],
            storage=values["doteval_storage"],
            progress=progress,
            shard=shard,
        ),
        backend=backend,
        report=None if report is None else config.invocation_params.dir / report,
        html=None if html is None else config.invocation_params.dir / html,
        tb=values["doteval_tb"] or "short",
    )
