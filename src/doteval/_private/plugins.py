"""Objects that installed packages provide through entry points, looked up by name.

Entry points are read only when a name is asked for that doteval does not define
itself, so ``import doteval`` never scans the installed packages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from doteval._private.errors import PluginError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

DATASETS = "doteval.datasets"
EVALUATORS = "doteval.evaluators"
METRICS = "doteval.metrics"


def _provider(point: EntryPoint) -> str:
    dist = getattr(point, "dist", None)
    return f"the package {dist.name}" if dist is not None else f"the entry point {point.value}"


def names(group: str) -> list[str]:
    """The names installed packages register in ``group``, sorted."""
    from importlib.metadata import entry_points  # deferred: only plugin look-ups pay for it

    return sorted({point.name for point in entry_points(group=group)})


@attrs.define(repr=False)
class Group:
    """One entry-point group: its loaded objects are kept, by name."""

    group: str
    kind: str
    """What the group's objects are, for messages: ``evaluator``, ``metric``, ``dataset``."""
    check: Callable[[Any], bool]
    expected: str
    """What ``check`` accepts, for messages."""
    _loaded: dict[str, Any] = attrs.field(factory=dict)

    def find(self, name: str) -> Any | None:
        """The object registered as ``name``, or ``None`` if no package registers it."""
        if name in self._loaded:
            return self._loaded[name]
        from importlib.metadata import entry_points  # deferred: only plugin look-ups pay for it

        points = [point for point in entry_points(group=self.group) if point.name == name]
        if not points:
            return None
        providers = sorted({_provider(point) for point in points})
        if len(providers) > 1:
            raise PluginError(
                f"{' and '.join(providers)} both register the {self.kind} {name!r} in the "
                f"{self.group!r} entry-point group; uninstall one of them"
            )
        try:
            found = points[0].load()
        except Exception as exc:
            raise PluginError(
                f"the {self.kind} {name!r} of {providers[0]} ({points[0].value}) cannot be "
                f"loaded: {type(exc).__name__}: {exc}"
            ) from exc
        if not self.check(found):
            raise PluginError(
                f"the {self.kind} {name!r} of {providers[0]} ({points[0].value}) is "
                f"{type(found).__name__} {found!r}, not {self.expected}"
            )
        self._loaded[name] = found
        return found

    def names(self) -> list[str]:
        return names(self.group)


def unknown(kind: str, name: str, available: list[str]) -> str:
    """The message for a name nothing defines, listing what exists."""
    listed = ", ".join(available) if available else "none"
    return f"no {kind} named {name!r}; the {kind}s are: {listed}"


def _is_metric(value: Any) -> bool:
    from doteval._private.scoring.metric import Metric

    return isinstance(value, Metric)


EVALUATOR_PLUGINS = Group(EVALUATORS, "evaluator", callable, "a callable")
METRIC_PLUGINS = Group(METRICS, "metric", _is_metric, "a doteval.metrics.Metric")


def lookup(group: Group, module: dict[str, Any], public: list[str], name: str) -> Any:
    """``name`` from ``module``'s public names, else from an installed package.

    Raises ``LookupError`` listing the names that exist.
    """
    if name in public:
        return module[name]
    found = group.find(name)
    if found is None:
        raise LookupError(unknown(group.kind, name, sorted({*public, *group.names()})))
    return found


def module_getattr(group: Group, module: str, public: list[str], name: str) -> Any:
    """A public module's ``__getattr__``: names it lacks come from installed packages."""
    if name.startswith("_"):  # dunders and private names are never plugins
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    found = group.find(name)
    if found is None:
        listed = ", ".join(sorted({*public, *group.names()}))
        raise AttributeError(
            f"module {module!r} has no attribute {name!r}: no {group.kind} of doteval or "
            f"of an installed package ({group.group!r} entry points) has that name; the "
            f"{group.kind}s are: {listed}"
        )
    return found
