"""Install commands in the docs work: none installs the ``doteval`` name from the package
index (an unrelated, empty placeholder holds it), and nox is installed where it is used."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
SOURCES = sorted((ROOT / "src" / "doteval").glob("**/*.py"))
"""Error messages and docstrings tell users what to install too."""

_INSTALL = re.compile(
    r"\b(?:pip3?|uv pip|pipx)\s+install\s+(?P<args>[^\n`]*)"
    r"|\b(?:uv|poetry)\s+add\s+(?P<added>[^\n`]*)"
)
_FROM_INDEX = re.compile(r"doteval(\[[^\]]*\])?(?:[<>=!~;].*)?", re.IGNORECASE)


def _arguments(text: str) -> list[str]:
    """The words of one command, up to where a shell would end it."""
    text = re.split(r"&&|\|\||;|\||#", text)[0]
    try:
        return shlex.split(text)
    except ValueError:  # an unbalanced quote in prose: the words as they are
        return text.split()


def index_installs(text: str) -> list[str]:
    """The commands in ``text`` that would install ``doteval`` from the package index."""
    found = []
    for match in _INSTALL.finditer(text):
        words = _arguments(match["args"] or match["added"] or "")
        for index, word in enumerate(words):
            follows = words[index + 1] if index + 1 < len(words) else ""
            if _FROM_INDEX.fullmatch(word) and follows != "@" and "@" not in word:
                found.append(match.group(0).strip())
    return found


@pytest.mark.parametrize(
    "command",
    [
        "pip install doteval",
        'pip install "doteval[trio]"',
        "pip install 'doteval[view]'",
        "pip install -U doteval==0.1",
        "uv add doteval",
        "`pip install doteval[postgres]`",
    ],
)
def test_the_check_finds_installs_from_the_index(command: str) -> None:
    assert index_installs(f"Run {command} first.\n") != []


@pytest.mark.parametrize(
    "command",
    [
        "pip install .",
        'pip install ".[postgres]"',
        'pip install -e ".[test]" && python -m pytest',
        'pip install "doteval[view] @ git+https://github.com/OWNER/doteval"',
        "pip install doteval @ git+https://github.com/OWNER/doteval",
        "pip install fsspec",
        "pip install nox && nox -s docs",
    ],
)
def test_the_check_lets_working_installs_through(command: str) -> None:
    assert index_installs(f"Run {command} first.\n") == []


@pytest.mark.parametrize("path", PAGES + SOURCES, ids=lambda path: str(path.relative_to(ROOT)))
def test_nothing_says_to_install_doteval_from_the_index(path: Path) -> None:
    assert index_installs(path.read_text(encoding="utf-8")) == [], (
        f"{path.relative_to(ROOT)} tells users to install doteval from the package index, "
        f'where the name is an unrelated placeholder: use pip install ".[extra]" in a '
        f'checkout, or pip install "doteval[extra] @ git+URL"'
    )


def test_getting_started_says_how_to_install_from_a_checkout_and_a_git_url() -> None:
    page = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
    assert "pip install .  " in page
    assert 'pip install "doteval @ git+https://github.com/OWNER/doteval"' in page
    assert "placeholder" in page


def test_the_readme_keeps_its_two_set_up_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", readme, re.DOTALL)
    assert blocks == [
        "pip install . && python -m doteval.examples.arithmetic\n",
        'pip install -e ".[test]" && python -m pytest\n',
    ]
    assert re.search(r"takes about \d+ minutes", readme)


@pytest.mark.parametrize("path", PAGES, ids=lambda path: str(path.relative_to(ROOT)))
def test_nox_is_installed_by_the_command_that_runs_it(path: Path) -> None:
    for line in path.read_text(encoding="utf-8").splitlines():
        for command in re.findall(r"`([^`]*\bnox -s[^`]*)`|^(.*\bnox -s.*)$", line):
            command = command[0] or command[1]
            assert "pip install nox" in command, f"{path.name}: {line!r} does not install nox"
