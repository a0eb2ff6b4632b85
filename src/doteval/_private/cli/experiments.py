"""``doteval list``, ``show``, ``rename``, ``delete``, ``export`` and ``check``."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from doteval._private.cli.app import (
    console,
    estimate_cells,
    main,
    main_metric,
    shards_line,
    status_text,
    storage_option,
    when,
)
from doteval._private.results.records import Record
from doteval._private.storage.check import check as check_store
from doteval._private.storage.export import EXPORT_FORMATS, export
from doteval._private.storage.policy import Store, find_evaluation
from doteval._private.storage.protocol import EvaluationInfo
from doteval._private.storage.reading import all_records, load, missing_records
from doteval._private.storage.status import COMPLETED, PARTIAL, RUNNING
from doteval._private.text import number


@main.command(name="list")
@storage_option
def list_experiments(storage: Store) -> None:
    """Experiments with their evaluations, newest first."""
    out = console()
    found = storage.experiments()
    if not found:
        out.print(f"No experiments in {storage.url} yet.")
        return
    table = Table("experiment", "evaluation", "items", "errors", "status", "started", "main metric")
    for experiment in found:
        if not experiment.evaluations:
            table.add_row(experiment.name, "-", "-", "-", "-", when(experiment.created_at), "-")
        for index, info in enumerate(experiment.evaluations):
            counts = info.counts
            table.add_row(
                experiment.name if index == 0 else "",
                info.name,
                "-" if counts is None else str(counts.total),
                "-" if counts is None else str(counts.errors),
                _status_cell(info),
                when(info.started_at),
                main_metric(info),
            )
    out.print(table)


def _status_cell(info: EvaluationInfo) -> Text:
    """The status, and under it how the shards stand if it ran in shards."""
    cell = status_text(info.status)
    line = shards_line(info)
    if line:
        cell.append(f"\n{line}", style="dim")
    return cell


@main.command()
@click.argument("experiment")
@click.option("--evaluation", "-e", metavar="NAME", help="Only this evaluation.")
@click.option("--errors", "errors_only", is_flag=True, help="The errors, grouped by type.")
@click.option("--full", is_flag=True, help="Every record.")
@storage_option
def show(
    storage: Store,
    experiment: str,
    evaluation: str | None,
    errors_only: bool,
    full: bool,
) -> None:
    """The summary of EXPERIMENT's evaluations (or their errors, or every record)."""
    out = console()
    info = storage.experiment(experiment)
    chosen = info.evaluations if evaluation is None else (find_evaluation(info, evaluation),)
    if not chosen:
        out.print(f"Experiment {experiment} has no evaluations yet.")
    for found in chosen:
        _show_summary(out, storage, found)
        if errors_only:
            _show_errors(out, storage.records(experiment, found.name, errors_only=True))
        if full:
            _show_records(out, all_records(storage, found))


def _show_summary(out: Console, storage: Store, info: EvaluationInfo) -> None:
    result = load(info.experiment, info.name, storage=storage)
    counts = result.counts
    if storage.counts_cheaply:  # what the store says must be what it has
        held = storage.count(info.experiment, info.name)
        if held < counts.total:
            raise missing_records(storage, info.experiment, info.name, counts.total, held)
    out.print(
        Text.assemble(
            (info.name, "bold"),
            f" in {info.experiment}: ",
            status_text(info.status),
            f", {counts.total} items, {counts.errors} errors, {counts.retried} retried, "
            f"started {when(info.started_at)}",
        )
    )
    options = dict(info.metadata.get("options") or {})
    commit = info.metadata.get("git_commit")
    details = ", ".join(f"{key}={value}" for key, value in options.items() if value is not None)
    if commit:
        details += f"{', ' if details else ''}commit {str(commit)[:10]}"
    if details:
        out.print(Text(details, style="dim"))
    if info.shards:
        _show_shards(out, info)
    table = Table("score", "metric", "value", "±", "95% CI", "n", "method")
    for score, metrics in result.summary.items():
        for metric, value in metrics.items():
            found = result.estimates.get(score, {}).get(metric)
            table.add_row(Text(score), Text(metric), number(value), *estimate_cells(found))
    out.print(table)


def _show_shards(out: Console, info: EvaluationInfo) -> None:
    """Each shard's progress: its status, what it stored of its share, who runs it."""
    out.print(Text(shards_line(info)))
    table = Table("shard", "status", "items", "errors", "started", "running in")
    for found in info.shards:
        counts, holder = found.counts, found.holder
        table.add_row(
            str(found.shard),
            status_text(found.status),
            "-" if counts is None else number(counts.total),
            "-" if counts is None else number(counts.errors),
            when(found.started_at),
            f"process {holder.pid} on {holder.host}" if found.status == RUNNING and holder else "-",
        )
    out.print(table)
    missing = info.shards_not_run
    if missing and info.status not in (COMPLETED, PARTIAL):
        shown = ", ".join(str(shard) for shard in missing)
        out.print(
            Text(
                f"not run yet: {shown} (run them with shard=(I, N), --shard I/N or "
                f"DOTEVAL_SHARD=I/N)",
                style="dim",
            )
        )


def _show_errors(out: Console, records: Any) -> None:
    grouped: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        assert record.error is not None
        grouped[record.error.type].append(record)
    if not grouped:
        out.print("No errors.")
        return
    table = Table("error", "count", "examples")
    for kind, found in sorted(grouped.items(), key=lambda item: -len(item[1])):
        examples = "\n".join(
            f"item {record.item_id}: {record.error.message}"  # type: ignore[union-attr]
            for record in found[:3]
        )
        table.add_row(kind, str(len(found)), examples)
    out.print(table)


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=repr)
    return text if len(text) <= 200 else text[:197] + "..."


def _show_records(out: Console, records: Any) -> None:
    table = Table("item", "row", "scores", "response", "error")
    for record in records:
        table.add_row(
            str(record.item_id),
            _cell(record.row),
            ", ".join(f"{score.name}={_cell(score.value)}" for score in record.scores),
            _cell(record.model_response or ""),
            "" if record.error is None else f"{record.error.type}: {record.error.message}",
        )
    out.print(table)


@main.command()
@click.argument("old")
@click.argument("new")
@storage_option
def rename(storage: Store, old: str, new: str) -> None:
    """Rename experiment OLD to NEW."""
    storage.rename(old, new)
    console().print(f"Renamed {old} to {new}.")


@main.command()
@click.argument("experiment")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@storage_option
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
    console().print(f"Deleted {experiment}.")


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
@storage_option
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
@storage_option
def check(storage: Store, experiments: tuple[str, ...], repair: bool) -> None:
    """Verify the store (or EXPERIMENTS): its files, and every evaluation's totals against
    its records. Changes nothing unless --repair."""
    out = console()
    findings = check_store(storage, experiments, repair=repair)
    damaged = [finding for finding in findings if not finding.sound]
    for finding in findings:
        if finding.sound:
            out.print(Text.assemble(("ok", "green"), f"  {finding.where}"))
            continue
        label = ("repaired", "yellow") if finding.repaired else ("damaged", "red")
        out.print(Text.assemble(label, f"  {finding.where}"))
        for problem in finding.problems:
            out.print(Text(f"    {problem}"))
    if damaged and not repair:
        out.print(
            f"{len(damaged)} of {len(findings)} parts of {storage.url} are damaged; "
            f"`doteval check --repair` recomputes the totals from the intact records and "
            f"marks those evaluations partial, so running them again finishes them"
        )
        raise SystemExit(1)
