"""The ``doteval`` command: list, show, rename, delete and export stored experiments."""

from __future__ import annotations

import functools
import json
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from doteval._private.errors import DotevalError
from doteval._private.results.records import Record
from doteval._private.storage.check import check as check_store
from doteval._private.storage.export import EXPORT_FORMATS, export
from doteval._private.storage.policy import Store, find_evaluation
from doteval._private.storage.protocol import EvaluationInfo
from doteval._private.storage.reading import all_records, load, missing_records
from doteval._private.storage.registry import default_url, open_storage
from doteval._private.storage.status import COMPLETED, FAILED, INTERRUPTED, RUNNING

F = TypeVar("F", bound=Callable[..., Any])

STATUS_STYLES = {COMPLETED: "green", RUNNING: "cyan", INTERRUPTED: "yellow", FAILED: "red"}


def _console() -> Console:
    # Captured or piped output still gets a readable width.
    return Console(width=None if sys.stdout.isatty() else 140, highlight=False)


def _storage_option(command: F) -> F:
    """``--storage URL`` on every command; errors of the store become clean messages."""

    @click.option(
        "--storage",
        "storage_url",
        metavar="URL",
        default=None,
        help="sqlite://PATH, jsonl://DIR or memory:// "
        "(default: $DOTEVAL_STORAGE, else sqlite://.doteval/doteval.db)",
    )
    @functools.wraps(command)
    def wrapper(storage_url: str | None, **kwargs: Any) -> Any:
        try:
            return command(open_storage(storage_url or default_url()), **kwargs)
        except DotevalError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper  # type: ignore[return-value]


def _when(timestamp: float | None) -> str:
    if not timestamp:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def _main_metric(summary: Mapping[str, Mapping[str, Any]] | None) -> str:
    for score, metrics in (summary or {}).items():
        for metric, value in metrics.items():
            return f"{score}.{metric} = {_number(value)}"
    return "-"


def _status(status: str) -> Text:
    return Text(status, style=STATUS_STYLES.get(status, ""))


@click.group()
@click.version_option(package_name="doteval")
def main() -> None:
    """Inspect and manage the experiments doteval has stored."""


@main.command(name="list")
@_storage_option
def list_experiments(storage: Store) -> None:
    """Experiments with their evaluations, newest first."""
    console = _console()
    found = storage.experiments()
    if not found:
        console.print(f"No experiments in {storage.url} yet.")
        return
    table = Table("experiment", "evaluation", "items", "errors", "status", "started", "main metric")
    for experiment in found:
        if not experiment.evaluations:
            table.add_row(experiment.name, "-", "-", "-", "-", _when(experiment.created_at), "-")
        for index, info in enumerate(experiment.evaluations):
            counts = info.counts
            table.add_row(
                experiment.name if index == 0 else "",
                info.name,
                "-" if counts is None else str(counts.total),
                "-" if counts is None else str(counts.errors),
                _status(info.status),
                _when(info.started_at),
                _main_metric(info.summary),
            )
    console.print(table)


@main.command()
@click.argument("experiment")
@click.option("--evaluation", "-e", metavar="NAME", help="Only this evaluation.")
@click.option("--errors", "errors_only", is_flag=True, help="The errors, grouped by type.")
@click.option("--full", is_flag=True, help="Every record.")
@_storage_option
def show(
    storage: Store,
    experiment: str,
    evaluation: str | None,
    errors_only: bool,
    full: bool,
) -> None:
    """The summary of EXPERIMENT's evaluations (or their errors, or every record)."""
    console = _console()
    info = storage.experiment(experiment)
    chosen = info.evaluations if evaluation is None else (find_evaluation(info, evaluation),)
    if not chosen:
        console.print(f"Experiment {experiment} has no evaluations yet.")
    for found in chosen:
        _show_summary(console, storage, found)
        if errors_only:
            _show_errors(console, storage.records(experiment, found.name, errors_only=True))
        if full:
            _show_records(console, all_records(storage, found))


def _show_summary(console: Console, storage: Store, info: EvaluationInfo) -> None:
    result = load(info.experiment, info.name, storage=storage)
    counts = result.counts
    if storage.counts_cheaply:  # what the store says must be what it has
        held = storage.count(info.experiment, info.name)
        if held < counts.total:
            raise missing_records(storage, info.experiment, info.name, counts.total, held)
    console.print(
        Text.assemble(
            (info.name, "bold"),
            f" in {info.experiment}: ",
            _status(info.status),
            f", {counts.total} items, {counts.errors} errors, {counts.retried} retried, "
            f"started {_when(info.started_at)}",
        )
    )
    options = dict(info.metadata.get("options") or {})
    commit = info.metadata.get("git_commit")
    details = ", ".join(f"{key}={value}" for key, value in options.items() if value is not None)
    if commit:
        details += f"{', ' if details else ''}commit {str(commit)[:10]}"
    if details:
        console.print(Text(details, style="dim"))
    table = Table("score", "metric", "value")
    for score, metrics in result.summary.items():
        for metric, value in metrics.items():
            table.add_row(score, metric, _number(value))
    console.print(table)


