"""Benchmarks by name: the built-in ones on local copies in their Hub format, and plugins."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import doteval
from doteval import Score, foreach
from doteval._private.cli.main import main
from doteval.datasets import DatasetInfo, UnknownDatasetError, get, registered
from doteval.evaluators import exact_match, numeric_match
from doteval.testing import FakeModel
from plugin_packages import write_plugin

datasets = pytest.importorskip("datasets")


def hub_copy(root: Path, configs: dict[str, dict[str, datasets.Dataset]]) -> Path:
    """A local copy of a Hub dataset repository as the Hub lays it out: a README whose
    YAML header lists each config's files, and ``CONFIG/SPLIT-00000-of-00001.parquet``."""
    lines = ["---", "configs:"]
    for config, splits in configs.items():
        lines += [f"- config_name: {config}", "  data_files:"]
        for split, table in splits.items():
            (root / config).mkdir(parents=True, exist_ok=True)
            table.to_parquet(root / config / f"{split}-00000-of-00001.parquet")
            lines += [f"  - split: {split}", f"    path: {config}/{split}-*"]
    lines += ["---", "", "# A local copy for tests", ""]
    (root / "README.md").write_text("\n".join(lines), encoding="utf-8")
    return root


GSM8K_ROWS = {
    "question": [
        "Natalia sold clips to 48 of her friends in April, and then she sold half as many "
        "clips in May. How many clips did Natalia sell altogether in April and May?",
        "A shop sells 1200 pens a day. How many pens does it sell in 10 days?",
    ],
    "answer": [
        "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 "
        "clips altogether in April and May.\n#### 72",
        "It sells 1200*10 = <<1200*10=12000>>12,000 pens.\n#### 12,000",
    ],
}


@pytest.fixture
def gsm8k_copy(tmp_path: Path) -> Path:
    features = datasets.Features(
        {"question": datasets.Value("string"), "answer": datasets.Value("string")}
    )
    test = datasets.Dataset.from_dict(GSM8K_ROWS, features=features)
    train = datasets.Dataset.from_dict(
        {"question": ["What is 2+2?"], "answer": ["2+2 = 4\n#### 4"]}, features=features
    )
    return hub_copy(tmp_path / "gsm8k", {"main": {"train": train, "test": test}})


def test_gsm8k_exposes_the_final_answer_after_the_four_hashes(gsm8k_copy: Path) -> None:
    rows = list(get("gsm8k", split="test", path=gsm8k_copy))
    assert rows == [
        {
            "question": GSM8K_ROWS["question"][0],
            "reasoning": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = "
            "<<48+24=72>>72 clips altogether in April and May.",
            "answer": "72",
        },
        {
            "question": GSM8K_ROWS["question"][1],
            "reasoning": "It sells 1200*10 = <<1200*10=12000>>12,000 pens.",
            "answer": "12,000",
        },
    ]
    assert [row["question"] for row in get("gsm8k", "train", path=gsm8k_copy)] == ["What is 2+2?"]


def test_gsm8k_from_the_data_file_of_one_split(gsm8k_copy: Path) -> None:
    data_file = gsm8k_copy / "main" / "test-00000-of-00001.parquet"
    rows = list(get("gsm8k", split="test", data_files=data_file))
    assert [row["answer"] for row in rows] == ["72", "12,000"]
    prepared = get("gsm8k", split="test", data_files=str(data_file), streaming=False)
    assert prepared.length == 2  # type: ignore[attr-defined]


async def test_foreach_gsm8k_runs_an_evaluation_over_the_columns(gsm8k_copy: Path) -> None:
    model = FakeModel(answers={GSM8K_ROWS["question"][0]: "72", GSM8K_ROWS["question"][1]: "1"})

    @foreach.gsm8k("test", path=gsm8k_copy)
    async def eval_gsm8k(question: str, reasoning: str, answer: str, model: FakeModel) -> Score:
        return numeric_match(await model.generate(question), answer)

    assert eval_gsm8k.columns == ("question", "reasoning", "answer")
    result = await eval_gsm8k(model=model, progress=False)
    assert result.counts.total == 2
    assert result.summary["numeric_match"]["accuracy"] == 0.5


async def test_a_gsm8k_answer_without_the_marker_is_that_items_error(tmp_path: Path) -> None:
    rows = datasets.Dataset.from_dict({"question": ["q", "r"], "answer": ["4", "x\n#### 5"]})
    copy_ = hub_copy(tmp_path / "gsm8k", {"main": {"test": rows}})

    @foreach.gsm8k("test", path=copy_)
    async def eval_gsm8k(question: str, reasoning: str, answer: str) -> Score:
        return exact_match(answer, "5")

    result = await eval_gsm8k(progress=False)
    (error,) = result.errors
    assert error.item_id == 0
    assert "row index 0: transform= raised ValueError: its answer has no '#### <final answer>'" in (
        error.error.message  # type: ignore[union-attr]
    )
    assert result.summary["exact_match"]["accuracy"] == 0.5


