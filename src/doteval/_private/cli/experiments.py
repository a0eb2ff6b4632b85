"""``doteval list``, ``show``, ``rename``, ``delete``, ``export`` and ``check``."""

from __future__ import annotations

import fnmatch
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import click
from rich.console import Console
from rich.text import Text

from doteval._private.cli.app import (
    STATUS_STYLES,
    console,
    estimate_cells,
    main,
    main_metric,
    on_terminal,
    print_table,
    shards_line,
    status_text,
    storage_option,
    table,
)
from doteval._private.errors import DotevalError
from doteval._private.results.records import EvaluationResult, Record
from doteval._private.results.tracebacks import STYLES, group_errors
from doteval._private.storage.check import check as check_store
from doteval._private.storage.export import EXPORT_FORMATS, export
from doteval._private.storage.policy import Store, find_evaluation
from doteval._private.storage.protocol import EvaluationInfo, ExperimentInfo
from doteval._private.storage.reading import all_records, load, missing_records
from doteval._private.storage.status import COMPLETED, PARTIAL, RUNNING
from doteval._private.text import moment, number, plural


def _selected(
    found: list[ExperimentInfo], pattern: str | None, statuses: tuple[str, ...]
) -> Iterator[tuple[ExperimentInfo, tuple[EvaluationInfo, ...]]]:
    """The experiments ``list`` shows, each with the evaluations it shows of it."""
    for experiment in found:
        if pattern is not None and not fnmatch.fnmatchcase(experiment.name, pattern):
            continue
        evaluations = experiment.evaluations
        if statuses:
            evaluations = tuple(info for info in evaluations if info.status in statuses)
            if not evaluations:
                continue
        yield experiment, evaluations


@main.command(name="list")
@click.option(
    "--name",
    "pattern",
    metavar="PATTERN",
    help="Only experiments whose name matches this glob (fnmatch), e.g. 'gpt4-*'.",
)
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(tuple(STATUS_STYLES)),
    help="Only evaluations with this status; repeat it for several.",
)
@storage_option
def list_experiments(storage: Store, pattern: str | None, statuses: tuple[str, ...]) -> None:
    """Experiments with their evaluations, newest first."""
    out = console()
    found = storage.experiments()
    if not found:
        out.print(f"No experiments in {storage.url} yet.")
        return
    chosen = list(_selected(found, pattern, statuses))
    if not chosen:
        asked = " and ".join(
            part
            for part in (
                f"--name {pattern}" if pattern is not None else "",
                " ".join(f"--status {status}" for status in statuses),
            )
            if part
        )
        out.print(f"No experiments in {storage.url} match {asked}.")
        return
    shown = table(
        "experiment",
        "evaluation",
        "items",
        "errors",
        "status",
        "started",
        "main metric",
        right=("items", "errors"),
        whole=("experiment", "evaluation", "status"),
    )
    repeat = not on_terminal()  # a piped line names its experiment, for grep
    for experiment, evaluations in chosen:
        if not evaluations:
            shown.add_row(
                Text(experiment.name), "-", "-", "-", "-", moment(experiment.created_at), "-"
            )
        for index, info in enumerate(evaluations):
            counts = info.counts
            shown.add_row(
                Text(experiment.name if index == 0 or repeat else ""),
                Text(info.name),
                "-" if counts is None else number(counts.total),
                "-" if counts is None else number(counts.errors),
                _status_cell(info),
                moment(info.started_at),
                Text(main_metric(info)),
            )
    print_table(out, shown)


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
@click.option(
    "--errors",
    "errors_only",
    is_flag=True,
    help="The errors, grouped by type: how many items had each, and one example with its "
    "traceback trimmed to your own code.",
)
@click.option("--full", is_flag=True, help="Every record; with --errors, whole tracebacks.")
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
        result = _show_summary(out, storage, found)
        if errors_only:
            _show_errors(out, storage, found, result, full)
        elif full:
            _show_records(out, all_records(storage, found))


def _show_summary(out: Console, storage: Store, info: EvaluationInfo) -> EvaluationResult:
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
            f", {plural(counts.total, 'item')}, {plural(counts.errors, 'error')}, "
            f"{number(counts.retried)} retried, started {moment(info.started_at)}",
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
    shown = table(
        "score",
        "metric",
        "value",
        "±",
        "95% CI",
        "n",
        "method",
        right=("value", "n"),
        whole=("score", "metric"),
    )
    for score, metrics in result.summary.items():
        for metric, value in metrics.items():
            found = result.estimates.get(score, {}).get(metric)
            shown.add_row(Text(score), Text(metric), number(value), *estimate_cells(found))
    print_table(out, shown)
    return result


def _show_shards(out: Console, info: EvaluationInfo) -> None:
    """Each shard's progress: its status, what it stored of its share, who runs it."""
    out.print(Text(shards_line(info)))
    shown = table(
        "shard", "status", "items", "errors", "started", "running in", right=("items", "errors")
    )
    for found in info.shards:
        counts, holder = found.counts, found.holder
        shown.add_row(
            str(found.shard),
            status_text(found.status),
            "-" if counts is None else number(counts.total),
            "-" if counts is None else number(counts.errors),
            moment(found.started_at),
            f"process {holder.pid} on {holder.host}" if found.status == RUNNING and holder else "-",
        )
    print_table(out, shown)
    missing = info.shards_not_run
    if missing and info.status not in (COMPLETED, PARTIAL):
        names = ", ".join(str(shard) for shard in missing)
        out.print(
            Text(
                f"not run yet: {names} (run them with shard=(I, N), --shard I/N or "
                f"DOTEVAL_SHARD=I/N)",
                style="dim",
            )
        )


