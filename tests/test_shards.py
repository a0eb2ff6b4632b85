"""One evaluation spread over shards: the split of the items, the options that choose a
shard, each shard's lease, the evaluation read back as one, and resuming with the same
or another number of shards, on every store that runs shards.

Shards of one process run one after another, or side by side in one task group;
tests/test_shard_kill.py runs them in processes of their own and kills some.
"""

from __future__ import annotations

import collections
import os
import re
import subprocess
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio
import pytest
from click.testing import CliRunner

import doteval
from doteval._private.cli.main import main
from doteval._private.progress import display as progress
from doteval.evaluators import exact_match
from doteval.storage import (
    COMPLETED,
    INTERRUPTED,
    RUNNING,
    DatasetChangedError,
    EvaluationBusyError,
    EvaluationInfo,
    InvalidNameError,
    Shard,
    StorageError,
    check,
    open_storage,
)

pytest_plugins = ["pytester"]

ITEMS = 600
EXPERIMENT = "sharded"


def never(a: int) -> bool:
    return False


def thirteens(a: int) -> bool:
    return a % 13 == 0


def evaluation(
    calls: list[int] | None = None,
    *,
    rows: Sequence[Any] | None = None,
    fails: Callable[[int], bool] = thirteens,
    gate: Callable[[int], Awaitable[None]] | None = None,
) -> doteval.Evaluation:
    """``eval_sharded`` over ``rows`` (default ``range(ITEMS)``): a row ``a`` scores ``a % 7
    != 0``, raises if ``fails(a)``, and first awaits ``gate(a)`` if given. The same
    evaluation (by name) however it is built, so its runs resume each other."""

    async def eval_sharded(a: int) -> doteval.Score:
        if calls is not None:
            calls.append(a)
        if gate is not None:
            await gate(a)
        await anyio.lowlevel.checkpoint()
        if fails(a):
            raise ValueError(f"item {a} fails")
        return exact_match(a % 7 != 0, True)

    return doteval.foreach("a", list(range(ITEMS)) if rows is None else rows)(eval_sharded)


def held(shard: Shard, items: int = ITEMS) -> list[int]:
    return [item for item in range(items) if shard.holds(item)]


def info_of(url: str, experiment: str = EXPERIMENT) -> EvaluationInfo:
    [info] = open_storage(url).experiment(experiment).evaluations
    return info


async def run_shards(url: str, count: int, **options: Any) -> list[doteval.EvaluationResult]:
    evaluated = evaluation(**options)
    return [
        await evaluated(experiment=EXPERIMENT, storage=url, shard=(index, count), progress=False)
        for index in range(count)
    ]


async def single(url: str, fails: Callable[[int], bool] = thirteens) -> doteval.EvaluationResult:
    return await evaluation(fails=fails)(experiment="single", storage=url, progress=False)


# The split ----------------------------------------------------------------------------


def shard_of(item: int, count: int) -> int:
    [index] = [index for index in range(count) if Shard(index, count).holds(item)]
    return index


def test_every_item_is_in_exactly_one_shard_for_every_count() -> None:
    for count in range(1, 25):
        for item in range(2000):
            shard_of(item, count)  # exactly one holds it, or unpacking fails


def test_the_shares_are_balanced() -> None:
    items = 40_000
    for count in (2, 3, 4, 8, 16):
        sizes = collections.Counter(shard_of(item, count) for item in range(items))
        expected = items / count
        spread = (items * (1 / count) * (1 - 1 / count)) ** 0.5
        assert sorted(sizes) == list(range(count))
        assert all(abs(size - expected) < 6 * spread for size in sizes.values()), sizes


