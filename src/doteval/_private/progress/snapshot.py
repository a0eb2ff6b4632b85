"""One reading of a run's progress, and the words a display shows for it."""

from __future__ import annotations

import attrs

from doteval._private.text import plural


def elapsed(seconds: float) -> str:
    """A run's wall time: ``2.4 s`` for a short one, ``1:02:03`` for a long one."""
    return f"{seconds:.1f} s" if seconds < 60 else duration(seconds)


def duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


@attrs.frozen(repr=False)
class Snapshot:
    """One reading of a run, as the display shows it."""

    label: str
    done: int
    total: int | None
    rate: float
    eta: float | None
    in_flight: int
    errors: int
    retries: int
    elapsed: float
    skipped: int = 0
    """Items done before, by the run this one resumes (included in ``done``)."""
    unit: str = "item"
    """What is counted: items, or item-epochs when each item runs several times."""
    resumed: int = 0
    """Successes a resumed run found stored (0: it is not resuming)."""
    ended: str | None = None
    """How the run ended (``finished``, ``stopped``), for its last row."""

    def fields(self) -> list[str]:
        count = f"{self.done:,}" if self.total is None else f"{self.done:,}/{self.total:,}"
        if self.unit != "item":
            count += f" {self.unit}s"
        fields = [count, f"{self.rate:,.1f} items/s"]
        if self.ended is not None:
            fields.append(f"{self.ended} in {elapsed(self.elapsed)}")
        else:
            if self.total is not None:
                fields.append("ETA " + ("--" if self.eta is None else duration(self.eta)))
            fields.append(f"{self.in_flight:,} in flight")
        fields += [plural(self.errors, "error"), plural(self.retries, "retry", "retries")]
        if self.resumed:
            fields.append(resumed_text(self.resumed, self.total))
        return fields

    def line(self) -> str:
        return f"{self.label}: " + ", ".join(self.fields())

    def final_line(self, finished: bool) -> str:
        outcome = "finished" if finished else "stopped after"
        resumed = f" ({self.skipped:,} stored before)" if self.skipped else ""
        rate = (self.done - self.skipped) / max(self.elapsed, 1e-9)
        return (
            f"{self.label}: {outcome} {plural(self.done, self.unit)}{resumed} in "
            f"{elapsed(self.elapsed)} ({rate:,.1f} items/s), "
            f"{plural(self.errors, 'error')}, {plural(self.retries, 'retry', 'retries')}"
        )


def resumed_text(stored: int, total: int | None) -> str:
    """``resumed: 137 stored, 163 to run``."""
    to_run = "" if total is None else f", {max(total - stored, 0):,} to run"
    return f"resumed: {stored:,} stored{to_run}"