def _show_errors(
    out: Console, storage: Store, info: EvaluationInfo, result: EvaluationResult, full: bool
) -> None:
    groups = group_errors(storage.records(info.experiment, info.name, errors_only=True))
    if not groups:
        out.print("No errors.")
        return
    # With epochs the counts are of item-epochs, not of items.
    total = result.counts.total if result.epochs == 1 else None
    for group in groups:
        out.print()
        for kind, text in group.lines("long" if full else "short", total):
            out.print(Text(text, style=STYLES[kind]), soft_wrap=True)


def _cell(value: Any) -> Text:
    text = value if isinstance(value, str) else json.dumps(value, default=repr)
    if on_terminal() and len(text) > 200:  # piped output keeps every character
        text = text[:197] + "..."
    return Text(text)


def _show_records(out: Console, records: Iterator[Record]) -> None:
    shown = table("item", "row", "scores", "response", "error", right=("item",))
    for record in records:
        shown.add_row(
            str(record.item_id),
            _cell(record.row),
            Text(", ".join(f"{score.name}={_cell(score.value)}" for score in record.scores)),
            _cell(record.model_response or ""),
            Text("" if record.error is None else f"{record.error.type}: {record.error.message}"),
        )
    print_table(out, shown)


@main.command()
@click.argument("old")
@click.argument("new")
@storage_option
def rename(storage: Store, old: str, new: str) -> None:
    """Rename experiment OLD to NEW."""
    storage.rename(old, new)
    console().print(Text(f"Renamed {old} to {new}."))


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _age(context: click.Context, parameter: click.Parameter, value: str | None) -> float | None:
    """``30d``, ``12h``, ``90m``, ``2w``, ``45s`` as seconds."""
    if value is None:
        return None
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", value)
    if found is None:
        raise click.BadParameter(
            f"expected an age such as 30d, 12h, 90m or 2w (a number and one of the units "
            f"s, m, h, d, w), got {value!r}",
            context,
            parameter,
        )
    return float(found[1]) * _UNITS[found[2]]


def last_used(info: ExperimentInfo) -> float:
    """When the experiment was last created, started or finished into."""
    moments = [info.created_at]
    for found in info.evaluations:
        moments += [stamp for stamp in (found.started_at, found.ended_at) if stamp]
    return max(moments)


def _describe(info: ExperimentInfo) -> str:
    items = sum(found.counts.total for found in info.evaluations if found.counts)
    return (
        f"{info.name} ({plural(len(info.evaluations), 'evaluation')}, {plural(items, 'item')}, "
        f"last run {moment(last_used(info))})"
    )


@main.command()
@click.argument("experiments", nargs=-1)
@click.option(
    "--older-than",
    "age",
    callback=_age,
    metavar="AGE",
    help="Every experiment last run more than AGE ago (30d, 12h, 90m, 2w; units s, m, h, "
    "d, w); with EXPERIMENTS, only those of them.",
)
@click.option("--dry-run", is_flag=True, help="Print what would be deleted, delete nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@storage_option
def delete(
    storage: Store, experiments: tuple[str, ...], age: float | None, dry_run: bool, yes: bool
) -> None:
    """Delete EXPERIMENTS (or those older than --older-than) and everything stored for them.

    An experiment with a running evaluation is refused."""
    if not experiments and age is None:
        raise click.UsageError(
            "name the experiments to delete, or pass --older-than AGE (for example "
            "`doteval delete --older-than 30d --dry-run`)"
        )
    out = console()
    if experiments:
        chosen = [storage.experiment(name) for name in dict.fromkeys(experiments)]
    else:
        chosen = storage.experiments()
    if age is not None:
        cutoff = time.time() - age
        chosen = [info for info in chosen if last_used(info) < cutoff]
        if not chosen:
            out.print(f"No experiments in {storage.url} were last run that long ago.")
            return
    if dry_run:
        out.print(f"Would delete {plural(len(chosen), 'experiment')} from {storage.url}:")
        for info in chosen:
            out.print(Text(f"  {_describe(info)}"))
        return
    if not yes:
        if len(chosen) == 1:
            question = f"Delete experiment {_describe(chosen[0])} from {storage.url}?"
        else:
            for info in chosen:
                out.print(Text(f"  {_describe(info)}"))
            question = f"Delete these {plural(len(chosen), 'experiment')} from {storage.url}?"
        click.confirm(question, abort=True)
    refused = []
    for info in chosen:
        try:
            storage.delete(info.name)
        except DotevalError as exc:  # a running one: the others are still deleted
            refused.append(str(exc))
            continue
        out.print(Text(f"Deleted {info.name}."))
    if refused:
        raise click.ClickException("\n".join(refused))


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
        click.echo(f"Wrote {plural(written, 'record')} to {output.name}.", err=True)


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
            f"{number(len(damaged))} of {plural(len(findings), 'part')} of {storage.url} "
            f"{'is' if len(damaged) == 1 else 'are'} damaged; "
            f"`doteval check --repair` recomputes the totals from the intact records and "
            f"marks those evaluations partial, so running them again finishes them"
        )
        raise SystemExit(1)
