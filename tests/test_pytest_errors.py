"""What pytest shows of an evaluation's item errors: below the session summary, one
trimmed traceback per error type (``--doteval-tb``), and the reason of a failed
evaluation in pytest's short test summary."""

from __future__ import annotations

import json
import re
import textwrap

import pytest

pytest_plugins = ["pytester"]

EVALUATIONS = """
import doteval
from doteval.evaluators import exact_match

DATA = [(str(i), str(i)) for i in range(6)]
PRICES = {}


def price_of(question):
    return PRICES[question]


@doteval.foreach("q,a", DATA)
async def eval_some_errors(q, a):
    if int(q) % 2:
        price_of(q)
    if q == "4":
        raise ValueError("the model answered in French")
    return exact_match(q, a)


@doteval.foreach("q,a", DATA)
def eval_every_item_errors(q, a):
    price_of(q)


@doteval.foreach("q,a", DATA)
def eval_clean(q, a):
    return exact_match(q, a)
"""


@pytest.fixture
def evaluations(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(eval_prices=EVALUATIONS)
    pytester.makeini("[pytest]\ndoteval_progress = false\n")
    return pytester


def line_of(text: str, skip: int = 0) -> int:
    """The line of ``eval_prices.py`` (as pytester writes it: dedented, stripped) that holds
    ``text`` (after ``skip`` others that do)."""
    lines = textwrap.dedent(EVALUATIONS).strip().splitlines()
    return [n for n, line in enumerate(lines, 1) if text in line][skip]


def _section(output: str, title: str) -> list[str]:
    """The lines under the ``-- title --`` separator, up to the next separator."""
    lines = output.splitlines()
    start = next(
        i for i, line in enumerate(lines) if re.fullmatch(rf"-+ {re.escape(title)} -+", line)
    )
    end = next(
        (i for i in range(start + 1, len(lines)) if re.fullmatch(r"([-=])\1+ .* \1+", lines[i])),
        len(lines),
    )
    return lines[start + 1 : end]


def test_the_summary_shows_one_trimmed_traceback_per_error_type(
    evaluations: pytest.Pytester,
) -> None:
    result = evaluations.runpytest_inprocess()
    output = result.stdout.str()
    some = _section(output, "errors of eval_prices.eval_some_errors")
    assert some[:7] == [
        "KeyError on 3 of 6 items, for example item 1, row {'q': '1', 'a': '1'}",
        f"eval_prices.py:{line_of('    price_of(q)')}: in eval_some_errors",
        "    price_of(q)",
        f"eval_prices.py:{line_of('return PRICES')}: in price_of",
        "    return PRICES[question]",
        some[5],
        "E   KeyError: '1'",
    ]
    assert re.fullmatch(r"  \.\.\. \d+ frames? of doteval hidden", some[5])
    assert some[8] == ("ValueError on 1 of 6 items, for example item 4, row {'q': '4', 'a': '4'}")
    assert some[9:11] == [
        f"eval_prices.py:{line_of('raise ValueError')}: in eval_some_errors",
        '    raise ValueError("the model answered in French")',
    ]
    assert some[-1] == "E   ValueError: the model answered in French"
    every = _section(output, "errors of eval_prices.eval_every_item_errors")
    assert every[0] == "KeyError on 6 of 6 items, for example item 0, row {'q': '0', 'a': '0'}"
    assert every[1:3] == [
        f"eval_prices.py:{line_of('price_of(q)', 1)}: in eval_every_item_errors",
        "    price_of(q)",
    ]
    assert "errors of eval_prices.eval_clean" not in output
    summary = output[output.index("doteval summary") :]
    assert "_private" not in summary
    assert "Traceback (most recent call last)" not in summary
    # The tracebacks come after the table.
    assert summary.index("eval_prices.eval_clean") < summary.index("errors of")


@pytest.mark.parametrize("how", ["option", "ini"])
def test_long_shows_the_whole_stored_traceback(evaluations: pytest.Pytester, how: str) -> None:
    if how == "ini":
        evaluations.makeini("[pytest]\ndoteval_progress = false\ndoteval_tb = long\n")
        result = evaluations.runpytest_inprocess()
    else:
        result = evaluations.runpytest_inprocess("--doteval-tb=long")
    some = _section(result.stdout.str(), "errors of eval_prices.eval_some_errors")
    text = "\n".join(some)
    assert some[0].startswith("KeyError on 3 of 6 items")
    assert some[1] == "Traceback (most recent call last):"
    assert "doteval/_private/run/item.py" in text
    assert f'eval_prices.py", line {line_of("return PRICES")}, in price_of' in text
    assert "KeyError: '1'" in some


@pytest.mark.parametrize("how", ["option", "ini"])
def test_no_shows_none(evaluations: pytest.Pytester, how: str) -> None:
    if how == "ini":
        evaluations.makeini("[pytest]\ndoteval_progress = false\ndoteval_tb = no\n")
        result = evaluations.runpytest_inprocess()
    else:
        result = evaluations.runpytest_inprocess("--doteval-tb", "no")
    output = result.stdout.str()
    assert "doteval summary" in output
    assert "errors of" not in output
    assert "KeyError on" not in output


def test_a_bad_style_is_a_usage_error_naming_the_choices(evaluations: pytest.Pytester) -> None:
    result = evaluations.runpytest_inprocess("--doteval-tb=full")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "expected one of no, short, long, got 'full'" in result.stderr.str()
    evaluations.makeini("[pytest]\ndoteval_tb = verbose\n")
    result = evaluations.runpytest_inprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "doteval_tb = 'verbose'" in result.stderr.str()


@pytest.mark.parametrize("flag", ["-ra", "-rA"])
def test_the_short_summary_line_carries_the_reason(evaluations: pytest.Pytester, flag: str) -> None:
    evaluations.makepyfile(
        eval_gate="""
        import pytest, doteval
        from doteval.evaluators import exact_match

        @pytest.mark.doteval(fail_under={"exact_match.accuracy": 0.9})
        @doteval.foreach("q", ["1", "2", "3", "4"])
        def eval_gated(q):
            return exact_match(q, "1")
        """
    )
    lines = evaluations.runpytest_inprocess(flag, "-p", "no:randomly").stdout.lines
    # Cut to the terminal's width as pytest does, but the reason comes first.
    assert any(
        line.startswith("FAILED eval_prices.py::eval_every_item_errors - Failed: all 6 items")
        for line in lines
    )
    assert any(
        line.startswith("FAILED eval_gate.py::eval_gated - Failed: exact_match.accuracy = 0.25")
        for line in lines
    )
    # -vv shows whole lines: the first line of the failure, nothing of doteval's wording.
    lines = evaluations.runpytest_inprocess(flag, "-vv", "-p", "no:randomly").stdout.lines
    assert (
        "FAILED eval_prices.py::eval_every_item_errors - Failed: all 6 items errored "
        "(6 × KeyError: '0'), so nothing was measured; fix the cause, or allow it with "
        "@pytest.mark.doteval(max_error_rate=1.0)"
    ) in lines
    assert (
        "FAILED eval_gate.py::eval_gated - Failed: exact_match.accuracy = 0.25 is below "
        "fail_under 0.9"
    ) in lines


def test_the_json_report_keeps_each_error_type_with_its_example(
    evaluations: pytest.Pytester,
) -> None:
    evaluations.runpytest_inprocess("--doteval-report", "report.json", "--doteval-tb=no")
    report = json.loads((evaluations.path / "report.json").read_text())
    rows = {row["nodeid"]: row for row in report["evaluations"]}
    groups = rows["eval_prices.py::eval_some_errors"]["error_groups"]
    assert [(group["type"], group["count"], group["item_id"]) for group in groups] == [
        ("KeyError", 3, 1),
        ("ValueError", 1, 4),
    ]
    assert groups[0]["message"] == "'1'"
    assert groups[0]["traceback"].startswith("Traceback (most recent call last):")
    assert rows["eval_prices.py::eval_clean"]["error_groups"] == []
