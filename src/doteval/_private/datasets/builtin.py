"""The built-in benchmarks: GSM8K, MMLU and HumanEval, as the Hugging Face Hub has them."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from doteval._private.datasets.base import Transform
from doteval._private.datasets.hub import HuggingFaceDataset, huggingface
from doteval._private.datasets.info import DatasetInfo

_FORMATS = {".parquet": "parquet", ".jsonl": "json", ".json": "json", ".csv": "csv"}


def _format(name: str, data_files: Any) -> str:
    """The ``datasets`` builder for local files of one format, from their extension."""
    files = [data_files] if isinstance(data_files, (str, os.PathLike)) else list(data_files)
    kinds = set()
    for file in files:
        stem = os.fspath(file).removesuffix(".gz").removesuffix(".zst")
        kinds.add(_FORMATS.get(os.path.splitext(stem)[1]))
    if len(kinds) != 1 or None in kinds:
        raise ValueError(
            f"data_files= of the dataset {name} must be files of one format among "
            f"{', '.join(sorted(_FORMATS))}, got {data_files!r}"
        )
    return kinds.pop()  # type: ignore[return-value]


def hub_loader(
    name: str, repository: str, config: str | None, transform: Transform | None
) -> Callable[..., HuggingFaceDataset]:
    """How a built-in entry loads a split: from the Hub, a local copy of it, or local files."""

    def load(
        split: str,
        *,
        config: str | None = config,
        path: str | os.PathLike[str] | None = None,
        data_files: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
        streaming: bool = True,
        **load_options: Any,
    ) -> HuggingFaceDataset:
        if data_files is not None:
            if path is not None:
                raise TypeError(f"{name}: pass path= or data_files=, not both")
            return huggingface(
                _format(name, data_files),
                split,
                streaming=streaming,
                data_files={split: data_files},
                transform=transform,
                **load_options,
            )
        source = repository if path is None else os.fspath(path)
        return huggingface(source, split, config, streaming, transform=transform, **load_options)

    return load


def _gsm8k_row(row: dict[str, Any]) -> dict[str, Any]:
    reasoning, marker, final = row["answer"].rpartition("####")
    if not marker:
        raise ValueError("its answer has no '#### <final answer>' line")
    return {"question": row["question"], "reasoning": reasoning.strip(), "answer": final.strip()}


_LETTERS = "ABCD"


def _mmlu_row(row: dict[str, Any]) -> dict[str, Any]:
    index, choices = row["answer"], list(row["choices"])
    if not isinstance(index, int) or not 0 <= index < len(choices) or len(choices) > 4:
        raise ValueError(f"answer {index!r} is not the index of one of its {len(choices)} choices")
    return {
        "question": row["question"],
        "subject": row["subject"],
        "choices": choices,
        "answer": _LETTERS[index],
    }


BUILTIN = {
    info.name: info
    for info in (
        DatasetInfo(
            "gsm8k",
            "question,reasoning,answer",
            "train,test",
            "openai/gsm8k (config main) on the Hugging Face Hub",
            hub_loader("gsm8k", "openai/gsm8k", "main", _gsm8k_row),
            "Grade-school math word problems. `answer` is the final answer: the text after "
            "`####` in the Hub's answer, as written (it may hold a comma: compare with "
            "numeric_match); `reasoning` is the worked solution before it.",
        ),
        DatasetInfo(
            "mmlu",
            "question,subject,choices,answer",
            "test,validation,dev,auxiliary_train",
            "cais/mmlu (config all, or one subject) on the Hugging Face Hub",
            hub_loader("mmlu", "cais/mmlu", "all", _mmlu_row),
            "Four-choice questions in 57 subjects. `choices` is the list of four options, "
            "`answer` the letter (A-D) of the right one; config= picks one subject "
            "(e.g. 'abstract_algebra').",
        ),
        DatasetInfo(
            "humaneval",
            "task_id,prompt,canonical_solution,test,entry_point",
            "test",
            "openai/openai_humaneval on the Hugging Face Hub",
            hub_loader("humaneval", "openai/openai_humaneval", "openai_humaneval", None),
            "164 Python functions to complete from their signature and docstring "
            "(`prompt`); `test` defines check(candidate), to call with the function "
            "named `entry_point`. Running generated code is up to you: sandbox it.",
        ),
    )
}
