"""The package's structure: no import circles, and lower layers never import higher ones.

The import graph is read from the source with ``ast``, imports inside functions
included (moving an import into a function does not remove a circle); only
``if TYPE_CHECKING:`` blocks are exempt.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SOURCE = Path(__file__).parents[1] / "src"
PACKAGE = SOURCE / "doteval"

LAYERS = [
    {"errors", "text", "validators", "public", "exception_groups", "protocols", "version", "stats"},
    {"scoring", "plugins"},
    {"results"},
    {"retry", "datasets"},
    {"storage"},
    {"concurrency"},
    {"persist", "analysis"},
    {"run"},
    {"progress"},
    {"api"},
    {"pytest", "cli", "view"},
]
"""The rooms of ``doteval._private``, lowest first (see its ``__init__`` for what each does)."""


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(SOURCE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, modules: dict[str, Path]) -> set[str]:
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # ``from package import module`` imports the module too.
            found.update(
                f"{node.module}.{alias.name}"
                for alias in node.names
                if f"{node.module}.{alias.name}" in modules
            )
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {name for name in found if name in modules}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {
        name: _imports(ast.parse(path.read_text(encoding="utf-8")), modules) - {name}
        for name, path in modules.items()
    }


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle, as the modules along it, or ``None``."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        stack.append(name)
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[name] = 2
        return None

    for name in sorted(graph):
        if name not in state:
            found = visit(name)
            if found:
                return found
    return None


def test_the_import_graph_has_no_circle() -> None:
    cycle = _cycle(_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_circle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def _layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) < 3 or parts[1] != "_private":
        return len(LAYERS) - 1  # the public modules sit with the top rooms, their clients
    for index, rooms in enumerate(LAYERS):
        if parts[2] in rooms:
            return index
    raise AssertionError(f"{module} is in no layer of tests/test_layout.py: add its room")


def test_lower_layers_never_import_higher_ones() -> None:
    wrong = []
    for module, targets in _graph().items():
        own = _layer(module)
        for target in targets:
            if _layer(target) > own:
                wrong.append(f"{module} imports {target}")
    assert not wrong, "\n".join(sorted(wrong))


def test_the_type_checking_exemption_is_read_from_the_source() -> None:
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "import doteval._private.errors\n"
        "if TYPE_CHECKING:\n    import doteval._private.run.engine\n"
        "def f():\n    import doteval._private.api.foreach\n"
    )
    assert _imports(tree, _modules()) == {
        "doteval._private.errors",
        "doteval._private.api.foreach",
    }


def _imported_after(code: str) -> list[str]:
    script = f"import sys\n{code}\nprint('\\n'.join(sorted(sys.modules)))"
    output = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    ).stdout
    return output.split()


def test_importing_doteval_loads_no_storage_backend_and_no_entry_points() -> None:
    loaded = _imported_after("import doteval, doteval.storage")
    assert not [name for name in loaded if name.startswith("doteval._private.storage.backends")]
    for heavy in ("rich", "click", "jsonschema", "stamina", "tenacity", "pytest"):
        assert heavy not in loaded


def test_a_built_in_scheme_loads_its_backend_alone_without_reading_entry_points() -> None:
    loaded = _imported_after(
        "import importlib.metadata\n"
        "def refuse(*args, **kwargs):\n"
        "    raise AssertionError('entry points were read for a built-in scheme')\n"
        "importlib.metadata.entry_points = refuse\n"
        "from doteval.storage import open_storage\n"
        "open_storage('memory://x')"
    )
    backends = [name for name in loaded if name.startswith("doteval._private.storage.backends")]
    assert backends == [
        "doteval._private.storage.backends",
        "doteval._private.storage.backends.memory",
    ]
