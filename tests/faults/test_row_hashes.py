"""A resumed run in a new process recognises its rows, whatever order sets and dicts print in."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import hypothesis
import hypothesis.strategies as st
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


@pytest.mark.parametrize(
    ("row", "stored"),
    [
        ({"question": "q1", "answer": "a1"}, 4156402424700570386),
        (
            {"q": "ünï ✓ 😀", "n": [1, 2, None, True], "k": {"b": 1, "a": None}},
            -8790276873620073060,
        ),
        ('a\x00b\n\t\x1f\x7f"\\/', -8677749978902310392),
        ({"z": [], "y": {}, "x": -(2**63), "w": 2**64 - 1}, 6545807899046417492),
        (12345, 8383533804853196449),
    ],
)
def test_rows_hash_as_the_stores_written_before_have_them(row: Any, stored: int) -> None:
    """Hashes a store holds (written by doteval before rows were hashed through orjson)."""
    assert canonical_row_hash(row) == stored


json_rows = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(alphabet=st.characters(exclude_categories=())),
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=12,
)


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(json_rows)
def test_a_row_hashes_as_its_canonical_json_form(row: Any) -> None:
    """The scheme: BLAKE2b of ``json`` with sorted keys, compact, not ASCII-escaped."""
    form = json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.blake2b(form.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    assert canonical_row_hash(row) == int.from_bytes(digest, "big", signed=True)
