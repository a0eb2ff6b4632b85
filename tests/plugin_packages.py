"""Installing small plugin packages for tests: a real ``*.dist-info`` that importlib finds.

A package is a directory on ``sys.path`` (or ``PYTHONPATH``, for a subprocess)
holding the package's modules and ``NAME-VERSION.dist-info/`` with ``METADATA``
and ``entry_points.txt``, as pip leaves an installed wheel.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path


def write_plugin(
    site: Path,
    distribution: str,
    modules: Mapping[str, str],
    entry_points: Mapping[str, Mapping[str, str]],
) -> Path:
    """Write the distribution ``distribution`` into ``site``; returns ``site``.

    ``modules`` maps a module's file name (``toy_plugin.py``) to its source;
    ``entry_points`` maps a group to ``{name: "module:attribute"}``.
    """
    site.mkdir(parents=True, exist_ok=True)
    for filename, source in modules.items():
        (site / filename).write_text(textwrap.dedent(source), encoding="utf-8")
    info = site / f"{distribution.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 0.1\n", encoding="utf-8"
    )
    lines = []
    for group, points in entry_points.items():
        lines.append(f"[{group}]")
        lines.extend(f"{name} = {target}" for name, target in points.items())
        lines.append("")
    (info / "entry_points.txt").write_text("\n".join(lines), encoding="utf-8")
    (info / "RECORD").write_text("", encoding="utf-8")
    return site
