"""The plugin's state for one pytest session, and the plugin objects registered with it."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

import attrs
import pytest

from doteval._private.pytest.options import Settings
from doteval._private.pytest.report import Row, render_errors, render_table, write_report
from doteval._private.pytest.terminal import PytestTarget
from doteval._private.storage.registry import default_url, open_storage

EXPERIMENT_KEY = "doteval_experiment"
"""The key of the controller's experiment name in an xdist worker's ``workerinput``."""


@attrs.define(eq=False, repr=False)
class Session:
    """The plugin's state for one pytest session."""

    settings: Settings
    experiment: str
    """The session's experiment, for evaluations whose options name none."""
    worker: bool
    target: PytestTarget | None = None
    backend: str | None = None
    """Set while an evaluation item runs: its async fixtures run on this backend."""


SESSION = pytest.StashKey[Session]()
ROW = pytest.StashKey[Row]()
LEASE = pytest.StashKey[ExitStack]()


@attrs.define(repr=False)
class XdistController:
    """Hands the controller's experiment to each worker, so they all store into one."""

    experiment: str

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[EXPERIMENT_KEY] = self.experiment


@attrs.define(eq=False, repr=False)
class Summary:
    """Collects the rows of the session's evaluations (the workers' too, under xdist)
    and shows them at the end."""

    config: pytest.Config
    rows: list[Row] = attrs.field(factory=list)
    html_note: str | None = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        row = getattr(report, "doteval", None)
        if row is not None:
            self.rows.append({**row, "outcome": report.outcome})

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.html_note is not None:
            terminalreporter.write_line(self.html_note)  # before the table: it may return
        if not self.rows:
            return
        writer = self.config.get_terminal_writer()
        terminalreporter.write_sep("=", "doteval summary")
        terminalreporter.write(render_table(self.rows, writer.fullwidth, writer.hasmarkup))
        style = self.config.stash[SESSION].settings.tb
        if style == "no":
            return
        for row in self.rows:
            if row.get("error_groups"):
                terminalreporter.write_sep("-", f"errors of {row['evaluation']}")
                terminalreporter.write(
                    render_errors(row, style, writer.fullwidth, writer.hasmarkup)
                )

    def pytest_sessionfinish(self, exitstatus: int) -> None:
        session = self.config.stash[SESSION]
        report = session.settings.report
        if report is not None:
            write_report(report, self.rows, int(exitstatus))
        if session.settings.html is not None:
            from doteval._private.view.pytest_html import write_session_html

            storage = session.settings.options.storage or default_url()
            self.html_note = write_session_html(
                session.settings.html,
                self.rows,
                session.experiment,
                storage if isinstance(storage, str) else open_storage(storage).url,
            )