def test_the_split_is_the_same_in_every_process() -> None:
    # Pinned: a change of the key would send resumed shards to other items.
    assert [shard_of(item, 4) for item in range(16)] == [
        0, 2, 1, 3, 0, 2, 0, 0, 0, 2, 0, 2, 1, 3, 2, 1,
    ]  # fmt: skip
    program = (
        "from doteval.storage import Shard\n"
        "print([[i for i in range(5) if Shard(i, 5).holds(item)][0] for item in range(300)])"
    )
    here = [shard_of(item, 5) for item in range(300)]
    for seed in ("0", "12345"):
        done = subprocess.run(
            [sys.executable, "-c", program],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        )
        assert done.stdout.strip() == str(here)


def test_shards_overlap_exactly_when_they_can_hold_the_same_item() -> None:
    shards = [Shard(index, count) for count in range(1, 7) for index in range(count)]
    members = {shard: set(held(shard, 20_000)) for shard in shards}
    for a in shards:
        assert a.overlaps(None)
        for b in shards:
            assert a.overlaps(b) == bool(members[a] & members[b]), (a, b)
            assert a.overlaps(b) == b.overlaps(a)


def test_a_shard_reads_and_prints_as_i_of_n() -> None:
    assert Shard.parse((1, 4), "shard=") == Shard.parse(" 1 / 4 ", "shard=") == Shard(1, 4)
    assert str(Shard(1, 4)) == "1/4"
    assert Shard(3, 4).size_of(1000) == len(held(Shard(3, 4), 1000))


async def test_all_epochs_of_an_item_stay_in_its_shard() -> None:
    shard = Shard(1, 3)
    result = await evaluation(fails=never)(
        experiment=EXPERIMENT, storage="memory://epochs", shard=shard, epochs=3, progress=False
    )
    epochs = collections.defaultdict(set)
    for record in result.records:
        epochs[record.item_id].add(record.epoch)
    assert sorted(epochs) == held(shard)
    assert all(found == {0, 1, 2} for found in epochs.values())
    assert result.counts.total == 3 * len(held(shard))


# Choosing a shard -----------------------------------------------------------------------


@pytest.mark.parametrize("given", [(1, 4), [1, 4], "1/4", " 1/ 4", Shard(1, 4)])
async def test_a_shard_is_a_pair_a_text_or_a_shard(given: Any) -> None:
    url = f"memory://given-{given!r}"
    result = await evaluation()(experiment=EXPERIMENT, storage=url, shard=given, progress=False)
    assert [record.item_id for record in result.records] == held(Shard(1, 4))
    assert [found.shard for found in info_of(url).shards] == [Shard(1, 4)]


@pytest.mark.parametrize("given", [(4, 4), (-1, 2), (0, 0), (1.0, 2), (True, 2), "1-4", "x", 3])
async def test_a_bad_shard_names_the_option_and_the_form(given: Any) -> None:
    with pytest.raises(ValueError, match=r"eval_sharded: shard=.* is not a shard: expected I/N"):
        await evaluation()(experiment=EXPERIMENT, storage="memory://bad", shard=given)


async def test_a_shard_needs_an_experiment() -> None:
    with pytest.raises(ValueError, match=r"shard=0/2 needs experiment=: every shard stores into"):
        await evaluation()(storage="memory://nameless", shard=(0, 2), progress=False)


async def test_the_environment_names_the_shard_and_the_experiment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOTEVAL_SHARD", "2/3")
    monkeypatch.setenv("DOTEVAL_EXPERIMENT", "from-env")
    url = "memory://environment"
    result = await evaluation()(storage=url, progress=False)
    assert (result.experiment, result.counts.total) == ("from-env", len(held(Shard(2, 3))))
    await evaluation()(storage=url, shard=(0, 3), experiment="given", progress=False)
    assert [found.shard for found in info_of(url, "given").shards] == [Shard(0, 3)]


@pytest.mark.parametrize(
    ("variable", "value", "error", "message"),
    [
        (
            "DOTEVAL_SHARD",
            "3/3",
            ValueError,
            r"DOTEVAL_SHARD='3/3' is not a shard.*DOTEVAL_SHARD=0/4",
        ),
        ("DOTEVAL_SHARD", "first", ValueError, r"DOTEVAL_SHARD='first' is not a shard"),
        ("DOTEVAL_EXPERIMENT", "../up", InvalidNameError, r"DOTEVAL_EXPERIMENT: experiment name"),
    ],
)
async def test_a_bad_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, error: type, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(error, match=message):
        await evaluation()(experiment=EXPERIMENT, storage="memory://env-bad", progress=False)


