"""``doteval compare`` and ``doteval plan``: deciding between runs, and planning one."""

from __future__ import annotations

import json

import click
from rich.table import Table
from rich.text import Text

from doteval._private.analysis.compare import Comparison, compare
from doteval._private.analysis.power import power
from doteval._private.cli.app import (
    console,
    main,
    on_terminal,
    print_table,
    storage_option,
    table,
)
from doteval._private.errors import UnknownNameError
from doteval._private.results.records import EvaluationResult
from doteval._private.stats.estimate import Difference
from doteval._private.stats.format import format_difference, p_value_text
from doteval._private.storage.policy import Store
from doteval._private.storage.protocol import ExperimentInfo
from doteval._private.storage.reading import load
from doteval._private.text import number


def _pairs(a: ExperimentInfo, b: ExperimentInfo, evaluation: str | None) -> list[tuple[str, str]]:
    """The evaluations of ``a`` and ``b`` to compare: by full name, else by the name's last
    component where that names one evaluation on each side."""
    names_b = [info.name for info in b.evaluations]
    pairs = []
    for info in a.evaluations:
        if info.name in names_b:
            pairs.append((info.name, info.name))
            continue
        short = info.name.rsplit(".", 1)[-1]
        candidates = [name for name in names_b if name.rsplit(".", 1)[-1] == short]
        if len(candidates) == 1:
            pairs.append((info.name, candidates[0]))
    if evaluation is not None:
        pairs = [
            pair for pair in pairs if evaluation in pair or pair[0].rsplit(".", 1)[-1] == evaluation
        ]
    if not pairs:
        raise UnknownNameError(
            f"experiments {a.name!r} and {b.name!r} share no evaluation"
            + (f" named {evaluation!r}" if evaluation else "")
            + "; pass --evaluation NAME to pick one"
        )
    return pairs


def _winner(difference: Difference, a: str, b: str) -> str:
    """The better run, only when the interval excludes 0."""
    if difference.ci is None or difference.ci[0] <= 0 <= difference.ci[1]:
        return ""
    return b if difference.ci[0] > 0 else a


def _signed(value: float) -> str:
    return ("+" if value > 0 else "") + number(value)


def _table(results: list[tuple[str, Comparison]], a: str, b: str) -> Table:
    shown = table(
        "evaluation",
        "score.metric",
        "Δ (b - a)",
        "95% CI",
        "p",
        "test",
        "better / worse",
        "winner",
        right=("Δ (b - a)", "p"),
        whole=("evaluation", "score.metric"),
    )
    for evaluation, comparison in results:
        for score, per_metric in comparison.differences.items():
            for metric, found in per_metric.items():
                p = found.p_adjusted if found.p_adjusted is not None else found.p_value
                interval = (
                    "—" if found.ci is None else f"{_signed(found.ci[0])} … {_signed(found.ci[1])}"
                )
                shown.add_row(
                    Text(evaluation),
                    Text(f"{score}.{metric}"),
                    "—" if found.delta is None else _signed(found.delta),
                    interval,
                    "—" if p is None else p_value_text(p),
                    found.test,
                    f"{number(found.better)} / {number(found.worse)}",
                    Text(_winner(found, a, b), style="bold green"),
                )
    return shown


@main.command(name="compare")
@click.argument("experiment_a")
@click.argument("experiment_b")
@click.option("--evaluation", "-e", metavar="NAME", help="Only this evaluation.")
@click.option("--cluster", metavar="COLUMN", help="Cluster-robust errors by this row column.")
@click.option("--json", "as_json", is_flag=True, help="The differences as JSON.")
@storage_option
def compare_command(
    storage: Store,
    experiment_a: str,
    experiment_b: str,
    evaluation: str | None,
    cluster: str | None,
    as_json: bool,
) -> None:
    """Compare EXPERIMENT_B with EXPERIMENT_A item by item (paired tests, b - a)."""
    first, second = storage.experiment(experiment_a), storage.experiment(experiment_b)
    results = [
        (
            name_a,
            compare(
                load(experiment_a, name_a, storage=storage),
                load(experiment_b, name_b, storage=storage),
                cluster=cluster,
            ),
        )
        for name_a, name_b in _pairs(first, second, evaluation)
    ]
    if as_json:
        document = {
            "a": experiment_a,
            "b": experiment_b,
            "evaluations": {
                name: {
                    score: {metric: found.to_json() for metric, found in per.items()}
                    for score, per in comparison.differences.items()
                }
                for name, comparison in results
            },
        }
        click.echo(json.dumps(document, indent=2))
        return
    out = console()
    if on_terminal():
        print_table(out, _table(results, experiment_a, experiment_b))
        return
    for name, comparison in results:  # plain lines for logs and pipes
        for score, per_metric in comparison.differences.items():
            for metric, found in per_metric.items():
                winner = _winner(found, experiment_a, experiment_b)
                verdict = f"  -> {winner} is better" if winner else ""
                out.print(Text(f"{name} {score}.{format_difference(metric, found)}{verdict}"))


@main.command(name="plan")
@click.option("--effect", type=float, help="The difference to detect: prints the items needed.")
@click.option("--items", type=int, help="Items at hand: prints the smallest detectable effect.")
@click.option("--p", "accuracy", type=float, help="The expected accuracy (a 0/1 score).")
@click.option("--sd", type=float, help="The standard deviation of per-item scores or differences.")
@click.option("--pilot", metavar="EXPERIMENT", help="A stored run whose spread to plan from.")
@click.option("--against", metavar="EXPERIMENT", help="With --pilot: a second run, for pairs.")
@click.option("--evaluation", "-e", metavar="NAME", help="The pilot's evaluation.")
@click.option("--score", metavar="NAME", help="The pilot's score (default: its first).")
@click.option("--metric", default="accuracy", show_default=True)
@click.option("--independent", is_flag=True, help="Two runs on different items (not paired).")
@click.option("--alpha", type=float, default=0.05, show_default=True)
@click.option("--power", "wanted", type=float, default=0.8, show_default=True)
@storage_option
def plan_command(
    storage: Store,
    effect: float | None,
    items: int | None,
    accuracy: float | None,
    sd: float | None,
    pilot: str | None,
    against: str | None,
    evaluation: str | None,
    score: str | None,
    metric: str,
    independent: bool,
    alpha: float,
    wanted: float,
) -> None:
    """How many items a comparison needs (--effect), or what it can detect (--items)."""
    source: EvaluationResult | Comparison | None = None
    if pilot is not None:
        source = load(pilot, evaluation, storage=storage)
        if against is not None:
            source = compare(source, load(against, evaluation, storage=storage))
    try:
        found = power(
            effect=effect,
            items=items,
            sd=sd,
            p=accuracy,
            pilot=source,
            score=score,
            metric=metric,
            design="independent" if independent else "paired",
            alpha=alpha,
            power=wanted,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    console().print(Text(str(found)))
