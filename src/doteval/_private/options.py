"""Run options, their validation, and how the layers that set them combine."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

import attrs


def _count(minimum: int) -> Any:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(
                f"{attribute.name} must be a whole number of at least {minimum}, got {value!r}"
            )

    return check


def _seconds(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"{attribute.name} must be a number of seconds above 0, got {value!r}")


def _flag(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not isinstance(value, bool):
        raise TypeError(f"{attribute.name} must be True or False, got {value!r}")


def _text(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (not isinstance(value, str) or not value):
        raise TypeError(f"{attribute.name} must be a non-empty string, got {value!r}")


@attrs.frozen
class RunOptions:
    """Every option a run takes; ``None`` means "not set at this layer"."""

    max_concurrency: int | None = attrs.field(default=None, validator=_count(1))
    samples: int | None = attrs.field(default=None, validator=_count(0))
    concurrency: Any = None
    retries: Any = None
    timeout: float | None = attrs.field(default=None, validator=_seconds)
    experiment: str | None = attrs.field(default=None, validator=_text)
    storage: str | None = attrs.field(default=None, validator=_text)
    progress: bool | None = attrs.field(default=None, validator=_flag)
    keep_records: bool | None = attrs.field(default=None, validator=_flag)
    blocking_threshold: float | None = attrs.field(default=None, validator=_seconds)

    def over(self, *lower: RunOptions) -> RunOptions:
        """These options, with unset ones taken from the ``lower`` layers in order."""
        merged = attrs.asdict(self, recurse=False)
        for layer in lower:
            for name, value in attrs.asdict(layer, recurse=False).items():
                if merged[name] is None:
                    merged[name] = value
        return RunOptions(**merged)


RESERVED = frozenset(attrs.fields_dict(RunOptions))
"""Keyword arguments doteval takes for itself; evaluation functions cannot use them."""

DEFAULT_BLOCKING_THRESHOLD = 0.5

session_options: ContextVar[RunOptions] = ContextVar(
    "doteval_session_options",
    default=RunOptions(),  # noqa: B039 -- frozen, so sharing it is safe
)
"""Options from the command line or ini file, set by the pytest plugin."""

run_identity: ContextVar[str | None] = ContextVar("doteval_run_identity", default=None)
"""The evaluation's identity for the runs started in this context, instead of its
module-qualified name: the pytest plugin sets the node id, so each parameter set of a
parametrised evaluation is stored as an evaluation of its own."""