@pytest.fixture
def mmlu_copy(tmp_path: Path) -> Path:
    features = datasets.Features(
        {
            "question": datasets.Value("string"),
            "subject": datasets.Value("string"),
            "choices": datasets.Sequence(datasets.Value("string")),
            "answer": datasets.ClassLabel(names=["A", "B", "C", "D"]),
        }
    )
    algebra = {
        "question": ["Find the degree of Q(sqrt(2)) over Q."],
        "subject": ["abstract_algebra"],
        "choices": [["0", "4", "2", "6"]],
        "answer": [2],
    }
    anatomy = {
        "question": ["Which bone is in the arm?"],
        "subject": ["anatomy"],
        "choices": [["femur", "humerus", "tibia", "fibula"]],
        "answer": [1],
    }
    both = {key: algebra[key] + anatomy[key] for key in algebra}
    return hub_copy(
        tmp_path / "mmlu",
        {
            "all": {"test": datasets.Dataset.from_dict(both, features=features)},
            "abstract_algebra": {"test": datasets.Dataset.from_dict(algebra, features=features)},
        },
    )


def test_mmlu_gives_the_answer_as_a_letter(mmlu_copy: Path) -> None:
    assert list(get("mmlu", split="test", path=mmlu_copy)) == [
        {
            "question": "Find the degree of Q(sqrt(2)) over Q.",
            "subject": "abstract_algebra",
            "choices": ["0", "4", "2", "6"],
            "answer": "C",
        },
        {
            "question": "Which bone is in the arm?",
            "subject": "anatomy",
            "choices": ["femur", "humerus", "tibia", "fibula"],
            "answer": "B",
        },
    ]
    one_subject = list(get("mmlu", split="test", path=mmlu_copy, config="abstract_algebra"))
    assert [row["subject"] for row in one_subject] == ["abstract_algebra"]


@pytest.fixture
def humaneval_copy(tmp_path: Path) -> Path:
    rows = {
        "task_id": ["HumanEval/0"],
        "prompt": ['def add(a, b):\n    """Return a + b."""\n'],
        "canonical_solution": ["    return a + b\n"],
        "test": ["def check(candidate):\n    assert candidate(1, 2) == 3\n"],
        "entry_point": ["add"],
    }
    table = datasets.Dataset.from_dict(rows)
    return hub_copy(tmp_path / "humaneval", {"openai_humaneval": {"test": table}})


async def test_humaneval_rows_run_their_own_tests(humaneval_copy: Path) -> None:
    @foreach.humaneval("test", path=humaneval_copy)
    def eval_humaneval(
        task_id: str, prompt: str, canonical_solution: str, test: str, entry_point: str
    ) -> Score:
        namespace: dict[str, Any] = {}
        exec(prompt + canonical_solution + test, namespace)  # trusted fixture code
        namespace["check"](namespace[entry_point])
        return Score("passed", True)

    result = await eval_humaneval(progress=False)
    assert result.counts.total == 1
    assert not result.errors
    assert result.records[0].row["task_id"] == "HumanEval/0"


# --- names, splits, errors -------------------------------------------------------------


def test_an_unknown_split_lists_the_splits() -> None:
    with pytest.raises(
        ValueError, match="gsm8k has no split 'validation'; its splits are train, test"
    ):
        get("gsm8k", split="validation")


def test_an_unknown_dataset_lists_the_datasets() -> None:
    with pytest.raises(
        UnknownDatasetError, match=r"no dataset named 'gsm9k'.*gsm8k, humaneval, mmlu"
    ):
        get("gsm9k", split="test")
    with pytest.raises(AttributeError, match=r"foreach.gsm9k: no dataset named 'gsm9k'"):
        foreach.gsm9k  # noqa: B018


def test_foreach_still_behaves_as_an_object() -> None:
    assert not hasattr(foreach, "__wrapped__")
    assert not hasattr(foreach, "_private_thing")
    assert copy.copy(foreach) == foreach
    assert copy.deepcopy(doteval.ForEach(max_concurrency=3)) == doteval.ForEach(max_concurrency=3)


def test_data_files_must_be_of_one_known_format(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="must be files of one format"):
        get("gsm8k", split="test", data_files=[tmp_path / "a.parquet", tmp_path / "b.csv"])


