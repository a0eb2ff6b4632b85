"""The loaders of ``doteval.datasets``: local and fsspec files, and the ``datasets`` library."""

from __future__ import annotations

import json
import operator
import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import doteval
from doteval import DatasetError, Score, foreach
from doteval.datasets import BadRow, csv, huggingface, jsonl, parquet
from doteval.evaluators import exact_match

ROWS = [{"question": f"q{i}", "answer": f"a{i}"} for i in range(5)]


def write_jsonl(path: Path, rows: list[Any] | None = None, lines: list[str] | None = None) -> Path:
    if lines is None:
        lines = [json.dumps(row) for row in (ROWS if rows is None else rows)]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def write_parquet(path: Path, rows: list[dict[str, Any]] = ROWS, **options: Any) -> Path:
    pq.write_table(pa.Table.from_pylist(rows), path, **options)
    return path


async def run_rows(dataset: Any, columns: str = "question,answer", **options: Any) -> Any:
    """Run an evaluation over ``dataset`` that checks nothing: the records show the rows."""

    @foreach(columns, dataset)
    async def evaluate(**row: Any) -> Score:
        return Score("seen", True)

    return await evaluate(progress=False, **options)


def errors_by_item(result: Any) -> dict[int, str]:
    return {record.item_id: record.error.message for record in result.errors}


# --- reading ---------------------------------------------------------------------------


def test_jsonl_rows_are_dicts_and_the_dataset_reads_afresh_each_time(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "data.jsonl")
    dataset = jsonl(path)
    assert list(dataset) == ROWS
    assert list(dataset) == ROWS  # no exhausted iterator: the file is read again
    write_jsonl(path, ROWS[:2])
    assert list(dataset) == ROWS[:2]  # and really read again, not remembered


async def test_an_evaluation_over_a_file_runs_every_time(tmp_path: Path) -> None:
    dataset = jsonl(write_jsonl(tmp_path / "data.jsonl"))

    @foreach("question,answer", dataset)
    async def evaluate(question: str, answer: str) -> Score:
        return exact_match(answer, f"a{question[1:]}")

    for _ in range(2):
        result = await evaluate(progress=False)
        assert result.counts.total == 5
        assert result.summary["exact_match"]["accuracy"] == 1.0
        assert [record.row for record in result.records] == ROWS


def test_blank_lines_and_a_byte_order_mark_are_not_rows(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"x": 1}\n\n   \n{"x": 2}\r\n')
    assert list(jsonl(path)) == [{"x": 1}, {"x": 2}]


@pytest.mark.parametrize("loader", [jsonl, csv], ids=["jsonl", "csv"])
def test_rows_are_read_as_the_file_arrives_not_all_at_once(tmp_path: Path, loader: Any) -> None:
    """A FIFO gives its second line only after the test saw the first row: a loader that
    read the whole file first would wait for it forever (here: time out)."""
    fifo = tmp_path / "stream"
    os.mkfifo(fifo)
    first_seen = threading.Event()
    if loader is jsonl:
        head, tail = '{"n": "1"}\n', '{"n": "2"}\n'
    else:
        head, tail = "n\n1\n", "2\n"

    def write() -> None:
        with open(fifo, "w", encoding="utf-8") as pipe:
            pipe.write(head)
            pipe.flush()
            if first_seen.wait(timeout=10):
                pipe.write(tail)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        rows = iter(loader(fifo))
        assert next(rows) == {"n": "1"}
        first_seen.set()
        assert list(rows) == [{"n": "2"}]
    finally:
        first_seen.set()
        writer.join()


