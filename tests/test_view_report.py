"""``doteval report`` and ``pytest --doteval-html``: one self-contained HTML file."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("jinja2", reason="the report needs the view extra")

from doteval._private.cli.main import main
from doteval._private.view.report import write_report
from view_stores import BASELINE, ITEMS, MARKUP, failing, filled, json_scripts

pytest_plugins = ["pytester"]


@pytest.fixture(params=["sqlite", "jsonl"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return filled(request.param, tmp_path / "store")


def item_ids(page: str) -> list[int]:
    return [int(found) for found in re.findall(r'class="item-row[^"]*" data-item="(\d+)"', page)]


def test_the_report_is_one_file_that_needs_nothing_else(url: str, tmp_path: Path) -> None:
    path = write_report(BASELINE, tmp_path / "report.html", storage=url)
    page = path.read_text(encoding="utf-8")
    assert re.search(r"<script[^>]*\bsrc=", page) is None
    assert re.search(r"<link[^>]*stylesheet", page) is None
    assert "<style>" in page
    assert "vegaEmbed" in page  # the chart library, inlined
    assert "0.875" in page
    assert "120 items" in page


def test_the_report_shows_the_first_items_and_every_later_error(url: str, tmp_path: Path) -> None:
    page = write_report(BASELINE, tmp_path / "r.html", storage=url, items=10).read_text()
    later_errors = [i for i in range(10, ITEMS) if failing(i)]
    assert item_ids(page) == list(range(10)) + later_errors
    assert "The first 10 items of 120" in page
    assert page.count("Traceback (most recent call last)") == len(
        [i for i in range(ITEMS) if failing(i)]
    )


def test_the_report_has_the_summary_and_history_charts(url: str, tmp_path: Path) -> None:
    page = write_report(BASELINE, tmp_path / "r.html", storage=url).read_text()
    specs = list(json_scripts(page))
    assert len(specs) == 2
    summary, history = specs
    assert [row["value"] for row in summary["data"]["values"]] == [0.875]
    assert [row["label"] for row in history["data"]["values"]] == ["baseline", "candidate"]


def test_markup_in_the_data_shows_as_text_in_the_report(url: str, tmp_path: Path) -> None:
    page = write_report(BASELINE, tmp_path / "r.html", storage=url).read_text()
    assert MARKUP not in page
    assert "&lt;script&gt;alert(" in page


def test_report_command_writes_the_file(url: str, tmp_path: Path) -> None:
    output = tmp_path / "out.html"
    result = CliRunner().invoke(
        main, ["report", BASELINE, "-o", str(output), "--items", "5", "--storage", url]
    )
    assert result.exit_code == 0, result.output
    assert f"Wrote the report of {BASELINE} to {output}" in result.output
    assert item_ids(output.read_text())[:5] == [0, 1, 2, 3, 4]


def test_report_command_on_an_unknown_experiment_names_the_close_ones(
    url: str, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        main, ["report", "basline", "-o", str(tmp_path / "x.html"), "--storage", url]
    )
    assert result.exit_code == 1
    assert "no experiment 'basline'" in result.output
    assert "did you mean 'baseline'" in result.output
    assert not (tmp_path / "x.html").exists()


def test_report_command_refuses_a_memory_store(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["report", "x", "--storage", "memory://"])
    assert result.exit_code == 1
    assert "inside the process that ran them" in result.output


def test_pytest_writes_the_sessions_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        eval_small=textwrap.dedent(
            """
            import doteval
            from doteval.evaluators import exact_match

            @doteval.foreach("a,b", [(str(i), str(i % 3)) for i in range(9)])
            async def eval_small(a, b):
                if a == "4":
                    raise ValueError("four")
                return exact_match(a, b)
            """
        )
    )
    store = pytester.path / "store.db"
    result = pytester.runpytest_inprocess(
        "eval_small.py",
        "--storage",
        f"sqlite://{store}",
        "--experiment",
        "nightly",
        "--doteval-html",
        "out/report.html",
        "--no-progress",
    )
    assert result.ret == 0, result.stdout.str()
    written = pytester.path / "out" / "report.html"
    result.stdout.fnmatch_lines(["*wrote the HTML report of experiment nightly to*report.html"])
    page = written.read_text()
    assert "eval_small.eval_small" in page
    assert "ValueError" in page
    assert item_ids(page) == list(range(9))


def test_pytest_html_ini_setting(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        f"""
        [pytest]
        doteval_html = from-ini.html
        doteval_storage = sqlite://{pytester.path / "store.db"}
        """
    )
    pytester.makepyfile(
        eval_ini=textwrap.dedent(
            """
            import doteval
            from doteval.evaluators import exact_match

            @doteval.foreach("a", ["x", "y"])
            async def eval_ini(a):
                return exact_match(a, "x")
            """
        )
    )
    result = pytester.runpytest_inprocess("eval_ini.py", "--no-progress")
    assert result.ret == 0, result.stdout.str()
    assert "eval_ini.eval_ini" in (pytester.path / "from-ini.html").read_text()
