"""The viewer's routes through httpx's ASGITransport, on asyncio and trio, against
sqlite and jsonl stores filled by real runs (see view_stores.py)."""

from __future__ import annotations

import html as htmllib
import re
import urllib.parse
from pathlib import Path
from typing import Any

import httpx
import pytest

import doteval

pytest.importorskip("starlette", reason="the viewer needs the view extra")

from doteval._private.view import source as source_module
from doteval._private.view.app import create_app
from doteval._private.view.source import SCAN_LIMIT
from doteval.storage import open_storage
from view_stores import (
    BASELINE,
    CANDIDATE,
    EVALUATION,
    ITEMS,
    MARKUP,
    MARKUP_ITEM,
    LiveRun,
    by_id,
    correct,
    failing,
    filled,
    json_scripts,
    retried,
)

Q = urllib.parse.quote
EVALUATION_PATH = f"/evaluations/{BASELINE}/{Q(EVALUATION, safe='')}"


@pytest.fixture(params=["sqlite", "jsonl"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return filled(request.param, tmp_path)


async def get(url: str, path: str, **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_app(url))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        return await client.get(path, headers=headers)


def item_ids(page: str) -> list[int]:
    return [int(found) for found in re.findall(r'class="item-row[^"]*" data-item="(\d+)"', page)]


def link(page: str, css_class: str) -> str | None:
    found = re.search(rf'class="{css_class}" href="([^"]+)"', page)
    return None if found is None else htmllib.unescape(found[1])


def item_url(experiment: str, item: int, query: str = "") -> str:
    return f"/items/{experiment}/{item}/{Q(EVALUATION, safe='')}{query}"


# The experiments page ------------------------------------------------------------------


async def test_experiments_page_lists_every_evaluation_with_status_counts_and_scores(
    url: str,
) -> None:
    response = await get(url, "/")
    assert response.status_code == 200
    page = response.text
    assert page.index(CANDIDATE) < page.index(BASELINE)  # newest first
    assert page.count(htmllib.escape(EVALUATION)) >= 2
    assert page.count('data-status="completed"') == 2
    assert ">120<" in page
    assert ">5<" in page  # errors: items 3, 28, 53, 78, 103
    assert "0.875" in page  # baseline accuracy
    assert "0.558" in page  # candidate accuracy
    assert f'href="{EVALUATION_PATH}"' in page


async def test_one_experiment_page_shows_only_that_experiment(url: str) -> None:
    page = (await get(url, f"/experiments/{BASELINE}")).text
    assert "0.875" in page
    assert "0.558" not in page


async def test_an_empty_store_says_so(tmp_path: Path) -> None:
    response = await get(f"sqlite://{tmp_path / 'empty.db'}", "/")
    assert response.status_code == 200
    assert "No experiments" in response.text


# The evaluation page: paging by item id ------------------------------------------------


async def test_the_first_page_holds_the_first_50_items_and_links_to_the_next(url: str) -> None:
    page = (await get(url, EVALUATION_PATH)).text
    assert item_ids(page) == list(range(50))
    assert link(page, "next-page") == f"{EVALUATION_PATH}?after=49"
    assert link(page, "previous-page") is None


async def test_pages_follow_each_other_by_item_id_to_the_end(url: str) -> None:
    seen: list[int] = []
    path: str | None = EVALUATION_PATH
    while path is not None:
        page = (await get(url, path)).text
        seen += item_ids(page)
        path = link(page, "next-page")
    assert seen == list(range(ITEMS))


async def test_a_page_after_an_item_id_starts_just_after_it(url: str) -> None:
    page = (await get(url, f"{EVALUATION_PATH}?after=99")).text
    assert item_ids(page) == list(range(100, ITEMS))
    assert link(page, "next-page") is None
    assert link(page, "previous-page") == f"{EVALUATION_PATH}?before=100"


async def test_the_previous_page_ends_just_before_an_item_id(url: str) -> None:
    page = (await get(url, f"{EVALUATION_PATH}?before=100&limit=30")).text
    assert item_ids(page) == list(range(70, 100))
    assert link(page, "previous-page") == f"{EVALUATION_PATH}?before=70&limit=30"


async def test_the_summary_shows_counts_metric_and_run_details(url: str) -> None:
    page = (await get(url, EVALUATION_PATH)).text
    assert "120 items" in page
    assert "5 errors" in page
    assert "12 retried" in page
    assert "0.875" in page
    assert "doteval 0.1.0" in page


# Filters --------------------------------------------------------------------------------


async def test_errors_only_shows_the_failed_items_with_their_error_type(url: str) -> None:
    page = (await get(url, f"{EVALUATION_PATH}?errors=1")).text
    assert item_ids(page) == [i for i in range(ITEMS) if failing(i)]
    assert page.count('<td class="error">ValueError</td>') == 5


async def test_a_score_equal_to_a_value(url: str) -> None:
    stored = by_id(url, BASELINE)
    wrong = [i for i, record in stored.items() if record.error is None and not correct(record)]
    assert wrong  # the fixture's model is wrong on some items
    page = (await get(url, f"{EVALUATION_PATH}?score=exact_match&value=false")).text
    assert item_ids(page) == wrong


async def test_retried_items_are_those_with_more_than_one_attempt(url: str) -> None:
    page = (await get(url, f"{EVALUATION_PATH}?retried=1")).text
    assert item_ids(page) == [i for i in range(ITEMS) if retried(i)]


async def test_search_looks_in_the_row_prompt_and_response(url: str) -> None:
    in_row = (await get(url, f"{EVALUATION_PATH}?q=what+is+42%2B42")).text
    assert item_ids(in_row) == [42]
    in_prompt = (await get(url, f"{EVALUATION_PATH}?q=Q:+What+is+11%2B")).text
    assert item_ids(in_prompt) == [11]
    response = by_id(url, BASELINE)[0].model_response
    assert response == "0"
    in_response = (await get(url, f"{EVALUATION_PATH}?q=(or+so)")).text
    wrong = [i for i, r in by_id(url, BASELINE).items() if "(or so)" in (r.model_response or "")]
    assert item_ids(in_response) == wrong[:50]


async def test_filters_combine_and_stay_in_the_paging_links(url: str) -> None:
    page = (await get(url, f"{EVALUATION_PATH}?errors=1&limit=2")).text
    assert item_ids(page) == [3, 28]
    assert link(page, "next-page") == f"{EVALUATION_PATH}?errors=1&after=28&limit=2"
    second = (await get(url, f"{EVALUATION_PATH}?errors=1&after=28&limit=2")).text
    assert item_ids(second) == [53, 78]
    both = (await get(url, f"{EVALUATION_PATH}?errors=1&q=What+is+53")).text
    assert item_ids(both) == [53]


async def test_the_filter_form_shows_the_filters_of_the_url(url: str) -> None:
    page = (await get(url, f"{EVALUATION_PATH}?errors=1&q=abc")).text
    assert 'name="errors" value="1" checked' in page
    assert 'name="q" value="abc"' in page


async def test_a_search_over_more_than_the_scan_limit_links_on_from_where_it_stopped(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(source_module, "SCAN_LIMIT", 30)
    assert SCAN_LIMIT > 30
    page = (await get(url, f"{EVALUATION_PATH}?q=What+is+100%2B")).text
    assert item_ids(page) == []
    assert "Searched up to item 29" in page
    assert link(page, "next-page") == f"{EVALUATION_PATH}?q=What+is+100%2B&after=29"
    path: str | None = link(page, "next-page")
    found: list[int] = []
    while path is not None:
        page = (await get(url, path)).text
        found += item_ids(page)
        path = link(page, "next-page")
    assert found == [100]


# The item page ---------------------------------------------------------------------------


async def test_an_item_shows_row_prompt_response_scores_and_metadata(url: str) -> None:
    page = (await get(url, item_url(BASELINE, 10))).text
    record = by_id(url, BASELINE)[10]
    assert "What is 10+10?" in page
    assert '<pre id="prompt">Q: What is 10+10?</pre>' in page
    assert f'<pre id="response">{htmllib.escape(record.model_response or "")}</pre>' in page
    assert "exact_match" in page
    assert "meta-10" in page  # the score's metadata
    assert "1 attempt" in page


async def test_a_failed_item_shows_its_full_traceback(url: str) -> None:
    page = (await get(url, item_url(BASELINE, 28))).text
    record = by_id(url, BASELINE)[28]
    assert record.error is not None
    assert "Error: ValueError" in page
    shown = re.search(r'<pre class="traceback" id="traceback">(.*?)</pre>', page, re.S)
    assert shown is not None
    assert htmllib.unescape(shown[1]) == record.error.traceback
    assert "Traceback (most recent call last)" in page


async def test_item_pages_link_to_the_items_before_and_after(url: str) -> None:
    page = (await get(url, item_url(BASELINE, 10))).text
    assert link(page, "previous-item") == item_url(BASELINE, 9)
    assert link(page, "next-item") == item_url(BASELINE, 11)
    first = (await get(url, item_url(BASELINE, 0))).text
    assert link(first, "previous-item") is None
    last = (await get(url, item_url(BASELINE, ITEMS - 1))).text
    assert link(last, "next-item") is None


async def test_item_links_keep_the_filter(url: str) -> None:
    page = (await get(url, item_url(BASELINE, 28, "?errors=1"))).text
    assert link(page, "previous-item") == item_url(BASELINE, 3, "?errors=1")
    assert link(page, "next-item") == item_url(BASELINE, 53, "?errors=1")
    table = (await get(url, f"{EVALUATION_PATH}?errors=1")).text
    assert f'href="{htmllib.escape(item_url(BASELINE, 3, "?errors=1"))}"' in table


# Compare ---------------------------------------------------------------------------------


def compare_path(query: str = "") -> str:
    base = urllib.parse.urlencode({"a": BASELINE, "b": CANDIDATE, "evaluation": EVALUATION})
    return f"/compare?{base}{query}"


def pair_ids(page: str) -> list[int]:
    return [int(found) for found in re.findall(r'class="pair-row" data-item="(\d+)"', page)]


async def test_compare_lists_the_items_where_the_runs_disagree(url: str) -> None:
    a, b = by_id(url, BASELINE), by_id(url, CANDIDATE)
    expected = [i for i in range(ITEMS) if correct(a[i]) != correct(b[i])]
    seen: list[int] = []
    path: str | None = compare_path()
    while path is not None:
        page = (await get(url, path)).text
        seen += pair_ids(page)
        path = link(page, "next-page")
    assert seen == expected
    first = (await get(url, compare_path())).text
    assert "0.875" in first
    assert "0.558" in first


async def test_compare_filters_a_right_b_wrong_and_the_reverse(url: str) -> None:
    a, b = by_id(url, BASELINE), by_id(url, CANDIDATE)
    a_only = [i for i in range(ITEMS) if correct(a[i]) and not correct(b[i])]
    b_only = [i for i in range(ITEMS) if correct(b[i]) and not correct(a[i])]
    assert a_only
    assert b_only
    page_a = (await get(url, compare_path("&better=a&limit=500"))).text
    page_b = (await get(url, compare_path("&better=b&limit=500"))).text
    assert pair_ids(page_a) == a_only
    assert pair_ids(page_b) == b_only


async def test_the_evaluation_page_links_to_compare_with_the_other_experiments(url: str) -> None:
    page = (await get(url, EVALUATION_PATH)).text
    found = link(page, "compare-link")
    assert found is not None
    response = await get(url, found)
    assert response.status_code == 200
    assert f"A: {BASELINE} vs B: {CANDIDATE}" in response.text


async def test_compare_without_its_parameters_says_what_it_needs(url: str) -> None:
    response = await get(url, f"/compare?a={BASELINE}")
    assert response.status_code == 400
    assert "compare needs b=, evaluation=" in response.text


# History chart ---------------------------------------------------------------------------


async def test_the_history_chart_has_a_point_per_experiment_oldest_first(url: str) -> None:
    page = (await get(url, f"/history/{Q(EVALUATION, safe='')}")).text
    (spec,) = json_scripts(page)
    values = spec["data"]["values"]
    assert [(row["label"], row["value"]) for row in values] == [
        (BASELINE, 0.875),
        (CANDIDATE, 0.5583333333333333),
    ]
    stored = open_storage(url)
    infos = [stored.evaluation(experiment, EVALUATION) for experiment in (BASELINE, CANDIDATE)]
    lows = [info.estimates["exact_match"]["accuracy"].ci[0] for info in infos if info is not None]
    assert [row["low"] for row in values] == lows
    assert any(layer["mark"]["type"] == "errorbar" for layer in spec["layer"])


# Intervals and comparisons --------------------------------------------------------------------


def fake_estimates(info: Any) -> dict[str, dict[str, doteval.Estimate]]:
    return {
        "exact_match": {
            "accuracy": doteval.Estimate(0.712, 0.028, (0.684, 0.740), 0.95, 1000, "wilson")
        }
    }


async def test_an_estimate_shows_its_interval_wherever_the_value_shows(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(source_module, "estimates", fake_estimates)
    shown = "0.712 ± 0.028 (95% CI 0.684–0.740, n=1,000)"
    for path in ("/", EVALUATION_PATH, f"/history/{Q(EVALUATION, safe='')}", compare_path()):
        page = (await get(url, path)).text
        assert shown in page, path
    history = (await get(url, f"/history/{Q(EVALUATION, safe='')}")).text
    (spec,) = json_scripts(history)
    assert {row["low"] for row in spec["data"]["values"]} == {0.684}
    assert any(layer["mark"]["type"] == "errorbar" for layer in spec["layer"])


async def test_without_an_estimate_the_bare_value_shows(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(source_module, "estimates", lambda info: None)
    page = (await get(url, EVALUATION_PATH)).text
    assert "0.875" in page
    assert "CI" not in page


async def test_a_paired_comparison_shows_at_the_top_of_compare(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    paired = doteval.Difference(
        -0.325, 0.05, (-0.42, -0.23), 0.95, 0.0001, "paired t-test", 3, 42, 70, 0, 0, 115
    )
    monkeypatch.setattr(
        source_module, "comparison", lambda a, b, storage: {"exact_match": {"accuracy": paired}}
    )
    page = (await get(url, compare_path())).text
    assert "Paired comparison" in page
    assert "-0.325 (95% CI -0.420–-0.230, p&lt;0.001 paired t-test; 3 better, 42 worse" in page
    assert '<td class="num">42</td>' in page
    without = (await get(url, "/")).text
    assert "Paired comparison" not in without


# Live runs and runs without a summary ----------------------------------------------------


async def test_a_running_evaluation_shows_as_running_and_then_completed(url: str) -> None:
    run = LiveRun(url, "live", "eval_live")
    run.write(7)
    path = "/evaluations/live/eval_live"
    page = (await get(url, path)).text
    assert 'data-status="running"' in page
    assert "7 items" in page
    assert "1.000" in page  # the live summary, totalled up from the records so far
    run.write(5)
    assert "12 items" in (await get(url, path)).text
    run.finish()
    done = (await get(url, path)).text
    assert 'data-status="completed"' in done
    assert 'data-status="running"' not in done


async def test_an_interrupted_run_is_totalled_up_from_its_records(url: str) -> None:
    run = LiveRun(url, "killed", "eval_killed")
    run.write(4)
    run.storage.release("killed", "eval_killed", run.lease, "interrupted")
    page = (await get(url, "/evaluations/killed/eval_killed")).text
    assert 'data-status="interrupted"' in page
    assert "1.000" in page  # every stored item has ok=True


# Names, escaping and errors ---------------------------------------------------------------


async def test_names_with_slashes_colons_brackets_and_spaces_are_encoded_in_links(
    url: str,
) -> None:
    page = (await get(url, "/")).text
    encoded = Q(EVALUATION, safe="")
    assert "%2F" in encoded
    assert "%3A%3A" in encoded
    assert "%5B" in encoded
    assert "%20" in encoded
    assert f'href="/evaluations/{BASELINE}/{encoded}"' in page
    assert f'href="/history/{encoded}"' in page


async def test_markup_in_stored_data_shows_as_text(url: str) -> None:
    for path in (EVALUATION_PATH, item_url(BASELINE, MARKUP_ITEM), compare_path("&limit=500")):
        page = (await get(url, path)).text
        assert MARKUP not in page, path
        assert "&lt;script&gt;alert(" in page, path


async def test_markup_in_names_shows_as_text(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'names.db'}"
    run = LiveRun(url, "x<img src=x onerror=alert(1)>", "<script>bad()</script>")
    run.write(2)
    run.finish()
    page = (await get(url, "/")).text
    assert "<script>bad()" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;bad()&lt;/script&gt;" in page


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/experiments/nope", "there is no experiment &#39;nope&#39;"),
        (f"/evaluations/{BASELINE}/eval_nope", "has no evaluation &#39;eval_nope&#39;"),
        (f"/evaluations/basline/{Q(EVALUATION, safe='')}", "did you mean &#39;baseline&#39;"),
        (item_url(BASELINE, 5000), "has no item 5000"),
        ("/no/such/page", "there is no page at /no/such/page"),
        ("/history/eval_nope", "no experiment in"),
    ],
)
async def test_unknown_names_get_a_404_page_that_says_what_is_missing(
    url: str, path: str, message: str
) -> None:
    response = await get(url, path)
    assert response.status_code == 404
    assert message in response.text
    assert "All experiments" in response.text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?after=x", "after=&#39;x&#39; must be a whole number"),
        ("?after=-1", "after=&#39;-1&#39; must be a whole number of at least 0"),
        ("?limit=0", "limit=&#39;0&#39; must be a whole number of at least 1"),
        ("?limit=100000", "more than 500 items a page"),
        ("?after=1&before=5", "cannot both be given"),
        ("?value=true", "needs score=NAME too"),
    ],
)
async def test_bad_query_parameters_get_a_400_page_naming_the_fix(
    url: str, query: str, message: str
) -> None:
    response = await get(url, EVALUATION_PATH + query)
    assert response.status_code == 400
    assert message in response.text


async def raw_get(url: str, raw_path: bytes) -> tuple[int, bytes]:
    """Send ``raw_path`` as it is: httpx would normalise ``..`` away before sending."""
    app = create_app(url)
    path = urllib.parse.unquote(raw_path.decode("ascii"))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": raw_path,
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return status, body


@pytest.mark.parametrize(
    "raw_path",
    [
        b"/static/../source.py",
        b"/static/%2e%2e/source.py",
        b"/static/vendor/../../app.py",
        b"/static/..%2fsource.py",
        b"/static/%2e%2e%2f%2e%2e%2f__init__.py",
        b"/static//etc/passwd",
        b"/static/../../../../../../etc/passwd",
    ],
)
async def test_no_file_outside_the_package_assets_is_served(url: str, raw_path: bytes) -> None:
    status, body = await raw_get(url, raw_path)
    assert status == 404
    assert b"import" not in body
    assert b"root:" not in body


async def test_the_assets_and_their_licences_are_served(url: str) -> None:
    for name in ("viewer.css", "live.js", "vendor/vega.min.js", "vendor/vega-lite.min.js"):
        response = await get(url, f"/static/{name}")
        assert response.status_code == 200, name
        assert len(response.content) > 500, name
    licence = await get(url, "/static/vendor/vega.LICENSE")
    assert "University of Washington" in licence.text


async def test_pages_forbid_inline_scripts_and_other_origins(url: str) -> None:
    response = await get(url, "/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_a_request_for_another_host_name_is_refused(url: str) -> None:
    response = await get(url, "/", host="attacker.example")
    assert response.status_code == 400
    assert "0.875" not in response.text


class ThirdPartyStore:
    """A backend the viewer knows only through the ``Storage`` protocol (it delegates
    to a built-in store, but is none of them)."""

    def __init__(self, url: str) -> None:
        from doteval.storage import open_storage

        self.inner = open_storage(url)
        self.url = "thirdparty://demo"

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def experiments(self) -> Any:
        return self.inner.experiments()

    def records(self, *args: Any, **kwargs: Any) -> Any:
        return self.inner.records(*args, **kwargs)

    def begin(self, *args: Any) -> Any:
        return self.inner.begin(*args)

    def writer(self, *args: Any) -> Any:
        return self.inner.writer(*args)

    def release(self, *args: Any) -> Any:
        return self.inner.release(*args)

    def rename(self, *args: Any) -> Any:
        return self.inner.rename(*args)

    def delete(self, *args: Any) -> Any:
        return self.inner.delete(*args)


async def test_a_backend_known_only_through_the_storage_protocol_is_viewed(url: str) -> None:
    transport = httpx.ASGITransport(app=create_app(ThirdPartyStore(url)))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        home = (await client.get("/")).text
        page = (await client.get(f"{EVALUATION_PATH}?errors=1")).text
    assert "thirdparty://demo" in home
    assert item_ids(page) == [i for i in range(ITEMS) if failing(i)]