def _show_errors(console: Console, records: Any) -> None:
    grouped: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        assert record.error is not None
        grouped[record.error.type].append(record)
    if not grouped:
        console.print("No errors.")
        return
    table = Table("error", "count", "examples")
    for kind, found in sorted(grouped.items(), key=lambda item: -len(item[1])):
        examples = "\n".join(
            f"item {record.item_id}: {record.error.message}"  # type: ignore[union-attr]
            for record in found[:3]
        )
        table.add_row(kind, str(len(found)), examples)
    console.print(table)


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=repr)
    return text if len(text) <= 200 else text[:197] + "..."


def _show_records(console: Console, records: Any) -> None:
    table = Table("item", "row", "scores", "response", "error")
    for record in records:
        table.add_row(
            str(record.item_id),
            _cell(record.row),
            ", ".join(f"{score.name}={_cell(score.value)}" for score in record.scores),
            _cell(record.model_response or ""),
            "" if record.error is None else f"{record.error.type}: {record.error.message}",
        )
    console.print(table)


@main.command()
@click.argument("old")
@click.argument("new")
@_storage_option
def rename(storage: Store, old: str, new: str) -> None:
    """Rename experiment OLD to NEW."""
    storage.rename(old, new)
    _console().print(f"Renamed {old} to {new}.")


@main.command()
@click.argument("experiment")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@_storage_option
def delete(storage: Store, experiment: str, yes: bool) -> None:
    """Delete EXPERIMENT and everything stored for it."""
    info = storage.experiment(experiment)
    items = sum(found.counts.total for found in info.evaluations if found.counts)
    if not yes:
        click.confirm(
            f"Delete experiment {experiment} ({len(info.evaluations)} evaluations, "
            f"{items} items) from {storage.url}?",
            abort=True,
        )
    storage.delete(experiment)
    _console().print(f"Deleted {experiment}.")


@main.command(name="export")
@click.argument("experiment")
@click.option(
    "--format",
    "format_",
    type=click.Choice(EXPORT_FORMATS),
    default="jsonl",
    show_default=True,
)
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-")
@click.option("--evaluation", "-e", metavar="NAME", help="Only this evaluation.")
@_storage_option
def export_command(
    storage: Store,
    experiment: str,
    format_: str,
    output: Any,
    evaluation: str | None,
) -> None:
    """Write EXPERIMENT's records as JSON lines or CSV (to stdout unless -o FILE)."""
    written = export(experiment, output, format_, evaluation=evaluation, storage=storage)
    if getattr(output, "name", "<stdout>") != "<stdout>":
        click.echo(f"Wrote {written} records to {output.name}.", err=True)


@main.command()
@click.argument("experiments", nargs=-1)
@click.option(
    "--repair",
    is_flag=True,
    help="Recompute totals from the intact records and mark the evaluation partial.",
)
@_storage_option
def check(storage: Store, experiments: tuple[str, ...], repair: bool) -> None:
    """Verify the store (or EXPERIMENTS): its files, and every evaluation's totals against
    its records. Changes nothing unless --repair."""
    console = _console()
    findings = check_store(storage, experiments, repair=repair)
    damaged = [finding for finding in findings if not finding.sound]
    for finding in findings:
        if finding.sound:
            console.print(Text.assemble(("ok", "green"), f"  {finding.where}"))
            continue
        label = ("repaired", "yellow") if finding.repaired else ("damaged", "red")
        console.print(Text.assemble(label, f"  {finding.where}"))
        for problem in finding.problems:
            console.print(Text(f"    {problem}"))
    if damaged and not repair:
        console.print(
            f"{len(damaged)} of {len(findings)} parts of {storage.url} are damaged; "
            f"`doteval check --repair` recomputes the totals from the intact records and "
            f"marks those evaluations partial, so running them again finishes them"
        )
        raise SystemExit(1)


@main.command(name="datasets")
def datasets_command() -> None:
    """The datasets @foreach.NAME(split) and doteval.datasets.get(NAME, split) know."""
    from doteval._private.datasets.listing import show_datasets

    show_datasets(_console())


from doteval._private.view.commands import report, view  # noqa: E402

main.add_command(view)
main.add_command(report)
