"""Every ```python block of docs/*.md and README.md runs, as a reader would run it.

The blocks of one page share a namespace and run in page order, like a reader
pasting them into one session. A block with a top-level ``await`` (as in Jupyter
or ``python -m asyncio``) runs inside an event loop: on asyncio and, unless it
uses the asyncio API, on trio too. Conventions for page authors:

- ``<!-- skip: reason -->`` on the line before a block: the block is not run
  (the test is skipped with that reason).
- ``<!-- output -->`` on the line before a ```text block: that block is what the
  python block before it prints (compared like a doctest, with ``...`` wildcards).
"""

from __future__ import annotations

import ast
import contextlib
import doctest
import inspect
import io
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest

ROOT = Path(__file__).parents[1]
PAGES = [*sorted((ROOT / "docs").glob("**/*.md")), ROOT / "README.md"]
BACKENDS = ["asyncio", "trio"]

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`]*?)[ \t]*$")
_SKIP = re.compile(r"^\s*<!--\s*skip:\s*(?P<reason>.+?)\s*-->\s*$")
_OUTPUT = re.compile(r"^\s*<!--\s*output\s*-->\s*$")
_ASYNCIO_ONLY = frozenset({"asyncio", "aiohttp"})
_CHECKER = doctest.OutputChecker()
_OUTPUT_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@attrs.define
class Block:
    """One fenced block of a page, dedented; ``line`` is its opening fence's number."""

    page: Path
    line: int
    language: str
    code: str
    skip: str | None = None
    output: str | None = None

    @property
    def label(self) -> str:
        page = self.page.relative_to(ROOT) if self.page.is_relative_to(ROOT) else self.page.name
        return f"{page}:{self.line}"

    def uses_asyncio(self) -> bool:
        """Does it import or name asyncio (or aiohttp, which runs on asyncio only)?"""
        for node in ast.walk(ast.parse(self.code)):
            if isinstance(node, ast.Name) and node.id in _ASYNCIO_ONLY:
                return True
            if isinstance(node, ast.Import) and any(
                alias.name.split(".")[0] in _ASYNCIO_ONLY for alias in node.names
            ):
                return True
            if (
                isinstance(node, ast.ImportFrom)
                and (node.module or "").split(".")[0] in _ASYNCIO_ONLY
            ):
                return True
        return False


def _previous_text_line(lines: list[str], index: int) -> str:
    for line in reversed(lines[:index]):
        if line.strip():
            return line
    return ""


def parse_blocks(page: Path, language: str = "python") -> list[Block]:
    """The page's fenced blocks of ``language`` with their markers; python blocks get
    their output."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        closing = re.compile(rf"^{re.escape(indent)}{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        end = index + 1
        while end < len(lines) and not closing.match(lines[end]):
            end += 1
        body = [
            line[len(indent) :] if line.startswith(indent) else line.lstrip()
            for line in lines[index + 1 : end]
        ]
        skip = _SKIP.match(_previous_text_line(lines, index))
        block = Block(
            page=page,
            line=index + 1,
            language=(opening["info"].split() or [""])[0].lstrip("{.").rstrip("}"),
            code="\n".join(body) + "\n",
            skip=skip["reason"] if skip else None,
        )
        if _OUTPUT.match(_previous_text_line(lines, index)):
            owner = next((b for b in reversed(blocks) if b.language == "python"), None)
            if owner is None or owner.output is not None:
                raise ValueError(f"{block.label}: an output block must follow a python block")
            owner.output = block.code
        else:
            blocks.append(block)
        index = end + 1
    return [block for block in blocks if block.language == language]


BLOCKS = {page: parse_blocks(page) for page in PAGES}


async def _await(awaitable: Any) -> Any:
    return await awaitable


@attrs.define
class Reader:
    """One reader working through one page on one backend: the page's namespace."""

    page: Path
    backend: str
    module: types.ModuleType
    done: int = 0  # blocks of the page run (or passed over) so far
    failed: Block | None = None

    @classmethod
    def start(cls, page: Path, backend: str) -> Reader:
        stem = re.sub(r"\W", "_", page.stem)
        return cls(page, backend, types.ModuleType(f"docs_{stem}_{backend}"))

    def runs(self, block: Block) -> str | None:
        """Why ``block`` does not run here, or None if it does."""
        if block.skip is not None:
            return block.skip
        if self.backend == "trio" and block.uses_asyncio():
            return "uses the asyncio API: it runs on asyncio only"
        return None

    def run(self, block: Block) -> str:
        """Execute ``block`` in the page's namespace; what it printed."""
        code = compile(block.code, f"<{block.label}>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        printed = io.StringIO()
        sys.modules[self.module.__name__] = self.module  # as __main__ would be
        try:
            with contextlib.redirect_stdout(printed):
                if code.co_flags & inspect.CO_COROUTINE:
                    anyio.run(_await, eval(code, self.module.__dict__), backend=self.backend)
                else:
                    exec(code, self.module.__dict__)
        finally:
            del sys.modules[self.module.__name__]
        return printed.getvalue()

    def read_through(self, blocks: list[Block], index: int) -> str:
        """Run the blocks up to ``index`` that have not run yet; what block ``index`` printed."""
        printed = ""
        for position in range(self.done, index + 1):
            block = blocks[position]
            if self.failed is not None:
                pytest.fail(f"an earlier block of the page failed: {self.failed.label}")
            self.done = position + 1
            if self.runs(block) is not None:
                continue
            try:
                printed = self.run(block)
            except BaseException as exc:
                self.failed = block
                if position == index:
                    raise
                pytest.fail(f"an earlier block of the page, {block.label}, failed: {exc!r}")
        return printed


_readers: dict[tuple[Path, str], Reader] = {}


def reader_for(page: Path, backend: str, index: int) -> Reader:
    """The reader who has run the blocks before ``index`` (a fresh one if it went past)."""
    reader = _readers.get((page, backend))
    if reader is None or reader.done > index:
        reader = _readers[page, backend] = Reader.start(page, backend)
    return reader


def _cases() -> Iterator[Any]:
    for backend in BACKENDS:
        for page, blocks in BLOCKS.items():
            for index, block in enumerate(blocks):
                yield pytest.param(page, index, backend, id=f"{block.label}-{backend}")


@pytest.mark.parametrize(("page", "index", "backend"), list(_cases()))
def test_block(page: Path, index: int, backend: str) -> None:
    blocks = BLOCKS[page]
    block = blocks[index]
    reader = reader_for(page, backend, index)
    reason = reader.runs(block)
    if reason is not None:
        pytest.skip(reason)
    printed = reader.read_through(blocks, index)
    if block.output is not None and not _CHECKER.check_output(block.output, printed, _OUTPUT_FLAGS):
        example = doctest.Example(block.code, block.output)
        pytest.fail(_CHECKER.output_difference(example, printed, _OUTPUT_FLAGS))


# --- the conventions themselves --------------------------------------------------------


SAMPLE = """\
Text.

```python
x = 1
```

<!-- skip: needs a GPU -->
```python
import gpu
```

```bash
pip install doteval
```

!!! note
    ```python
    print(x + 1)
    ```

    <!-- output -->
    ```text
    2
    ```
"""


def test_parse_blocks_reads_markers(tmp_path: Path) -> None:
    page = tmp_path / "sample.md"
    page.write_text(SAMPLE, encoding="utf-8")
    blocks = parse_blocks(page)
    assert [(b.line, b.code, b.skip, b.output) for b in blocks] == [
        (3, "x = 1\n", None, None),
        (8, "import gpu\n", "needs a GPU", None),
        (17, "print(x + 1)\n", None, "2\n"),
    ]


def test_asyncio_detection() -> None:
    def block(code: str) -> Block:
        return Block(ROOT / "README.md", 1, "python", code)

    assert block("import asyncio\nasyncio.run(main())\n").uses_asyncio()
    assert block("from aiohttp import ClientSession\n").uses_asyncio()
    assert not block("from tqdm.asyncio import tqdm  # asyncio.run\n").uses_asyncio()
    assert not block("await anyio.sleep(0)\n").uses_asyncio()


@pytest.mark.parametrize("backend", BACKENDS)
def test_top_level_await_runs_on_the_backend(tmp_path: Path, backend: str) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```python\nimport anyio\nimport sniffio\nlibrary = sniffio.current_async_library()\n"
        "await anyio.sleep(0)\n```\n",
        encoding="utf-8",
    )
    reader = Reader.start(page, backend)
    (block,) = parse_blocks(page)
    reader.run(block)
    assert reader.module.library == backend


def test_api_reference_names_every_public_name() -> None:
    import doteval
    import doteval.concurrency
    import doteval.datasets
    import doteval.evaluators
    import doteval.metrics
    import doteval.storage
    import doteval.testing

    reference = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    missing = [
        f"{module.__name__}.{name}"
        for module in (
            doteval,
            doteval.evaluators,
            doteval.metrics,
            doteval.concurrency,
            doteval.storage,
            doteval.datasets,
        )
        for name in module.__all__
        if f"`{name}" not in reference
    ]
    missing += [] if "`FakeModel(" in reference else ["doteval.testing.FakeModel"]
    assert not missing, f"docs/api.md does not describe {', '.join(missing)}"
