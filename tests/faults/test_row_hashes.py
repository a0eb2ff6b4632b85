"""A resumed run in a new process recognises its rows, whatever order sets and dicts print in."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from doteval._private.storage.row_hash import canonical_row_hash

SCRIPT = textwrap.dedent(
    """
    import os, sys
    import doteval
    from doteval.evaluators import exact_match

    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
    ROWS = [
        {"tags": set(words[i % 5:]), "frozen": frozenset(words[:i % 4 + 2]),
         "meta": dict(sorted(((w, i) for w in words[:4]), reverse=i % 2 == 1)),
         "answer": str(i)}
        for i in range(30)
    ]
    FAIL = os.environ.get("FAIL") == "1"

    @doteval.foreach("tags,frozen,meta,answer", ROWS)
    def eval_sets(tags, frozen, meta, answer):
        if FAIL and int(answer) % 3 == 0:
            raise ConnectionError("try again")
        return exact_match(answer, answer)

    result = doteval.run(eval_sets, storage=sys.argv[1], experiment="sets", retries=0,
                         progress=False)
    print(result.counts.total, result.counts.errors)
    """
)


@pytest.mark.parametrize("kind", ["sqlite", "jsonl"])
def test_rows_with_sets_resume_in_a_process_with_another_hash_seed(
    kind: str, tmp_path: Path
) -> None:
    script = tmp_path / "eval_sets.py"
    script.write_text(SCRIPT)
    url = f"{kind}://{tmp_path / 'store'}"

    def run(seed: str, fail: str) -> str:
        done = subprocess.run(
            [sys.executable, str(script), url],
            env={**os.environ, "PYTHONHASHSEED": seed, "FAIL": fail},
            capture_output=True,
            text=True,
            cwd=tmp_path,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert run("1", "1") == "30 10"
    assert run("2", "0") == "30 0"  # resumed: the 10 failures ran again, no DatasetChangedError


def test_the_canonical_hash_ignores_set_and_dict_order_but_not_content() -> None:
    a = {"s": {3, 1, 2}, "d": {"x": 1, "y": [1.5, None]}, "f": frozenset("ab")}
    b = {"f": frozenset("ba"), "d": {"y": [1.5, None], "x": 1}, "s": {2, 3, 1}}
    assert canonical_row_hash(a) == canonical_row_hash(b)
    assert canonical_row_hash(a) != canonical_row_hash({**a, "s": {1, 2}})
    assert canonical_row_hash([1, 2]) != canonical_row_hash([2, 1])
    assert canonical_row_hash({1: "a", "1": "a"}) != canonical_row_hash({1: "a"})
    assert -(2**63) <= canonical_row_hash(a) < 2**63
