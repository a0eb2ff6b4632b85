"""Records encoded for the store read back exactly as the standard library's JSON wrote them.

Plain records go through orjson (fast), every other one through ``json`` (as before):
whichever path a record takes, what is read back must not change.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import enum
import json
import math
import uuid
from typing import Any, NamedTuple

import anyio
import hypothesis
import hypothesis.strategies as st
import numpy as np
import pytest

import doteval
from doteval.evaluators import exact_match
from doteval.metrics import accuracy
from doteval.storage import Record, RecordEncoder, decode_record, record_from_document


class Point(NamedTuple):
    x: int
    y: int


class Color(enum.Enum):
    RED = 1


class Level(enum.IntEnum):
    HIGH = 3


class Name(str, enum.Enum):
    ALICE = "alice"


class Text(str):
    pass


class Number(float):
    pass


@dataclasses.dataclass
class Box:
    size: int


def _cycle() -> list[Any]:
    found: list[Any] = []
    found.append(found)
    return found


def _deep(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = [value]
    return value


FLOATS = [0.1, 1.0, 1e16, 1e-7, 1.5e300, 5e-324]
NESTED = {"a": [1, {"b": [None, "c"]}], "d": {}}

# (value, what reads back, whether the encoder notes a replaced value)
KINDS: list[tuple[str, Any, Any, bool]] = [
    ("str", "text", "text", False),
    ("empty str", "", "", False),
    ("unicode", "ünïcødé ✓ 😀 中文", "ünïcødé ✓ 😀 中文", False),
    ("control characters", 'a\x00b\n\t\x1f\x7f"\\/', 'a\x00b\n\t\x1f\x7f"\\/', False),
    ("lone surrogate", "bad \ud800 half", "bad \ud800 half", False),
    ("int", 42, 42, False),
    ("negative int", -7, -7, False),
    ("64-bit ints", [2**63 - 1, -(2**63), 2**64 - 1], [2**63 - 1, -(2**63), 2**64 - 1], False),
    ("big ints", [2**64, 10**30, -(10**40)], [2**64, 10**30, -(10**40)], False),
    ("bools", [True, False], [True, False], False),
    ("None", None, None, False),
    ("floats", FLOATS, FLOATS, False),
    ("negative zero", -0.0, -0.0, False),
    ("nan", math.nan, math.nan, False),
    ("infinities", [math.inf, -math.inf], [math.inf, -math.inf], False),
    ("nan deep inside", {"a": [{"b": math.nan}]}, {"a": [{"b": math.nan}]}, False),
    ("nested", NESTED, NESTED, False),
    ("tuple", (1, "two", (3,)), [1, "two", [3]], False),
    ("namedtuple", Point(1, 2), [1, 2], False),
    ("int keys", {1: "a", 2: "b"}, {"1": "a", "2": "b"}, False),
    ("other keys", {1.5: 1, True: 2, None: 3}, {"1.5": 1, "true": 2, "null": 3}, False),
    ("ordered dict", collections.OrderedDict(b=1, a=2), {"b": 1, "a": 2}, False),
    ("defaultdict", collections.defaultdict(list, a=[1]), {"a": [1]}, False),
    ("str subclass", Text("sub"), "sub", False),
    ("float subclass", Number(2.5), 2.5, False),
    ("numpy float64", np.float64(0.25), 0.25, False),
    ("int enum", Level.HIGH, 3, False),
    ("str enum", Name.ALICE, "alice", False),
    ("enum", Color.RED, repr(Color.RED), True),
    ("uuid", uuid.UUID(int=1), repr(uuid.UUID(int=1)), True),
    ("datetime", datetime.datetime(2024, 1, 2, 3, 4), "datetime.datetime(2024, 1, 2, 3, 4)", True),
    ("date", datetime.date(2024, 1, 2), "datetime.date(2024, 1, 2)", True),
    ("set", {7}, "{7}", True),
    ("bytes", b"raw", "b'raw'", True),
    ("dataclass", Box(3), "Box(size=3)", True),
    ("numpy int", np.int64(5), repr(np.int64(5)), True),
    ("numpy array", np.array([1, 2]), repr(np.array([1, 2])), True),
    ("deep", _deep(100), _deep(100), False),
]
IDS = [kind[0] for kind in KINDS]


def same(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to itself and -0.0 told from 0.0 (``repr`` shows both)."""
    return type(a) is type(b) and repr(a) == repr(b)


def record(value: Any) -> Record:
    score = exact_match(1, 1)
    score.metadata["value"] = value
    return Record(3, {"v": value}, (score,), "prompt ✓", value, None, 1, 0.5, 1.7e9, 0)


