"""What every statistic returns: an :class:`Estimate`, or a paired :class:`Difference`."""

from __future__ import annotations

import math
from typing import Any

import attrs

METHODS = frozenset({"wilson", "clopper-pearson", "clt", "clustered", "bootstrap", "none"})


def _check_level(instance: object, attribute: attrs.Attribute[float], level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"{attribute.name} must be between 0 and 1 (e.g. 0.95), got {level!r}")


def _check_ci(
    instance: object, attribute: attrs.Attribute[tuple[float, float] | None], ci: Any
) -> None:
    if ci is not None and not ci[0] <= ci[1]:
        raise ValueError(f"a confidence interval runs from low to high, got {ci!r}")


def _as_ci(value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    low, high = value
    return float(low), float(high)


def _encode(number: float | None) -> float | str | None:
    """JSON has no NaN or infinity: write those as strings so the state stays strict JSON."""
    if number is None or math.isfinite(number):
        return number
    return repr(number)  # 'nan', 'inf', '-inf'


def _decode(number: Any) -> float | None:
    if number is None:
        return None
    if isinstance(number, str):
        if number not in ("nan", "inf", "-inf"):
            raise ValueError(f"expected a number or 'nan'/'inf'/'-inf', got {number!r}")
        return float(number)
    return float(number)


@attrs.frozen
class Estimate:
    """A statistic with its uncertainty: what a bare ``accuracy = 0.712`` leaves out.

    ``n`` counts the independent units the standard error rests on: items, or clusters
    for a clustered estimate. ``naive_stderr`` is set by clustered and multi-epoch
    estimates: the standard error had every observation been independent, so a report
    can say how much clustering widened the interval.
    """

    value: float | None
    stderr: float | None
    ci: tuple[float, float] | None = attrs.field(converter=_as_ci, validator=_check_ci)
    level: float = attrs.field(default=0.95, validator=_check_level)
    n: int = 0
    method: str = attrs.field(default="clt", validator=attrs.validators.in_(METHODS))
    naive_stderr: float | None = None

    @property
    def half_width(self) -> float | None:
        """Half the interval's width: the ``±`` of a report (asymmetric intervals too)."""
        return None if self.ci is None else 0.5 * (self.ci[1] - self.ci[0])

    @property
    def stderr_ratio(self) -> float | None:
        """``stderr / naive_stderr``: how many times wider clustering made the error bar."""
        if self.stderr is None or not self.naive_stderr:
            return None
        return self.stderr / self.naive_stderr

    def to_json(self) -> dict[str, Any]:
        """A plain dict of JSON types (NaN and infinities as strings), for stores and reports."""
        return {
            "value": _encode(self.value),
            "stderr": _encode(self.stderr),
            "ci": None if self.ci is None else [_encode(self.ci[0]), _encode(self.ci[1])],
            "level": self.level,
            "n": self.n,
            "method": self.method,
            "naive_stderr": _encode(self.naive_stderr),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Estimate:
        """Inverse of :meth:`to_json`."""
        ci = data.get("ci")
        return cls(
            value=_decode(data["value"]),
            stderr=_decode(data["stderr"]),
            ci=None if ci is None else (_decode(ci[0]), _decode(ci[1])),
            level=float(data.get("level", 0.95)),
            n=int(data.get("n", 0)),
            method=str(data.get("method", "clt")),
            naive_stderr=_decode(data.get("naive_stderr")),
        )


@attrs.frozen
class Difference:
    """``b - a`` over the items both runs scored, analysed as pairs.

    Pairing is what makes a comparison of two runs on the same questions sharp: the
    question-to-question spread cancels (Miller, "Adding Error Bars to Evals", on paired
    differences).
    ``better``/``worse``/``tied`` count items where b beat a, lost, or tied; ``only_a`` and
    ``only_b`` items were scored by one run only and take no part. ``mde`` is the
    smallest true difference this many items would detect with 80 % power at
    ``1 - level``; ``p_adjusted`` is set (Holm) when several differences are tested.
    """

    delta: float | None
    stderr: float | None
    ci: tuple[float, float] | None = attrs.field(converter=_as_ci, validator=_check_ci)
    level: float = attrs.field(validator=_check_level)
    p_value: float | None
    test: str
    better: int
    worse: int
    tied: int
    only_a: int = 0
    only_b: int = 0
    n: int = 0
    mde: float | None = None
    p_adjusted: float | None = None

    @property
    def significant(self) -> bool:
        """Whether the (adjusted, when set) p-value is below ``1 - level``."""
        p = self.p_adjusted if self.p_adjusted is not None else self.p_value
        return p is not None and p < 1.0 - self.level

    def to_json(self) -> dict[str, Any]:
        """A plain dict of JSON types, like :meth:`Estimate.to_json`."""
        data = attrs.asdict(self)
        for key in ("delta", "stderr", "p_value", "mde", "p_adjusted"):
            data[key] = _encode(data[key])
        data["ci"] = None if self.ci is None else [_encode(self.ci[0]), _encode(self.ci[1])]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Difference:
        """Inverse of :meth:`to_json`."""
        ci = data.get("ci")
        return cls(
            delta=_decode(data["delta"]),
            stderr=_decode(data["stderr"]),
            ci=None if ci is None else (_decode(ci[0]), _decode(ci[1])),
            level=float(data["level"]),
            p_value=_decode(data["p_value"]),
            test=str(data["test"]),
            better=int(data["better"]),
            worse=int(data["worse"]),
            tied=int(data["tied"]),
            only_a=int(data.get("only_a", 0)),
            only_b=int(data.get("only_b", 0)),
            n=int(data.get("n", 0)),
            mde=_decode(data.get("mde")),
            p_adjusted=_decode(data.get("p_adjusted")),
        )
