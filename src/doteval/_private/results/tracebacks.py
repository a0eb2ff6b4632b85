"""Stored tracebacks as a user wants to read them, and a run's errors grouped by type.

A record's ``ErrorInfo.traceback`` is the full ``traceback.format_exception`` text,
mostly doteval's own frames (the item runner, retries, threads) around a few of the
user's. Records come back from a store, possibly written on another machine, so this
works on the text: it is parsed, not re-derived from live exception objects.

Trimmed, a traceback reads as pytest's ``--tb=short`` shows one: ``path:line: in
name``, the source line, then the exception as ``E   Type: message``. The user's
frames are kept; the frames of doteval and of the libraries it runs on (anyio,
asyncio, trio, stamina, ...) are folded into one line saying how many were hidden.
Chained exceptions keep their "The above exception ..." lines and are trimmed alike.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from typing import Literal

import attrs

from doteval._private.results.records import Record
from doteval._private.text import plural, shorten

TracebackStyle = Literal["no", "short", "long"]
TRACEBACK_STYLES: tuple[TracebackStyle, ...] = ("no", "short", "long")
"""``no``: none; ``short``: trimmed; ``long``: the full stored text."""

HIDDEN = frozenset(
    {
        "doteval",
        "anyio",
        "asyncio",
        "trio",
        "stamina",
        "tenacity",
        "sniffio",
        "outcome",
        "exceptiongroup",
        "attr",
        "attrs",
        "concurrent",
        "threading",
    }
)
"""Packages whose frames are folded away: doteval, and what it runs evaluations on."""

LineKind = Literal["heading", "frame", "source", "hidden", "error", "chain", "text"]
Line = tuple[LineKind, str]
STYLES: dict[LineKind, str] = {
    "heading": "bold",
    "frame": "",
    "source": "",
    "hidden": "dim",
    "error": "red",
    "chain": "",
    "text": "",
}
"""The rich style of each kind of line, so the terminal and pytest show them alike."""

_HEADER = "Traceback (most recent call last):"
_CHAINS = frozenset(
    {
        "During handling of the above exception, another exception occurred:",
        "The above exception was the direct cause of the following exception:",
    }
)
_FRAME = re.compile(
    r'^(?P<prefix>[ |+-]*?)  File "(?P<path>.*)", line (?P<line>\d+), in (?P<name>.*)$'
)
_CARETS = re.compile(r"^[\s~^]*[~^][\s~^]*$")
_REPEATED = re.compile(r"^\s*\[Previous line repeated \d+ more times?\]$")
_LIBRARY_DIRS = ("site-packages", "dist-packages")
_STDLIB = re.compile(r"/(?:lib/(?:python|pypy)[\d.]+|Lib)/(?P<module>[^/]+)")
_GROUP = re.compile(r"^[ |]*\+ Exception Group Traceback \(most recent call last\):$", re.M)
_OWN_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
"""This doteval's package directory (``.../doteval``): its frames are hidden wherever it
is installed; a traceback from another machine is recognised by ``doteval/_private/``."""


def package_of(path: str) -> str | None:
    """The package a frame's file belongs to when it is one to hide, else ``None``."""
    normal = path.replace("\\", "/")
    own = normal.startswith(_OWN_DIR.replace("\\", "/") + "/")
    if "/doteval/_private/" in normal or (own and "/doteval/examples/" not in normal):
        return "doteval"  # the bundled examples are evaluations as a user writes them
    parts = normal.split("/")
    for marker in _LIBRARY_DIRS:
        if marker in parts[:-1]:
            name = parts[parts.index(marker) + 1].removesuffix(".py")
            return name if name in HIDDEN else None
    stdlib = _STDLIB.search(normal)
    if stdlib is not None:
        name = stdlib["module"].removesuffix(".py")
        return name if name in HIDDEN else None
    return None


@attrs.frozen(repr=False)
class _Frame:
    path: str
    line: str
    name: str
    source: tuple[str, ...]


@attrs.frozen(repr=False)
class _Section:
    """One exception of a chain: the line that introduced it, its frames, its message."""

    chain: str | None
    frames: tuple[_Frame, ...]
    exception: tuple[str, ...]


def _parse(lines: Sequence[str]) -> list[_Section] | None:
    """The sections of a plain (not exception-group) traceback, or ``None`` if it is not one."""
    sections: list[_Section] = []
    chain: str | None = None
    index, count = 0, len(lines)
    while index < count:
        frames: list[_Frame] = []
        if lines[index] == _HEADER:
            index += 1
            while index < count:
                found = _FRAME.match(lines[index])
                if found is None or found["prefix"]:
                    if frames and _REPEATED.match(lines[index]):
                        last = frames[-1]
                        frames[-1] = attrs.evolve(last, source=(*last.source, lines[index].strip()))
                        index += 1
                        continue
                    break
                index += 1
                source: list[str] = []
                while index < count and lines[index].startswith("    "):
                    if not _CARETS.match(lines[index]):
                        source.append(lines[index].strip())
                    index += 1
                frames.append(_Frame(found["path"], found["line"], found["name"], tuple(source)))
        exception: list[str] = []
        while index < count and not (
            lines[index] == "" and index + 1 < count and lines[index + 1] in _CHAINS
        ):
            exception.append(lines[index])
            index += 1
        while exception and not exception[-1].strip():
            exception.pop()
        if not frames and not exception:
            return None
        sections.append(_Section(chain, tuple(frames), tuple(exception)))
        if index < count:  # at the blank line before a chain message
            chain = lines[index + 1]
            index += 2
            while index < count and not lines[index].strip():
                index += 1
    return sections or None