@pytest.mark.parametrize(("kind", "value", "expected", "replaced"), KINDS, ids=IDS)
def test_every_value_kind_reads_back_from_the_compact_form(
    kind: str, value: Any, expected: Any, replaced: bool
) -> None:
    encoder = RecordEncoder()
    back = decode_record(encoder.compact(record(value)))
    assert same(back.row, {"v": expected})
    assert same(back.scores[0].metadata, {"value": expected})
    assert same(back.model_response, expected)
    assert back.scores[0].metrics == (accuracy,)
    assert (back.item_id, back.prompt, back.attempts, back.duration) == (3, "prompt ✓", 1, 0.5)
    assert (encoder.replaced is not None) is replaced


@pytest.mark.parametrize(("kind", "value", "expected", "replaced"), KINDS, ids=IDS)
def test_every_value_kind_reads_back_from_the_document_form(
    kind: str, value: Any, expected: Any, replaced: bool
) -> None:
    encoder = RecordEncoder()
    document = json.loads(encoder.document(record(value), row_hash=-5, ok=True, epoch=0))
    assert list(document)[:4] == ["item_id", "row_hash", "ok", "epoch"]
    back = record_from_document(document)
    assert same(back.row, {"v": expected})
    assert same(back.scores[0].metadata, {"value": expected})
    assert same(back.model_response, expected)
    assert (encoder.replaced is not None) is replaced


@pytest.mark.parametrize("value", [{(1, 2): 3}, _cycle()], ids=["tuple key", "cycle"])
def test_a_value_json_cannot_hold_at_all_is_stored_as_its_repr(value: Any) -> None:
    encoder = RecordEncoder()
    back = decode_record(encoder.compact(record(value)))
    assert back.row == repr({"v": value})
    assert back.model_response == repr(value)
    assert encoder.replaced is not None


PLACES = ("row", "prompt", "model_response", "value", "metadata")


def placed(value: Any, place: str) -> Record:
    """A record whose other parts are plain: ``value`` alone decides the encoder."""
    score = exact_match(1, 1)
    if place == "value":
        score = doteval.Score("raw", value, metrics=())
    if place == "metadata":
        score.metadata["value"] = value
    parts = {"row": {"v": 1}, "prompt": "p", "model_response": "r"}
    if place in parts:
        parts[place] = value
    return Record(3, parts["row"], (score,), parts["prompt"], parts["model_response"])


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("kind", ["nan", "enum", "uuid", "numpy float64", "int enum"])
def test_a_value_the_fast_encoder_would_change_is_noticed_wherever_it_is(
    place: str, kind: str
) -> None:
    _, value, expected, replaced = next(entry for entry in KINDS if entry[0] == kind)
    encoder = RecordEncoder()
    back = decode_record(encoder.compact(placed(value, place)))
    found = {
        "row": back.row,
        "prompt": back.prompt,
        "model_response": back.model_response,
        "value": back.scores[0].value,
        "metadata": back.scores[0].metadata.get("value"),
    }[place]
    assert same(found, expected)
    assert (encoder.replaced is not None) is replaced


def test_plain_records_take_the_fast_encoder_and_others_the_standard_one() -> None:
    # orjson writes non-ASCII text as UTF-8; the standard encoder escapes it (and writes
    # NaN, which orjson cannot): what each path writes shows which one ran.
    encoder = RecordEncoder()
    assert "ü" in encoder.compact(record("ü"))
    assert "ü" in encoder.document(record("ü"), ok=True)
    slow = encoder.compact(record(["ü", math.nan]))
    assert "\\u00fc" in slow
    assert "NaN" in slow


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(alphabet=st.characters(exclude_categories=())),
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(st.text() | st.integers(), children, max_size=4)
    ),
    max_leaves=12,
)


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(json_values)
def test_any_json_like_value_reads_back_as_the_standard_encoder_wrote_it(value: Any) -> None:
    """What the store wrote before orjson: ``json`` with NaN allowed."""
    before = json.loads(json.dumps({"v": value}))
    back = decode_record(RecordEncoder().compact(record(value)))
    assert same(back.row, before)
    assert same(back.model_response, before["v"])


STORED = [kind for kind in KINDS if not kind[3]]


async def test_every_value_kind_round_trips_through_the_store(store_url: str) -> None:
    values = [(value,) for _, value, _, _ in STORED]  # a row of one column

    async def eval_kinds(v: Any) -> doteval.Score:
        await anyio.lowlevel.checkpoint()
        score = exact_match(1, 1)
        score.metadata["v"] = v
        return score

    result = await doteval.foreach("v", values)(eval_kinds)(
        experiment="kinds", storage=store_url, progress=False
    )
    assert result.counts.total == len(values)
    loaded = doteval.load("kinds", storage=store_url).records
    in_memory = store_url.startswith("memory")  # keeps the objects themselves
    for (kind, value, expected, _), back in zip(STORED, loaded, strict=True):
        wanted = value if in_memory else expected
        assert same(back.row["v"], wanted), kind
        assert same(back.scores[0].metadata["v"], wanted), kind