PYTEST_PROJECT = """
import doteval
from doteval.evaluators import exact_match

@doteval.foreach("a", list(range(40)))
def eval_plain(a):
    return exact_match(a % 3 != 0, True)
"""


def pytest_run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makepyfile(eval_plain=PYTEST_PROJECT)
    return pytester.runpytest_inprocess("--storage", "jsonl://store", *args)


def test_pytest_runs_the_shard_that_shard_names(pytester: pytest.Pytester) -> None:
    pytest_run(pytester, "--shard", "0/2", "--experiment", "nightly").assert_outcomes(passed=1)
    url = f"jsonl://{pytester.path / 'store'}"
    [info] = open_storage(url).experiment("nightly").evaluations
    assert (info.status, [str(found.shard) for found in info.shards]) == (INTERRUPTED, ["0/2"])
    assert info.counts is not None
    assert info.counts.total == len(held(Shard(0, 2), 40))
    pytester.makeini("[pytest]\ndoteval_shard = 1/2\ndoteval_experiment = nightly\n")
    pytest_run(pytester).assert_outcomes(passed=1)
    [info] = open_storage(url).experiment("nightly").evaluations
    assert (info.status, [str(found.shard) for found in info.shards]) == (COMPLETED, ["0/2", "1/2"])


def test_pytest_takes_the_shard_and_experiment_from_the_environment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOTEVAL_SHARD", "1/3")
    monkeypatch.setenv("DOTEVAL_EXPERIMENT", "from-env")
    pytest_run(pytester).assert_outcomes(passed=1)
    [info] = open_storage(f"jsonl://{pytester.path / 'store'}").experiment("from-env").evaluations
    assert [str(found.shard) for found in info.shards] == ["1/3"]


