"""The ``doteval`` command line: list, show, rename, delete, export."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from click.testing import CliRunner

import doteval
from doteval._private.cli.main import main
from doteval.evaluators import exact_match

ROWS = [(f"q{i}", f"a{i}" if i % 4 else "wrong") for i in range(8)]


async def _run(url: str, experiment: str, name: str = "eval_cli", failing: int = 5) -> None:
    async def evaluate(question: str, answer: str) -> doteval.Score:
        number = int(question[1:])
        if number == failing:
            raise TimeoutError(f"model too slow on {question}")
        return exact_match(f"a{number}", answer)

    evaluate.__name__ = evaluate.__qualname__ = name
    evaluation = doteval.foreach("question,answer", ROWS)(evaluate)
    await evaluation(experiment=experiment, storage=url, retries=0)


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite://{tmp_path / 'cli.db'}"
    anyio.run(_run, url, "baseline")
    anyio.run(_run, url, "second", "eval_other")
    return url


def invoke(*args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), input=input)
    return result.exit_code, result.output


def test_list_shows_experiments_newest_first_with_counts_and_metric(url: str) -> None:
    code, output = invoke("list", "--storage", url)
    assert code == 0, output
    assert output.index("second") < output.index("baseline")
    assert "eval_cli" in output
    assert "completed" in output
    assert "exact_match.accuracy 0.625 ±" in output  # items 0 and 4 wrong, 5 failed
    line = next(line for line in output.splitlines() if "eval_cli" in line)
    assert " 8 " in line
    assert " 1 " in line  # errors


def test_list_of_an_empty_store(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    code, output = invoke("list", "--storage", f"jsonl://{tmp_path / 'empty'}")
    assert code == 0
    assert "No experiments" in output


def test_show_prints_the_summary_table(url: str) -> None:
    code, output = invoke("show", "baseline", "--storage", url)
    assert code == 0, output
    assert "exact_match" in output
    assert "accuracy" in output
    assert "0.625" in output
    assert "8 items, 1 error, 0 retried" in output


def test_show_errors_groups_them_by_type_with_examples(url: str) -> None:
    code, output = invoke("show", "baseline", "--errors", "--storage", url)
    assert code == 0, output
    assert "TimeoutError on 1 of 8 items, for example item 5, row" in output
    assert "E   TimeoutError: model too slow on q5" in output


def test_show_full_prints_every_record(url: str) -> None:
    code, output = invoke("show", "baseline", "--full", "-e", "eval_cli", "--storage", url)
    assert code == 0, output
    for number in range(8):
        assert f'"question": "q{number}"' in output


def test_unknown_names_get_the_closest_existing_ones(url: str) -> None:
    code, output = invoke("show", "baseline2", "--storage", url)
    assert code == 1
    assert "no experiment 'baseline2'" in output
    assert "did you mean 'baseline'" in output
    code, output = invoke("show", "baseline", "--evaluation", "eval_cl", "--storage", url)
    assert code == 1
    assert "did you mean" in output
    assert "eval_cli" in output


@pytest.mark.parametrize("name", ["../x", "/abs/path", "a\x00b"])
def test_names_escaping_the_store_are_refused(url: str, name: str) -> None:
    for command in (["show", name], ["delete", "--yes", name], ["rename", "baseline", name]):
        code, output = invoke(*command, "--storage", url)
        assert code != 0
        assert "Error" in output
    assert invoke("show", "baseline", "--storage", url)[0] == 0  # nothing was touched


def test_rename(url: str) -> None:
    code, output = invoke("rename", "baseline", "gpt4-baseline", "--storage", url)
    assert code == 0, output
    assert doteval.load("gpt4-baseline", storage=url).counts.total == 8
    code, output = invoke("rename", "gpt4-baseline", "second", "--storage", url)
    assert code == 1
    assert "exists" in output


def test_delete_asks_unless_yes(url: str) -> None:
    code, output = invoke("delete", "baseline", "--storage", url, input="n\n")
    assert code == 1  # aborted
    assert "Delete experiment baseline (1 evaluation, 8 items, last run " in output
    assert "baseline" in [info.name for info in doteval.experiments(storage=url)]
    code, output = invoke("delete", "baseline", "--storage", url, input="y\n")
    assert code == 0, output
    code, output = invoke("delete", "second", "--yes", "--storage", url)
    assert code == 0, output
    assert doteval.experiments(storage=url) == []


def test_export_jsonl_to_stdout_and_csv_to_a_file(url: str, tmp_path: Path) -> None:
    code, output = invoke("export", "baseline", "--format", "jsonl", "--storage", url)
    assert code == 0, output
    lines = [json.loads(line) for line in output.splitlines()]
    assert [line["item_id"] for line in lines] == list(range(8))
    target = tmp_path / "out.csv"
    code, output = invoke(
        "export", "baseline", "--format", "csv", "-o", str(target), "--storage", url
    )
    assert code == 0, output
    assert "Wrote 8 records" in output
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert [row["item_id"] for row in rows] == [str(number) for number in range(8)]


def test_the_default_store_and_the_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DOTEVAL_STORAGE", raising=False)
    anyio.run(_run, "sqlite://.doteval/doteval.db", "in-cwd")
    assert "in-cwd" in invoke("list")[1]
    (tmp_path / "env").mkdir()
    monkeypatch.setenv("DOTEVAL_STORAGE", f"jsonl://{tmp_path / 'env'}")
    assert "No experiments" in invoke("list")[1]


def test_the_doteval_script_is_installed(url: str) -> None:
    script = Path(sys.executable).with_name("doteval")
    assert script.exists(), "reinstall doteval: pip install -e ."
    completed = subprocess.run(
        [str(script), "list", "--storage", url], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert "baseline" in completed.stdout


# Help, width and plain output ----------------------------------------------------------


def _commands() -> list[str]:
    return sorted(main.commands)


@pytest.mark.parametrize("command", ["", *_commands()])
def test_dash_h_is_help_on_every_command(command: str) -> None:
    args = [command] if command else []
    code, short = invoke(*args, "-h")
    assert code == 0, short
    assert short.startswith("Usage: ")
    assert short == invoke(*args, "--help")[1]


LONG_EXPERIMENT = "a-very-long-experiment-name-that-would-not-fit-in-a-narrow-column"


def _long_names(tmp_path: Path) -> str:
    url = f"sqlite://{tmp_path / 'long.db'}"
    anyio.run(_run, url, LONG_EXPERIMENT, "eval_with_a_rather_long_evaluation_name")
    return url


@pytest.mark.parametrize("columns", [None, "40"])
def test_piped_output_is_plain_and_never_cut(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, columns: str | None
) -> None:
    if columns is not None:
        monkeypatch.setenv("COLUMNS", columns)
    url = _long_names(tmp_path)
    for command in (
        ["list"],
        ["show", LONG_EXPERIMENT],
        ["show", LONG_EXPERIMENT, "--full"],
        ["show", LONG_EXPERIMENT, "--errors"],
    ):
        code, output = invoke(*command, "--storage", url)
        assert code == 0, output
        assert "\x1b" not in output
        assert not set(output) & set("─━│┃┏┓┗┛╭╮╰╯…")
        assert all(line == line.rstrip() for line in output.splitlines())
    code, output = invoke("datasets")
    assert code == 0, output
    assert not set(output) & set("─━│┃┏┓┗┛╭╮╰╯…")
    code, output = invoke("list", "--storage", url)
    row = next(line for line in output.splitlines() if "eval_with" in line)
    # One line per evaluation, whole: the experiment, the name, the counts, the metric.
    assert row.split()[:4] == [
        LONG_EXPERIMENT,
        "test_cli.eval_with_a_rather_long_evaluation_name",
        "8",
        "1",
    ]
    assert "exact_match.accuracy 0.625 ± 0.279 (95% CI 0.306–0.863, n=8)" in row


def _screen_of(argv: list[str], tmp_path: Path, columns: int, env_columns: str | None) -> list[str]:
    import os

    from pty_screen import run_in_pty, screen

    env = {key: value for key, value in os.environ.items() if key != "COLUMNS"}
    if env_columns is not None:
        env["COLUMNS"] = env_columns
    code, data = run_in_pty(argv, tmp_path, env, columns=columns)
    assert code == 0, data.decode(errors="replace")
    return screen(data, columns)


def test_a_terminal_gets_its_width_and_columns_wins(tmp_path: Path) -> None:
    experiment = "an-experiment-named-with-forty-letters-x"
    url = f"sqlite://{tmp_path / 'terminal.db'}"
    anyio.run(_run, url, experiment, "eval_long_name")
    script = str(Path(sys.executable).with_name("doteval"))
    argv = [script, "list", "--storage", url]
    wide = _screen_of(argv, tmp_path, 200, None)
    narrow = _screen_of(argv, tmp_path, 200, "140")
    assert max(map(len, wide)) > 140  # the table takes the terminal's width...
    assert max(map(len, narrow)) <= 140  # ...or what COLUMNS says
    for lines in (wide, narrow):
        # The names are whole on one line; the metric wraps instead.
        assert any(experiment in line and "test_cli.eval_long_name" in line for line in lines)
        assert "…" not in "".join(lines)
    metric = "exact_match.accuracy 0.625 ± 0.279 (95% CI 0.306–0.863, n=8)"
    assert any(metric in line for line in wide)
    assert not any(metric in line for line in narrow)
    assert "(95% CI" in "".join(narrow)


# Missing stores ------------------------------------------------------------------------


READING = [
    ["list"],
    ["show", "baseline"],
    ["show", "baseline", "--errors"],
    ["export", "baseline"],
    ["check"],
    ["compare", "baseline", "second"],
    ["plan", "--items", "100", "--pilot", "baseline"],
    ["rename", "baseline", "other"],
    ["delete", "baseline", "--yes"],
    ["delete", "--older-than", "1d", "--dry-run"],
    ["report", "baseline"],
    # An address it cannot listen on: were the store not refused first, it would not serve.
    ["view", "--host", "203.0.113.1"],
]


@pytest.mark.parametrize("kind", ["sqlite", "jsonl"])
@pytest.mark.parametrize("command", READING, ids=" ".join)
def test_no_command_creates_a_store_that_is_not_there(
    tmp_path: Path, kind: str, command: list[str]
) -> None:
    where = tmp_path / "nowhere" / ("runs.db" if kind == "sqlite" else "runs")
    code, output = invoke(*command, "--storage", f"{kind}://{where}")
    assert code == 1, output
    assert f"there is no store at {where}" in output
    assert "--storage URL or the DOTEVAL_STORAGE environment variable" in output
    assert list(tmp_path.iterdir()) == []


def test_the_default_store_is_not_created_by_reading_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DOTEVAL_STORAGE", raising=False)
    code, output = invoke("list")
    assert code == 1
    assert f"there is no store at {tmp_path / '.doteval' / 'doteval.db'}" in output
    assert not (tmp_path / ".doteval").exists()


# Errors, as the user's code raised them ---------------------------------------------------

USER_FILE = """
import doteval
from doteval.evaluators import exact_match

