"""Write the stores that doteval's first release (commit 4fad771) made, for the upgrade tests.

Run it with that release on the path, from the repository's root:

    git worktree add /tmp/doteval-v1 4fad771
    cd tests/faults/stores && PYTHONPATH=/tmp/doteval-v1/src python make_v1_stores.py v1

It stores one experiment, ``v1-run``, in a SQLite store and a JSON-lines store: an
evaluation of 40 rows over which 6 items failed (they run again on resume) and
``samples=30`` stopped it early (a resume runs the last 10 rows too).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import doteval
from doteval.evaluators import exact_match

ROWS = [{"question": f"q{i}", "answer": f"a{i}", "tags": [i % 3, "x"]} for i in range(40)]
FAILING = {3, 4, 11, 17, 23, 29}


@doteval.foreach("question,answer,tags", ROWS)
def eval_upgrade(question: str, answer: str, tags: list[object]) -> doteval.Score:
    number = int(question[1:])
    if number in FAILING:
        raise ConnectionError(f"item {number} failed in the first run")
    return exact_match(f"a{number}" if number % 5 else "wrong", answer)


def main(target: Path) -> None:
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for url in (f"sqlite://{target / 'doteval.db'}", f"jsonl://{target / 'jsonl'}"):
        doteval.run(
            eval_upgrade, experiment="v1-run", storage=url, samples=30, retries=0, progress=False
        )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