@pytest.mark.parametrize(
    ("args", "environment", "message"),
    [
        (("--shard", "2/2", "--experiment", "x"), {}, "argument --shard: '2/2' is not a shard"),
        (("--shard", "0/2"), {}, "--shard 0/2 needs --experiment NAME"),
        ((), {"DOTEVAL_SHARD": "1/2"}, "--shard 1/2 needs --experiment NAME"),
        ((), {"DOTEVAL_SHARD": "two"}, "DOTEVAL_SHARD='two' is not a shard"),
    ],
)
def test_pytest_refuses_a_bad_or_unnamed_shard(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    environment: dict[str, str],
    message: str,
) -> None:
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)
    result = pytest_run(pytester, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


async def test_the_progress_display_counts_the_shards_share(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    for name, seconds in (("FIRST_DRAW_DELAY", 0.01), ("REFRESH_INTERVAL", 0.02)):
        monkeypatch.setattr(progress, name, seconds)
    monkeypatch.setattr(progress, "PLAIN_INTERVAL", 0.02)

    async def slowly(a: int) -> None:
        await anyio.sleep(0.005)

    share = len(held(Shard(1, 3), 60))
    await evaluation(rows=list(range(60)), gate=slowly)(
        experiment=EXPERIMENT,
        storage=f"sqlite://{tmp_path / 'd.db'}",
        shard=(1, 3),
        max_concurrency=1,
    )
    # Progress lines, then the summary's indented lines.
    lines = [line for line in capsys.readouterr().err.splitlines() if not line.startswith(" ")]
    assert all(line.startswith("eval_sharded [shard 1/3]: ") for line in lines), lines
    assert f"/{share}, " in lines[0]
    assert lines[-1].startswith(f"eval_sharded [shard 1/3]: completed {share} items in ")


# Leases ----------------------------------------------------------------------------------


class Held:
    """Holds the items of one shard (``None``: every item) until released."""

    def __init__(self, shard: Shard | None) -> None:
        self.shard = shard
        self.started = anyio.Event()
        self.released = anyio.Event()

    async def __call__(self, a: int) -> None:
        if self.shard is None or self.shard.holds(a):
            self.started.set()
            await self.released.wait()


async def test_the_shards_of_one_count_run_side_by_side(shard_store_url: str) -> None:
    first, second = Held(Shard(0, 2)), Held(Shard(1, 2))

    async def both(a: int) -> None:
        await (first if first.shard and first.shard.holds(a) else second)(a)

    evaluated = evaluation(gate=both)
    with anyio.fail_after(60):  # a run not refused would wait for ever
        async with anyio.create_task_group() as group:
            for index in range(2):
                group.start_soon(
                    lambda index=index: evaluated(
                        experiment=EXPERIMENT,
                        storage=shard_store_url,
                        shard=(index, 2),
                        progress=False,
                    )
                )
            await first.started.wait()
            await second.started.wait()
            info = info_of(shard_store_url)
            assert info.status == RUNNING
            assert [(str(found.shard), found.status) for found in info.shards] == [
                ("0/2", RUNNING),
                ("1/2", RUNNING),
            ]
            assert all(found.holder is not None for found in info.shards)
            first.released.set()
            second.released.set()
    assert info_of(shard_store_url).status == COMPLETED


async def test_a_run_overlapping_a_running_shard_is_refused(shard_store_url: str) -> None:
    holding = Held(Shard(0, 2))
    evaluated = evaluation(gate=holding)

    async def attempt(**options: Any) -> doteval.EvaluationResult:
        return await evaluated(
            experiment=EXPERIMENT, storage=shard_store_url, progress=False, **options
        )

    with anyio.fail_after(60):  # a run not refused would wait for ever
        async with anyio.create_task_group() as group:
            group.start_soon(lambda: attempt(shard=(0, 2)))
            await holding.started.wait()
            with pytest.raises(EvaluationBusyError, match=r"shard 0/2 of .* already being run by"):
                await attempt(shard=(0, 2))
            with pytest.raises(
                EvaluationBusyError, match="a run of the whole evaluation would redo"
            ):
                await attempt()
            with pytest.raises(
                EvaluationBusyError, match=r"shard 1/4 would redo some of its items"
            ):
                await attempt(shard=(1, 4))
            beside = await attempt(shard=(2, 4))  # [1/2, 3/4) does not overlap [0, 1/2)
            assert beside.counts.total == len(held(Shard(2, 4)))
            holding.released.set()


async def test_a_shard_is_refused_while_the_whole_evaluation_runs(shard_store_url: str) -> None:
    holding = Held(None)
    evaluated = evaluation(gate=holding)
    with anyio.fail_after(60):  # a run not refused would wait for ever
        async with anyio.create_task_group() as group:
            group.start_soon(
                lambda: evaluated(experiment=EXPERIMENT, storage=shard_store_url, progress=False)
            )
            await holding.started.wait()
            with pytest.raises(EvaluationBusyError, match=r"already being run by process .*; wait"):
                await evaluated(
                    experiment=EXPERIMENT, storage=shard_store_url, shard=(1, 2), progress=False
                )
            holding.released.set()


async def test_a_store_without_shards_refuses_them() -> None:
    with pytest.raises(StorageError, match=r"cannot run an evaluation in shards.*ShardedRuns"):
        await evaluation()(
            experiment=EXPERIMENT, storage="dict://no-shards", shard=(0, 2), progress=False
        )


# Read back as one ------------------------------------------------------------------------


async def test_the_shards_read_back_as_one_run(shard_store_url: str) -> None:
    url = shard_store_url
    parts = await run_shards(url, 3)
    whole = await single(url)
    merged = doteval.load(EXPERIMENT, storage=url)
    assert merged.summary == whole.summary
    assert merged.estimates == whole.estimates
    assert (merged.counts.total, merged.counts.errors) == (ITEMS, whole.counts.errors)
    assert [record.item_id for record in merged.records] == list(range(ITEMS))
    info = info_of(url)
    assert info.status == COMPLETED
    assert info.summary == whole.summary  # settled by the last shard: no records to read
    assert [(str(found.shard), found.status, found.expected) for found in info.shards] == [
        ("0/3", COMPLETED, ITEMS),
        ("1/3", COMPLETED, ITEMS),
        ("2/3", COMPLETED, ITEMS),
    ]
    # Each shard returned its own share, as a run over just those rows would.
    for index, part in enumerate(parts):
        rows = held(Shard(index, 3))
        alone = await evaluation(rows=rows)(experiment=f"alone-{index}", storage=url)
        assert (part.summary, part.estimates) == (alone.summary, alone.estimates)
        assert [record.item_id for record in part.records] == rows
        assert info.shards[index].counts is not None
        assert info.shards[index].counts.total == len(rows)


async def test_a_shard_that_is_done_leaves_the_rest_to_run(shard_store_url: str) -> None:
    url = shard_store_url
    await evaluation()(experiment=EXPERIMENT, storage=url, shard=(1, 3), progress=False)
    info = info_of(url)
    assert info.status == INTERRUPTED  # nothing runs, and items are missing
    assert info.shards_not_run == (Shard(0, 3), Shard(2, 3))
    loaded = doteval.load(EXPERIMENT, storage=url)
    alone = await evaluation(rows=held(Shard(1, 3)))(experiment="alone", storage=url)
    assert (loaded.summary, loaded.estimates) == (alone.summary, alone.estimates)
    assert loaded.counts.total == len(held(Shard(1, 3)))


async def test_while_a_shard_runs_its_stored_records_are_read_as_they_come(
    shard_store_url: str,
) -> None:
    url = shard_store_url
    await evaluation()(experiment=EXPERIMENT, storage=url, shard=(0, 2), progress=False)
    later = [item for item in held(Shard(1, 2)) if item >= ITEMS // 2]
    holding = Held(Shard(1, 2))

    async def gate(a: int) -> None:
        if a >= ITEMS // 2:
            await holding(a)

    stored_now = len(held(Shard(0, 2))) + len(held(Shard(1, 2))) - len(later)
    store = open_storage(url)
    with anyio.fail_after(60):  # a run not refused would wait for ever
        async with anyio.create_task_group() as group:
            group.start_soon(
                lambda: evaluation(gate=gate)(
                    experiment=EXPERIMENT, storage=url, shard=(1, 2), progress=False
                )
            )
            await holding.started.wait()
            with anyio.fail_after(20):  # the store thread flushes what finished
                while store.count(EXPERIMENT, info_of(url).name) < stored_now:
                    await anyio.sleep(0.05)
            info = info_of(url)
            assert info.status == RUNNING
            assert [found.status for found in info.shards] == [COMPLETED, RUNNING]
            loaded = doteval.load(EXPERIMENT, storage=url)
            rows = sorted(set(range(ITEMS)) - set(later))
            alone = await evaluation(rows=rows)(experiment="alone", storage=url)
            assert loaded.counts.total == stored_now
            assert (loaded.summary, loaded.estimates) == (alone.summary, alone.estimates)
            shown = CliRunner().invoke(main, ["show", EXPERIMENT, "--storage", url])
            assert "running" in shown.output
            assert "shards of 2: 1 completed, 1 running" in shown.output
            holding.released.set()
    assert info_of(url).status == COMPLETED


# Resuming ----------------------------------------------------------------------------------


async def test_a_second_run_of_a_shard_resumes_it(shard_store_url: str) -> None:
    url, shard = shard_store_url, Shard(0, 2)
    first = await evaluation()(experiment=EXPERIMENT, storage=url, shard=shard, progress=False)
    assert first.counts.errors == sum(1 for a in held(shard) if thirteens(a))
    calls: list[int] = []
    again = await evaluation(calls, fails=never)(
        experiment=EXPERIMENT, storage=url, shard=shard, progress=False
    )
    assert sorted(calls) == [a for a in held(shard) if thirteens(a)]
    assert (again.counts.total, again.counts.errors) == (len(held(shard)), 0)
    assert info_of(url).status == INTERRUPTED  # shard 1/2 never ran


async def test_another_number_of_shards_runs_only_what_is_missing(shard_store_url: str) -> None:
    url = shard_store_url
    await run_shards(url, 2)
    calls: list[int] = []
    parts = await run_shards(url, 3, calls=calls, fails=never)
    assert sorted(calls) == [a for a in range(ITEMS) if thirteens(a)]  # the errors, once
    for index, part in enumerate(parts):  # its share only, most of it resumed
        rows = held(Shard(index, 3))
        alone = await evaluation(rows=rows, fails=never)(experiment=f"alone-{index}", storage=url)
        assert (part.summary, part.counts.total) == (alone.summary, len(rows))
    whole = await single(url, fails=never)
    merged = doteval.load(EXPERIMENT, storage=url)
    assert (merged.summary, merged.estimates) == (whole.summary, whole.estimates)
    assert (merged.counts.total, merged.counts.errors) == (ITEMS, 0)
    assert info_of(url).status == COMPLETED


async def test_a_shard_run_after_an_overlapping_one_counts_its_whole_share(
    shard_store_url: str,
) -> None:
    """0/4 fixes some of 0/2's errors; 0/2's next run must count them, not trust its totals
    from before."""
    url = shard_store_url
    await evaluation()(experiment=EXPERIMENT, storage=url, shard=(0, 2), progress=False)
    await evaluation(fails=never)(experiment=EXPERIMENT, storage=url, shard=(0, 4), progress=False)
    calls: list[int] = []
    again = await evaluation(calls, fails=never)(
        experiment=EXPERIMENT, storage=url, shard=(0, 2), progress=False
    )
    left = [a for a in held(Shard(0, 2)) if thirteens(a) and not Shard(0, 4).holds(a)]
    assert sorted(calls) == left
    alone = await evaluation(rows=held(Shard(0, 2)), fails=never)(experiment="alone", storage=url)
    assert (again.summary, again.counts.total, again.counts.errors) == (
        alone.summary,
        len(held(Shard(0, 2))),
        0,
    )


async def test_a_run_of_the_whole_after_shards_finishes_them(shard_store_url: str) -> None:
    url = shard_store_url
    await evaluation()(experiment=EXPERIMENT, storage=url, shard=(0, 2), progress=False)
    calls: list[int] = []
    whole = await evaluation(calls)(experiment=EXPERIMENT, storage=url, progress=False)
    assert sorted(calls) == sorted(
        [*held(Shard(1, 2)), *(a for a in held(Shard(0, 2)) if thirteens(a))]
    )
    info = info_of(url)
    assert (info.status, info.shards) == (COMPLETED, ())
    assert whole.summary == (await single(url)).summary


async def test_a_row_changed_since_another_shard_stored_it_stops_the_run(
    shard_store_url: str,
) -> None:
    url = shard_store_url
    await evaluation()(experiment=EXPERIMENT, storage=url, shard=(0, 2), progress=False)
    rows: list[Any] = list(range(ITEMS))
    changed = held(Shard(0, 2))[5]
    rows[changed] = -1
    with pytest.raises(DatasetChangedError, match=f"row {changed} is now -1"):
        await evaluation(rows=rows)(
            experiment=EXPERIMENT, storage=url, shard=(1, 2), progress=False
        )


async def test_a_store_of_shards_checks_sound(shard_store_url: str) -> None:
    await run_shards(shard_store_url, 2)
    await evaluation()(experiment="partly", storage=shard_store_url, shard=(1, 3), progress=False)
    findings = check(shard_store_url)
    assert findings
    assert all(finding.sound for finding in findings), findings


# What the commands and the viewer show -------------------------------------------------


def test_list_and_show_give_each_shards_progress(tmp_path: Any) -> None:
    url = f"sqlite://{tmp_path / 'doteval.db'}"
    anyio.run(
        lambda: evaluation()(experiment=EXPERIMENT, storage=url, shard=(2, 4), progress=False)
    )
    listed = CliRunner().invoke(main, ["list", "--storage", url])
    assert listed.exit_code == 0, listed.output
    assert "interrupted" in listed.output
    assert "shards of 4: 1 completed, 3 not run" in listed.output
    shown = CliRunner().invoke(main, ["show", EXPERIMENT, "--storage", url])
    assert shown.exit_code == 0, shown.output
    assert re.search(r"^2/4 +completed ", shown.output, re.MULTILINE), shown.output
    assert "not run yet: 0/4, 1/4, 3/4" in shown.output
    assert "accuracy" in shown.output  # the merged summary, from the records stored so far


async def test_the_viewer_shows_each_shard(tmp_path: Any) -> None:
    pytest.importorskip("starlette", reason="the viewer needs the view extra")
    import httpx

    from doteval._private.view.app import create_app

    url = f"jsonl://{tmp_path / 'runs'}"
    await evaluation()(experiment=EXPERIMENT, storage=url, shard=(0, 2), progress=False)
    name = info_of(url).name
    transport = httpx.ASGITransport(app=create_app(url))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        page = (await client.get(f"/evaluations/{EXPERIMENT}/{name}")).text
    assert 'data-shard="0/2"' in page
    assert 'data-shard="1/2"' in page  # not run yet
    assert "not run" in page
    assert "±" in page  # the merged summary's intervals, from the records


# How each store keeps shards ---------------------------------------------------------


async def test_jsonl_shards_append_to_files_of_their_own(tmp_path: Any) -> None:
    root = tmp_path / "runs"
    url = f"jsonl://{root}"
    await evaluation()(experiment="whole", storage=url, progress=False)
    marker = root / ".doteval-store.json"
    assert marker.read_text() == '{"format": 2}'  # an older doteval still reads it
    await run_shards(url, 2)
    assert marker.read_text() == '{"format": 3}'  # now it would miss the shards' files
    files = sorted(path.name for path in (root / EXPERIMENT).glob("*.jsonl"))
    assert [name.partition(".eval_sharded.")[2] for name in files] == [
        "shard-0-of-2.jsonl",
        "shard-1-of-2.jsonl",
    ]
    lines = (root / EXPERIMENT / files[1]).read_text().splitlines()
    assert len(lines) == len(held(Shard(1, 2)))


def test_a_sqlite_store_of_format_2_gains_shards(tmp_path: Any) -> None:
    import sqlite3

    path = tmp_path / "doteval.db"
    url = f"sqlite://{path}"
    anyio.run(lambda: evaluation()(experiment="before", storage=url, progress=False))
    with sqlite3.connect(path) as connection:  # as the previous doteval left it
        connection.execute("DROP TABLE shards")
        connection.execute("PRAGMA user_version = 2")
    before = doteval.load("before", storage=url)
    assert before.counts.total == ITEMS
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone() == (3,)
    anyio.run(lambda: run_shards(url, 2))
    assert info_of(url).status == COMPLETED
    assert doteval.load(EXPERIMENT, storage=url).summary == before.summary


def test_a_postgres_schema_of_version_1_gains_shards(postgres_url: str) -> None:
    import psycopg

    from doteval._private.storage.backends import postgres

    anyio.run(lambda: evaluation()(experiment="before", storage=postgres_url, progress=False))
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute("DROP TABLE doteval_shards")
        connection.execute("UPDATE doteval_schema SET version = 1")
    before = doteval.load("before", storage=postgres_url)
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        [(version,)] = connection.execute("SELECT version FROM doteval_schema").fetchall()
    assert version == postgres.SCHEMA_VERSION == 2
    anyio.run(lambda: run_shards(postgres_url, 2))
    assert info_of(postgres_url).status == COMPLETED
    assert doteval.load(EXPERIMENT, storage=postgres_url).summary == before.summary