def test_csv_values_are_strings_and_options_reach_the_reader(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text('question;answer\n"a;b";1\n\nc;"multi\nline"\n', encoding="utf-8")
    assert list(csv(path, delimiter=";")) == [
        {"question": "a;b", "answer": "1"},
        {"question": "c", "answer": "multi\nline"},
    ]


def test_csv_fieldnames_for_a_file_without_header(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("q0,a0\nq1,a1\n", encoding="utf-8")
    assert list(csv(path, fieldnames=["question", "answer"])) == ROWS[:2]


def test_csv_with_a_misspelt_option_fails_at_once(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="delimeter"):
        csv(tmp_path / "data.csv", delimeter=";")


def test_parquet_rows_come_in_batches_across_row_groups(tmp_path: Path) -> None:
    rows = [{"question": f"q{i}", "answer": i} for i in range(2500)]
    dataset = parquet(write_parquet(tmp_path / "data.parquet", rows, row_group_size=700))
    assert list(dataset) == rows
    assert list(dataset) == rows


# --- length ----------------------------------------------------------------------------


def test_parquet_knows_its_length_without_defining_len(tmp_path: Path) -> None:
    dataset = parquet(write_parquet(tmp_path / "data.parquet"))
    assert dataset.length == 5
    assert operator.length_hint(dataset) == 5
    rows = iter(dataset)
    assert operator.length_hint(rows) == 5  # the run's iterator says what is left
    next(rows)
    assert operator.length_hint(rows) == 4
    assert not hasattr(dataset, "__len__")


def test_a_jsonl_or_csv_file_does_not_claim_a_length(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("a\n1\n", encoding="utf-8")
    for dataset in (jsonl(write_jsonl(tmp_path / "data.jsonl")), csv(tmp_path / "data.csv")):
        assert dataset.length is None
        assert operator.length_hint(dataset, -1) == -1
        assert operator.length_hint(iter(dataset), -1) == -1
        with pytest.raises(TypeError):
            len(dataset)  # type: ignore[arg-type]


# --- columns and transform -------------------------------------------------------------


def test_columns_rename_and_keep_the_other_columns(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "data.jsonl", [{"problem": "p", "solution": "s", "id": 1}])
    dataset = jsonl(path, columns={"question": "problem", "answer": "solution"})
    assert list(dataset) == [{"question": "p", "answer": "s", "id": 1}]


def test_transform_sees_the_renamed_row_and_returns_the_row(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "data.parquet", [{"problem": "p", "n": 2}])
    dataset = parquet(
        path,
        columns={"question": "problem"},
        transform=lambda row: {**row, "answer": str(row["n"] * 2)},
    )
    assert list(dataset) == [{"question": "p", "n": 2, "answer": "4"}]


@pytest.mark.parametrize("kind", ["csv", "parquet"])
async def test_a_column_missing_from_the_file_is_one_error_before_any_item(
    tmp_path: Path, kind: str
) -> None:
    if kind == "csv":
        path = tmp_path / "data.csv"
        path.write_text("problem,answer\np,a\n", encoding="utf-8")
        dataset: Any = csv(path, columns={"question": "problm"})
    else:
        dataset = parquet(
            write_parquet(tmp_path / "data.parquet", [{"problem": "p", "answer": "a"}]),
            columns={"question": "problm"},
        )
    called = []

    @foreach("question,answer", dataset)
    async def evaluate(question: str, answer: str) -> Score:
        called.append(question)
        return Score("seen", True)

    with pytest.raises(DatasetError, match=r"no column 'problm'.*columns are 'problem', 'answer'"):
        await evaluate(progress=False)
    assert called == []


async def test_a_jsonl_line_without_a_renamed_key_is_that_items_error(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "data.jsonl", [{"problem": "p", "answer": "a"}, {"answer": "b"}])
    result = await run_rows(jsonl(path, columns={"question": "problem"}))
    assert result.counts.total == 2
    assert errors_by_item(result) == {
        1: f"{path}, line 2: no key 'problem', which columns= renames "
        f"({{'question': 'problem'}}); the keys are 'answer'"
    }


async def test_a_transform_that_raises_fails_that_item_only(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "data.jsonl", [{"n": "1"}, {"n": "x"}, {"n": "3"}])
    result = await run_rows(
        jsonl(path, transform=lambda row: {"number": int(row["n"])}), columns="number"
    )
    assert [record.row for record in result.records if record.error is None] == [
        {"number": 1},
        {"number": 3},
    ]
    message = errors_by_item(result)[1]
    assert message.startswith(f"{path}, line 2: transform= raised ValueError: invalid literal")


@pytest.mark.parametrize("columns", [["question"], {"question": 1}])
def test_columns_must_map_names_to_names(tmp_path: Path, columns: Any) -> None:
    with pytest.raises(TypeError, match="columns= maps new names to names in the file"):
        jsonl(tmp_path / "data.jsonl", columns=columns)


# --- malformed input -------------------------------------------------------------------


async def test_a_bad_jsonl_line_is_an_error_record_and_the_rest_runs(
    tmp_path: Path, store_url: str
) -> None:
    path = write_jsonl(
        tmp_path / "data.jsonl",
        lines=[
            json.dumps(ROWS[0]),
            '{"question": "q1", "answer": ',
            "[1, 2]",
            "42",
            json.dumps(ROWS[4]),
        ],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "stored as its repr" warning from the store
        result = await run_rows(jsonl(path), storage=store_url, experiment="bad-lines")
    assert result.counts.total == 5
    errors = errors_by_item(result)
    assert errors == {
        1: f"{path}, line 2: invalid JSON: Expecting value at column 30",
        2: f"{path}, line 3: the line is an array, not a JSON object; each line must be one "
        'object, such as {"question": "...", "answer": "..."}',
        3: f"{path}, line 4: the line is a number, not a JSON object; each line must be one "
        'object, such as {"question": "...", "answer": "..."}',
    }
    assert {record.error.type for record in result.errors} == {"doteval.RowError"}
    stored = doteval.load("bad-lines", storage=store_url)
    assert [record.row for record in stored.records if record.item_id in (0, 4)] == [
        ROWS[0],
        ROWS[4],
    ]
    assert dict(stored.records[1].row) == {
        "message": errors[1],
        "raw": '{"question": "q1", "answer": ',
    }


async def test_a_resumed_run_over_a_file_with_bad_lines_skips_the_stored_rows(
    tmp_path: Path, store_url: str
) -> None:
    path = write_jsonl(
        tmp_path / "data.jsonl", lines=[json.dumps(ROWS[0]), "{", *map(json.dumps, ROWS[2:])]
    )
    seen: list[str] = []

    @foreach("question,answer", jsonl(path))
    async def evaluate(question: str, answer: str) -> Score:
        seen.append(question)
        return Score("seen", True)

    first = await evaluate(progress=False, storage=store_url, experiment="resume", samples=3)
    assert first.counts.total == 3
    assert sorted(seen) == ["q0", "q2"]
    second = await evaluate(progress=False, storage=store_url, experiment="resume")
    assert sorted(seen) == ["q0", "q2", "q3", "q4"]  # the bad line is tried again, the rest not
    assert second.counts.total == 5
    assert second.counts.errors == 1


def test_bad_rows_are_bad_row_objects_with_the_line(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "data.jsonl", lines=["{" + "x" * 500])
    (row,) = jsonl(path)
    assert isinstance(row, BadRow)
    assert row.message.startswith(f"{path}, line 1: invalid JSON:")
    assert row.raw.startswith("{xxx")
    assert len(row.raw) == 200


def test_undecodable_bytes_are_that_lines_error(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_bytes(b'{"x": "\xff"}\n{"x": "ok"}\n')
    first, second = jsonl(path)
    assert isinstance(first, BadRow)
    assert first.message.startswith(f"{path}, line 1: not utf-8 text (invalid start byte")
    assert second == {"x": "ok"}
    assert list(jsonl(path, encoding="latin-1")) == [{"x": "ÿ"}, {"x": "ok"}]


async def test_a_csv_record_with_the_wrong_number_of_fields_is_its_items_error(
    tmp_path: Path,
) -> None:
    path = tmp_path / "data.csv"
    path.write_text('question,answer\nq0,a0\nq1,a1,extra\n"q\n2"\nq3,a3\n', encoding="utf-8")
    result = await run_rows(csv(path))
    assert result.counts.total == 4
    assert errors_by_item(result) == {
        1: f"{path}, line 3: 3 fields, but the header has 2 (question, answer); quote values "
        "that contain the delimiter ','",
        2: f"{path}, line 4: 1 fields, but the header has 2 (question, answer); quote values "
        "that contain the delimiter ','",
    }
    assert [r.row for r in result.records if r.error is None] == [
        {"question": "q0", "answer": "a0"},
        {"question": "q3", "answer": "a3"},
    ]


def test_a_csv_header_naming_a_column_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("a,b,a\n1,2,3\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"names the column.s. a more than once"):
        iter(csv(path))


@pytest.mark.parametrize("loader", [jsonl, csv, parquet], ids=["jsonl", "csv", "parquet"])
async def test_a_missing_file_is_one_error_when_the_evaluation_is_called(
    tmp_path: Path, loader: Any
) -> None:
    dataset = loader(tmp_path / "missing" / "data.file")  # making it does not need the file
    called = []

    @foreach("question,answer", dataset)
    async def evaluate(question: str, answer: str) -> Score:
        called.append(question)
        return Score("seen", True)

    with pytest.raises(FileNotFoundError, match="does not exist") as raised:
        await evaluate(progress=False)
    assert str(tmp_path / "missing" / "data.file") in str(raised.value)
    assert called == []


def test_a_directory_is_not_a_dataset_file(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError, match="is a directory; pass the path of one file"):
        iter(jsonl(tmp_path))


def test_a_file_that_is_not_parquet_is_named(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "data.parquet")
    with pytest.raises(DatasetError, match=r"data.parquet is not a readable Parquet file"):
        iter(parquet(path))


@pytest.mark.parametrize("path", [None, 3, ""])
def test_a_path_must_be_a_path(path: Any) -> None:
    with pytest.raises(TypeError, match=r"jsonl\(\) takes the path of a file"):
        jsonl(path)


# --- fsspec URLs -----------------------------------------------------------------------


@pytest.fixture
def memory_files() -> Any:
    fsspec = pytest.importorskip("fsspec")
    filesystem = fsspec.filesystem("memory")
    yield filesystem
    filesystem.rm("/doteval-tests", recursive=True)


def test_urls_are_read_through_fsspec(memory_files: Any) -> None:
    with memory_files.open("/doteval-tests/data.jsonl", "wb") as handle:
        handle.write(b'{"question": "q0", "answer": "a0"}\nnot json\n')
    with memory_files.open("/doteval-tests/data.csv", "wb") as handle:
        handle.write(b"question,answer\nq0,a0\n")
    with memory_files.open("/doteval-tests/data.parquet", "wb") as handle:
        pq.write_table(pa.Table.from_pylist(ROWS[:1]), handle)

    good, bad = jsonl("memory://doteval-tests/data.jsonl")
    assert good == ROWS[0]
    assert bad.message.startswith("memory://doteval-tests/data.jsonl, line 2: invalid JSON")
    assert list(csv("memory://doteval-tests/data.csv")) == ROWS[:1]
    dataset = parquet("memory://doteval-tests/data.parquet")
    assert list(dataset) == ROWS[:1]
    assert dataset.length == 1
    with pytest.raises(FileNotFoundError, match=r"memory://doteval-tests/nope.jsonl does not"):
        iter(jsonl("memory://doteval-tests/nope.jsonl"))


def test_a_url_without_fsspec_says_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fsspec", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r"s3://bucket/data.jsonl needs fsspec.*pip install"):
        jsonl("s3://bucket/data.jsonl")


def test_a_windows_drive_is_not_a_url() -> None:
    from doteval._private.datasets.paths import is_url

    assert not is_url("C:\\data\\x.jsonl")
    assert is_url("s3://bucket/x.jsonl")
    assert is_url("memory://x")
    assert is_url("git+ssh://x")


# --- optional libraries ----------------------------------------------------------------


def test_parquet_without_pyarrow_says_how_to_install_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ImportError, match=r'pip install "\.\[parquet\]" in a checkout'):
        parquet(tmp_path / "data.parquet")


def test_huggingface_without_datasets_says_how_to_install_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(ImportError, match=r'pip install "\.\[huggingface\]" in a checkout'):
        huggingface("openai/gsm8k", split="test", config="main")


# --- the Hugging Face datasets library -------------------------------------------------


@pytest.fixture
def hf_cache(tmp_path: Path) -> Path:
    """Where conftest.py points the library's cache for this test."""
    return tmp_path / "hf-cache"


@pytest.mark.parametrize("streaming", [True, False], ids=["streamed", "prepared"])
async def test_huggingface_reads_local_data_files(
    tmp_path: Path, hf_cache: Path, streaming: bool
) -> None:
    write_jsonl(tmp_path / "test.jsonl", [{"problem": r["question"], **r} for r in ROWS])
    dataset = huggingface(
        "json",
        split="test",
        streaming=streaming,
        data_files={"test": str(tmp_path / "test.jsonl")},
        columns={"prompt": "problem"},
    )
    expected = [{"prompt": r["question"], **r} for r in ROWS]
    assert list(dataset) == expected
    assert list(dataset) == expected
    assert dataset.length == (None if streaming else 5)
    result = await run_rows(dataset, "prompt,answer")
    assert result.counts.total == 5
    assert not result.errors
    if not streaming:
        assert any(hf_cache.iterdir())  # prepared in the cache the test chose


def test_huggingface_reads_a_local_directory_by_name(tmp_path: Path) -> None:
    directory = tmp_path / "my_dataset"
    directory.mkdir()
    write_parquet(directory / "test-00000-of-00001.parquet")
    assert list(huggingface(str(directory), split="test")) == ROWS


def test_huggingface_names_a_missing_data_file(tmp_path: Path) -> None:
    dataset = huggingface("json", split="test", data_files={"test": "nope.jsonl"})
    with pytest.raises(FileNotFoundError, match=r"the data file nope.jsonl .* does not exist"):
        iter(dataset)


def test_huggingface_names_an_unknown_split(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "test.jsonl")
    dataset = huggingface("json", split="validation", data_files={"test": "test.jsonl"})
    with pytest.raises(DatasetError, match=r"'json' \(split 'validation'\).*validation"):
        iter(dataset)


def test_huggingface_offline_names_the_dataset_and_the_setting(tmp_path: Path) -> None:
    """The Hub cannot be reached from here: in offline mode the library does not try."""
    script = (
        "import doteval.datasets as d\n"
        "try:\n"
        "    iter(d.huggingface('openai/gsm8k', split='test', config='main'))\n"
        "except doteval.DatasetError as exc:\n"
        "    print(exc)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", "import doteval\n" + script],
        env={**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    message = completed.stdout
    assert "the dataset 'openai/gsm8k' (split 'test', config 'main')" in message
    assert "HF_DATASETS_OFFLINE" in message


def test_huggingface_needs_a_split() -> None:
    with pytest.raises(TypeError, match="one split's name"):
        huggingface("openai/gsm8k", split="")
