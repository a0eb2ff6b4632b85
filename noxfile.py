"""Developer sessions: ``nox -s tests lint typing docs bench``."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typing", "docs"]
nox.options.default_venv_backend = "venv"


@nox.session(python=["3.10", "3.11", "3.12", "3.13"])
def tests(session: nox.Session) -> None:
    """The suite on every Python that ``requires-python`` admits (nox skips one that is
    not installed); every async test runs on asyncio and on trio."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", "src", "tests", "benchmarks", "docs", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "tests", "benchmarks", "noxfile.py")


@nox.session
def typing(session: nox.Session) -> None:
    session.install("-e", ".[test]", "mypy", "types-jsonschema")
    session.run("mypy", "--strict", "src/doteval")
    # The public API as users' code sees it: accepted calls, and rejected ones.
    session.run("mypy", "--strict", "tests/typing/api.py")
    session.run("mypy", "--strict", "benchmarks")


@nox.session
def docs(session: nox.Session) -> None:
    session.install("-e", ".", "mkdocs-material")
    session.run("mkdocs", "build", "--strict", "--site-dir", session.create_tmp() + "/site")


@nox.session
def bench(session: nox.Session) -> None:
    """Throughput, latency, memory and start-up against a bare-anyio baseline, both
    backends; ``nox -s bench -- --profile`` writes py-spy profiles instead."""
    session.install("-e", ".[bench]")
    session.run("python", "-m", "benchmarks", *session.posargs)


@nox.session
def screenshots(session: nox.Session) -> None:
    """Retake docs/images/viewer-*.png with the browser tests (needs /usr/bin/chromium)."""
    session.install("-e", ".[test]")
    session.env["DOTEVAL_SCREENSHOTS"] = "docs/images"
    session.run("pytest", "tests/test_view_browser.py", "-p", "no:xdist", *session.posargs)