def test_the_builtin_entries_describe_themselves() -> None:
    by_name = {info.name: info for info in registered()}
    assert by_name["gsm8k"].columns == ("question", "reasoning", "answer")
    assert by_name["gsm8k"].splits == ("train", "test")
    assert by_name["mmlu"].columns == ("question", "subject", "choices", "answer")
    assert by_name["humaneval"].splits == ("test",)
    assert "openai/openai_humaneval" in by_name["humaneval"].source


# --- third-party datasets --------------------------------------------------------------

TOY_PLUGIN = """
from doteval.datasets import DatasetInfo

def load(split, *, prefix="t"):
    return [{"text": f"{prefix}{i}", "label": split} for i in range(3)]

TOY = DatasetInfo("{name}", "text,label", "test,dev", "the toy plugin", load)
"""


def install_toy(site: Path, name: str, monkeypatch: pytest.MonkeyPatch | None = None) -> Path:
    module = f"{name}_plugin"
    write_plugin(
        site,
        f"doteval-{name}",
        {f"{module}.py": TOY_PLUGIN.replace("{name}", name)},
        {"doteval.datasets": {name: f"{module}:TOY"}},
    )
    if monkeypatch is not None:
        monkeypatch.syspath_prepend(str(site))
    return site


async def test_a_package_registers_a_dataset_through_an_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_toy(tmp_path / "site", "toyset", monkeypatch)
    assert "toyset" in {info.name for info in registered()}
    assert list(get("toyset", split="dev", prefix="x")) == [
        {"text": f"x{i}", "label": "dev"} for i in range(3)
    ]

    @foreach.toyset("test")
    async def eval_toy(text: str, label: str) -> Score:
        return exact_match(label, "test")

    result = await eval_toy(progress=False)
    assert result.counts.total == 3
    assert result.summary["exact_match"]["accuracy"] == 1.0


def test_a_plugin_whose_entry_point_fails_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    write_plugin(
        site,
        "doteval-broken",
        {"broken_dataset_plugin.py": "raise RuntimeError('no data today')\n"},
        {"doteval.datasets": {"brokenset": "broken_dataset_plugin:INFO"}},
    )
    write_plugin(
        site,
        "doteval-notinfo",
        {"notinfo_dataset_plugin.py": "INFO = [1, 2, 3]\n"},
        {"doteval.datasets": {"notinfo": "notinfo_dataset_plugin:INFO"}},
    )
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(
        LookupError, match=r"brokenset.*doteval-broken.*RuntimeError: no data today"
    ):
        get("brokenset", split="test")
    with pytest.raises(LookupError, match=r"not a doteval.datasets.DatasetInfo"):
        get("notinfo", split="test")
    with pytest.warns(UserWarning, match="of the package doteval-") as caught:
        names = {info.name for info in registered()}
    assert sorted(str(warning.message).split()[2] for warning in caught) == [
        "'brokenset'",
        "'notinfo'",
    ]
    assert {"gsm8k", "mmlu", "humaneval"} <= names
    code, output = _invoke("datasets")
    assert code == 0
    assert "gsm8k" in output
    assert "Cannot load" in output
    assert "no data today" in output


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_the_datasets_command_lists_name_columns_splits_and_source() -> None:
    code, output = _invoke("datasets")
    assert code == 0, output
    lines = {line.split()[0]: line for line in output.splitlines() if line.strip()}
    assert "question, reasoning, answer" in lines["gsm8k"]
    assert "train, test" in lines["gsm8k"]
    assert "openai/gsm8k" in lines["gsm8k"]
    assert "auxiliary_train" in output


def test_the_datasets_command_needs_neither_the_library_nor_the_plugin_in_process(
    tmp_path: Path,
) -> None:
    """Run as a user would, with a plugin installed and the datasets library unavailable."""
    site = install_toy(tmp_path / "site", "clitoy")
    script = textwrap.dedent(
        """
        import sys
        sys.modules["datasets"] = None  # as if the optional library were not installed
        sys.modules["pyarrow"] = None
        from doteval._private.cli.main import main
        main(["datasets"])
        """
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(site), *sys.path]),
            "COLUMNS": "200",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "clitoy" in completed.stdout
    assert "the toy plugin" in completed.stdout
    assert "gsm8k" in completed.stdout
    assert "question, reasoning, answer" in completed.stdout


def test_dataset_info_takes_names_as_a_string_or_a_sequence() -> None:
    info = DatasetInfo("x", "a, b", ["test"], "here", lambda split: [])
    assert info.columns == ("a", "b")
    assert info.splits == ("test",)
