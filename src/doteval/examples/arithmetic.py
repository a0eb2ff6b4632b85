"""Evaluate a fake model on 200 bundled arithmetic questions.

Run it with ``python -m doteval.examples.arithmetic``; no API key needed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib.resources import files

import doteval
from doteval.evaluators import numeric_match
from doteval.testing import FakeModel


def questions() -> Iterator[dict[str, str]]:
    """Read the bundled dataset lazily, one JSON line at a time."""
    with files("doteval.examples").joinpath("arithmetic.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            yield json.loads(line)


@doteval.foreach("question,answer", questions)
async def eval_arithmetic(question: str, answer: str, model: FakeModel) -> doteval.Score:
    """Does the model get simple arithmetic right?"""
    return numeric_match(await model.generate(question), answer)


def main() -> None:
    model = FakeModel(accuracy=0.9, latency=0.01)
    result = doteval.run(eval_arithmetic, model=model, max_concurrency=20)
    accuracy = result.summary["numeric_match"]["accuracy"]
    print(f"{result.evaluation}: accuracy {accuracy:.3f} over {result.counts.total} items")
    print(
        f"Look at every item: doteval show {result.experiment} --full, or in a browser: "
        f'doteval view (with the view extra: pip install ".[view]")'
    )


if __name__ == "__main__":
    main()