def _shown_path(path: str, cwd: str) -> str:
    """The path relative to the working directory when it lies below it, as pytest shows it."""
    if not os.path.isabs(path):
        return path
    try:
        relative = os.path.relpath(path, cwd)
    except ValueError:  # another drive
        return path
    return path if relative.startswith("..") else relative


def _hidden_line(prefix: str, hidden: list[str]) -> Line:
    packages = list(dict.fromkeys(hidden))
    names = packages[0] if len(packages) == 1 else f"{', '.join(packages[:-1])} and {packages[-1]}"
    return "hidden", f"{prefix}  ... {plural(len(hidden), 'frame')} of {names} hidden"


def _short_section(section: _Section, cwd: str) -> list[Line]:
    lines: list[Line] = []
    if section.chain is not None:
        lines += [("text", ""), ("chain", section.chain), ("text", "")]
    hidden: list[str] = []
    for frame in section.frames:
        package = package_of(frame.path)
        if package is not None:
            hidden.append(package)
            continue
        lines.append(("frame", f"{_shown_path(frame.path, cwd)}:{frame.line}: in {frame.name}"))
        lines += [("source", f"    {source}") for source in frame.source]
    if hidden:
        lines.append(_hidden_line("", hidden))
    lines += [("error", f"E   {text}".rstrip()) for text in section.exception]
    return lines


def _fold_in_place(lines: Sequence[str]) -> list[Line]:
    """An exception group's text with each run of hidden frames folded where it was:
    its nested ``|`` layout is kept as Python printed it."""
    shown: list[Line] = []
    hidden: list[str] = []
    prefix = ""
    index = 0
    while index < len(lines):
        found = _FRAME.match(lines[index])
        if found is not None and package_of(found["path"]) is not None:
            if hidden and found["prefix"] != prefix:
                shown.append(_hidden_line(prefix, hidden))
                hidden = []
            prefix = found["prefix"]
            hidden.append(package_of(found["path"]) or "")
            index += 1
            while index < len(lines) and lines[index].startswith(prefix + "    "):
                index += 1
            continue
        if hidden:
            shown.append(_hidden_line(prefix, hidden))
            hidden = []
        shown.append(("text", lines[index]))
        index += 1
    if hidden:
        shown.append(_hidden_line(prefix, hidden))
    return shown


def trimmed_lines(text: str, cwd: str | None = None) -> list[Line]:
    """``text`` (a stored traceback) trimmed to the user's frames, as kinds and lines."""
    lines = text.rstrip("\n").split("\n")
    sections = None if _GROUP.search(text) else _parse(lines)
    if sections is None:
        return _fold_in_place(lines)
    cwd = os.getcwd() if cwd is None else cwd
    return [line for section in sections for line in _short_section(section, cwd)]


def trim_traceback(text: str, cwd: str | None = None) -> str:
    """``text`` (a stored traceback) as pytest's ``--tb=short`` would show it, with the
    frames of doteval and the libraries it runs on folded into one line; paths below
    ``cwd`` (default: the working directory) are shown relative to it."""
    return "\n".join(line for _, line in trimmed_lines(text, cwd))


@attrs.frozen(repr=False)
class ErrorGroup:
    """The items of a run that failed with one type of error, and one example of them.

    Plain values only, so that it travels as JSON (pytest-xdist sends it to the
    controller) and reads the same wherever the records were stored.
    """

    type: str
    count: int
    item_id: int
    row: str
    """The example's dataset row, shortened for display."""
    message: str
    traceback: str
    """The example's full stored traceback."""

    def lines(self, style: TracebackStyle = "short", total: int | None = None) -> list[Line]:
        """A heading (how many items, of ``total`` if given; the example) and the example's
        traceback: trimmed (``short``), in full (``long``) or not at all (``no``)."""
        count = plural(self.count, "item")
        if total is not None:
            count = f"{self.count:,} of {plural(total, 'item')}"
        heading = f"{self.type} on {count}, for example item {self.item_id}, row {self.row}"
        body: list[Line] = []
        if style == "short":
            body = trimmed_lines(self.traceback) if self.traceback else []
        elif style == "long" and self.traceback:
            body = [("text", line) for line in self.traceback.rstrip("\n").split("\n")]
        if style != "no" and not body:  # a record stored without its traceback
            body = [("error", f"E   {self.type}: {self.message}")]
        return [("heading", heading), *body]


def group_errors(records: Iterable[Record]) -> list[ErrorGroup]:
    """The failed records among ``records`` grouped by error type: the most frequent first
    (ties by first appearance), each with its count and its first record as example."""
    counts: dict[str, int] = {}
    examples: dict[str, Record] = {}
    for record in records:
        if record.error is None:
            continue
        kind = record.error.type
        counts[kind] = counts.get(kind, 0) + 1
        examples.setdefault(kind, record)
    groups = []
    for kind, example in examples.items():
        error = example.error
        assert error is not None
        groups.append(
            ErrorGroup(
                type=kind,
                count=counts[kind],
                item_id=example.item_id,
                row=shorten(example.row, 120),
                message=error.message,
                traceback=error.traceback,
            )
        )
    order = list(examples)
    return sorted(groups, key=lambda group: (-group.count, order.index(group.type)))
