"""The Jinja2 environment of the pages and the report: autoescaping everything, so a
name or a row holding ``<script>`` shows as text."""

from __future__ import annotations

import functools
from importlib.resources import files
from typing import Any

import jinja2

from doteval._private.view import urls
from doteval._private.view.formatting import FILTERS
from doteval._private.view.pages import row_value, score_of


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("doteval._private.view", "templates"),
        autoescape=jinja2.select_autoescape(["html"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    env.globals.update(urls.GLOBALS, row_value=row_value, score_of=score_of)
    return env


def compile_all() -> None:
    """Compile every template now, so the first request does not wait for it (~0.1 s)."""
    env = environment()
    for name in env.list_templates(extensions=["html"]):
        env.get_template(name)


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


def asset(name: str) -> str:
    """The text of a file of ``static/`` (the report inlines them)."""
    return files("doteval._private.view").joinpath("static", name).read_text(encoding="utf-8")
