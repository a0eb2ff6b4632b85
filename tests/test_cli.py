"""The ``doteval`` command line: list, show, rename, delete, export."""

from __future__ import annotations

import csv
import io
import json
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
    code, output = invoke("list", "--storage", f"jsonl://{tmp_path / 'empty'}")
    assert code == 0
    assert "No experiments" in output


def test_show_prints_the_summary_table(url: str) -> None:
    code, output = invoke("show", "baseline", "--storage", url)
    assert code == 0, output
    assert "exact_match" in output
    assert "accuracy" in output
    assert "0.625" in output
    assert "8 items, 1 errors" in output


def test_show_errors_groups_them_by_type_with_examples(url: str) -> None:
    code, output = invoke("show", "baseline", "--errors", "--storage", url)
    assert code == 0, output
    assert "TimeoutError" in output
    assert "item 5: model too slow on q5" in output


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
    assert "Delete experiment baseline (1 evaluations, 8 items)" in output
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