ROWS = [{"question": str(n), "answer": str(n)} for n in range(12)]
PRICES = {"0": 1.0}


def price_of(question):
    return PRICES[question]


def check(question):
    if question == "7":
        try:
            price_of("missing")
        except KeyError as error:
            raise ValueError("no price for item 7") from error


@doteval.foreach("question,answer", ROWS)
async def eval_prices(question, answer):
    check(question)
    if int(question) % 3 == 1:
        price_of(question)
    return exact_match(question, answer)


if __name__ == "__main__":
    doteval.run(eval_prices, experiment="prices", retries=0, progress=False)
"""


@pytest.fixture
def user_store(tmp_path: Path) -> str:
    """A store written as a user would: by running their script."""
    (tmp_path / "eval_prices.py").write_text(USER_FILE, encoding="utf-8")
    url = f"sqlite://{tmp_path / 'user.db'}"
    env = {**__import__("os").environ, "DOTEVAL_STORAGE": url}
    done = subprocess.run(
        [sys.executable, "eval_prices.py"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return url


def test_show_errors_trims_tracebacks_to_the_users_code(user_store: str) -> None:
    code, output = invoke("show", "prices", "--errors", "--storage", user_store)
    assert code == 0, output
    lines = output.splitlines()
    # Grouped by type, most frequent first: items 1, 4 and 10 raise KeyError
    # too), item 7 a ValueError chained to a KeyError.
    key_error = lines.index(
        "KeyError on 3 of 12 items, for example item 1, row {'question': '1', 'answer': '1'}"
    )
    assert lines[key_error + 1 : key_error + 8] == [
        "eval_prices.py:25: in eval_prices",
        "    price_of(question)",
        "eval_prices.py:10: in price_of",
        "    return PRICES[question]",
        lines[key_error + 5],
        "E   KeyError: '1'",
        "",
    ]
    assert re.fullmatch(r"  \.\.\. \d+ frames? of doteval hidden", lines[key_error + 5])
    value_error = lines.index(
        "ValueError on 1 of 12 items, for example item 7, row {'question': '7', 'answer': '7'}"
    )
    chained = lines[value_error + 1 :]
    assert chained[:6] == [
        "eval_prices.py:16: in check",
        '    price_of("missing")',
        "eval_prices.py:10: in price_of",
        "    return PRICES[question]",
        "E   KeyError: 'missing'",
        "",
    ]
    assert chained[6] == "The above exception was the direct cause of the following exception:"
    assert chained[8:13] == [
        "eval_prices.py:23: in eval_prices",
        "    check(question)",
        "eval_prices.py:18: in check",
        '    raise ValueError("no price for item 7") from error',
        chained[12],
    ]
    assert re.fullmatch(r"  \.\.\. \d+ frames? of doteval hidden", chained[12])
    assert chained[13] == "E   ValueError: no price for item 7"
    assert "_private" not in output
    assert "Traceback (most recent call last)" not in output


def test_show_errors_full_gives_the_whole_stored_traceback(user_store: str) -> None:
    code, output = invoke("show", "prices", "--errors", "--full", "--storage", user_store)
    assert code == 0, output
    assert "KeyError on 3 of 12 items" in output
    assert output.count("Traceback (most recent call last):") == 3  # 1 + a chain of 2
    assert "doteval/_private/run/item.py" in output
    assert 'File "' in output
    assert 'eval_prices.py", line 25, in eval_prices' in output


# Filters, deleting several, counts and times -----------------------------------------------


def test_list_filters_by_name_glob_and_status(url: str) -> None:
    storage = doteval.storage.open_storage(url)
    import os
    import time

    from doteval.storage import Lease

    live = Lease("parent", os.getppid(), Lease.mine().host, time.time())
    storage.begin("seconds-live", "some.eval_live", live, {})
    code, output = invoke("list", "--name", "sec*", "--storage", url)
    assert code == 0, output
    assert "second" in output
    assert "seconds-live" in output
    assert "baseline" not in output
    code, output = invoke("list", "--status", "running", "--storage", url)
    assert "seconds-live" in output
    assert "baseline" not in output
    assert "eval_other" not in output
    code, output = invoke("list", "--status", "running", "--status", "completed", "--storage", url)
    assert all(name in output for name in ("seconds-live", "second", "baseline"))
    code, output = invoke("list", "--name", "base*", "--status", "running", "--storage", url)
    assert code == 0
    assert "No experiments in" in output
    assert "match --name base* and --status running" in output
    code, output = invoke("list", "--status", "finished", "--storage", url)
    assert code == 2
    assert "'finished' is not one of" in output


def test_delete_several_names_asks_once_and_lists_them(url: str) -> None:
    code, output = invoke("delete", "baseline", "second", "--storage", url, input="n\n")
    assert code == 1
    assert "  baseline (1 evaluation, 8 items, last run " in output
    assert "Delete these 2 experiments from " in output
    assert len(doteval.experiments(storage=url)) == 2
    code, output = invoke("delete", "baseline", "second", "--storage", url, input="y\n")
    assert code == 0, output
    assert "Deleted baseline." in output
    assert "Deleted second." in output
    assert doteval.experiments(storage=url) == []


def test_delete_older_than_with_a_dry_run(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import time
    import types

    from doteval._private.cli import experiments as commands

    code, output = invoke("delete", "--older-than", "30d", "--dry-run", "--storage", url)
    assert code == 0, output
    assert "No experiments in" in output
    assert "were last run that long ago" in output
    # 31 days later, both are older than 30 days.
    later = time.time() + 31 * 86400
    monkeypatch.setattr(commands, "time", types.SimpleNamespace(time=lambda: later))
    code, output = invoke("delete", "--older-than", "30d", "--dry-run", "--storage", url)
    assert code == 0, output
    assert "Would delete 2 experiments from" in output
    assert "  second (1 evaluation, 8 items" in output
    assert "  baseline (" in output
    assert len(doteval.experiments(storage=url)) == 2  # a dry run deletes nothing
    code, output = invoke("delete", "baseline", "--older-than", "32d", "--yes", "--storage", url)
    assert "were last run that long ago" in output
    code, output = invoke("delete", "--older-than", "4w", "--yes", "--storage", url)
    assert code == 0, output
    assert doteval.experiments(storage=url) == []


@pytest.mark.parametrize("age", ["30", "30y", "d", "-1d", "thirty days"])
def test_delete_older_than_names_a_bad_age(url: str, age: str) -> None:
    code, output = invoke("delete", "--older-than", age, "--storage", url)
    assert code == 2
    assert "expected an age such as 30d, 12h, 90m or 2w" in output
    assert len(doteval.experiments(storage=url)) == 2


def test_delete_needs_names_or_an_age(url: str) -> None:
    code, output = invoke("delete", "--yes", "--storage", url)
    assert code == 2
    assert "name the experiments to delete, or pass --older-than AGE" in output


def test_deleting_a_running_experiment_is_refused_and_the_others_go(url: str) -> None:
    import os
    import time

    from doteval.storage import Lease

    storage = doteval.storage.open_storage(url)
    live = Lease("parent", os.getppid(), Lease.mine().host, time.time())
    storage.begin("live", "some.eval_live", live, {})
    code, output = invoke("delete", "live", "baseline", "--yes", "--storage", url)
    assert code == 1
    assert "is already being run by" in output
    assert "Deleted baseline." in output
    assert [info.name for info in doteval.experiments(storage=url)] == ["live", "second"]


ISO = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d{3})?[+-]\d\d:\d\d")


def test_exported_timestamps_are_iso_8601_with_a_time_zone(url: str, tmp_path: Path) -> None:
    from datetime import datetime

    code, output = invoke("export", "baseline", "--storage", url)
    assert code == 0, output
    for line in map(json.loads, output.splitlines()):
        assert ISO.fullmatch(line["timestamp_iso"])
        moment = datetime.fromisoformat(line["timestamp_iso"])
        assert moment.tzinfo is not None
        assert abs(moment.timestamp() - line["timestamp"]) < 0.001  # the float is kept
    target = tmp_path / "out.csv"
    code, output = invoke(
        "export", "baseline", "--format", "csv", "-o", str(target), "--storage", url
    )
    assert code == 0, output
    stamps = [row["timestamp"] for row in csv.DictReader(io.StringIO(target.read_text()))]
    assert len(stamps) == 8
    assert all(ISO.fullmatch(stamp) and datetime.fromisoformat(stamp).tzinfo for stamp in stamps)


def test_list_and_show_give_times_in_one_iso_form(url: str) -> None:
    started = doteval.load("baseline", storage=url).started_at
    listed = ISO.findall(invoke("list", "--storage", url)[1])
    shown = ISO.findall(invoke("show", "baseline", "--storage", url)[1])
    assert len(listed) == 2
    assert len(shown) == 1
    assert shown[0] in listed
    from datetime import datetime

    assert abs(datetime.fromisoformat(shown[0]).timestamp() - started) < 1


def test_counts_get_thousands_separators(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'big.db'}"

    @doteval.foreach("n", range(1200))
    def eval_big(n: int) -> doteval.Score:
        if n < 1001:
            raise ValueError("too small")
        return exact_match(n, n)

    doteval.run(
        eval_big, experiment="big", storage=url, retries=0, progress=False, stop_after_errors=0
    )
    listed = next(
        line for line in invoke("list", "--storage", url)[1].splitlines() if "big" in line
    )
    assert listed.split()[2:4] == ["1,200", "1,001"]
    shown = invoke("show", "big", "--errors", "--storage", url)[1]
    assert "1,200 items, 1,001 errors" in shown
    assert "ValueError on 1,001 of 1,200 items" in shown
