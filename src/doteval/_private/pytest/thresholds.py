"""Pass/fail for an evaluation item: the ``doteval`` marker's thresholds."""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import pytest

from doteval._private.pytest.report import error_records
from doteval._private.results.records import EvaluationResult
from doteval._private.results.tracebacks import group_errors
from doteval._private.validators import is_number

MARKER = "doteval"
MARKER_HELP = (
    "doteval(fail_under=None, max_error_rate=None, bound='value'): fail the evaluation when "
    'a metric is below its bound (fail_under={"exact_match.accuracy": 0.8}; bound="ci_low" '
    "compares the low end of its confidence interval instead, so noise does not flap a "
    "gate) or when more than "
    "max_error_rate of its items errored; without max_error_rate it fails only when "
    "every item errored"
)


BOUNDS = ("value", "ci_low", "ci_high")


class ThresholdError(ValueError):
    """The marker's arguments are malformed."""


@attrs.frozen(repr=False)
class Thresholds:
    fail_under: Mapping[str, float] = attrs.field(factory=dict)
    max_error_rate: float | None = None
    bound: str = "value"
    """What ``fail_under`` compares: the value, or the low or high end of its interval."""

    @classmethod
    def of(cls, item: pytest.Item) -> Thresholds:
        """The thresholds of the closest ``doteval`` marker, checked before the run starts."""
        marker = item.get_closest_marker(MARKER)
        if marker is None:
            return cls()
        usage = (
            '@pytest.mark.doteval(fail_under={"exact_match.accuracy": 0.8}, max_error_rate=0.05)'
        )
        unknown = sorted(set(marker.kwargs) - {"fail_under", "max_error_rate", "bound"})
        if marker.args or unknown:
            given = [repr(arg) for arg in marker.args] + unknown
            raise ThresholdError(
                f"@pytest.mark.doteval takes the keyword arguments fail_under, "
                f"max_error_rate and bound, got {', '.join(given)}; for example {usage}"
            )
        fail_under = marker.kwargs.get("fail_under") or {}
        if not isinstance(fail_under, Mapping) or not all(
            isinstance(key, str) and "." in key.strip(".") and is_number(bound)
            for key, bound in fail_under.items()
        ):
            raise ThresholdError(
                f"fail_under must map 'score.metric' names to numbers, got {fail_under!r}; "
                f"for example {usage}"
            )
        rate = marker.kwargs.get("max_error_rate")
        if rate is not None and not (is_number(rate) and 0 <= rate <= 1):
            raise ThresholdError(
                f"max_error_rate must be a fraction between 0 and 1, got {rate!r}; "
                f"for example {usage}"
            )
        bound = marker.kwargs.get("bound", "value")
        if bound not in BOUNDS:
            raise ThresholdError(
                f"bound must be one of {', '.join(map(repr, BOUNDS))}, got {bound!r}; for "
                f'example @pytest.mark.doteval(fail_under={{"exact_match.accuracy": 0.7}}, '
                f'bound="ci_low")'
            )
        return cls(dict(fail_under), rate, bound)

    def failures(self, result: EvaluationResult) -> list[str]:
        """Why the evaluation fails, one message per broken threshold (empty: it passes)."""
        failures: list[str] = []
        total, errors = result.counts.total, result.counts.errors
        if total and self.max_error_rate is None and errors == total:
            failures.append(_all_errored(result))
        elif total and self.max_error_rate is not None and errors / total > self.max_error_rate:
            failures.append(
                f"error rate {errors / total:.3f} ({errors} of {total} items) is above "
                f"max_error_rate {self.max_error_rate:g}"
            )
        for key, bound in self.fail_under.items():
            score, _, metric = key.rpartition(".")
            value = result.summary.get(score, {}).get(metric)
            compared = key
            if value is not None and self.bound != "value":
                found = result.estimates.get(score, {}).get(metric)
                if found is None or found.ci is None:
                    failures.append(
                        f"{key} has no confidence interval to compare with fail_under "
                        f"{bound:g} (bound={self.bound!r}); use bound='value'"
                    )
                    continue
                value = found.ci[0] if self.bound == "ci_low" else found.ci[1]
                compared = (
                    f"the {'low' if self.bound == 'ci_low' else 'high'} end of {key}'s interval"
                )
            if value is None:
                known = [f"{s}.{m}" for s, metrics in result.summary.items() for m in metrics]
                failures.append(
                    f"fail_under names {key}, which the evaluation did not measure; "
                    f"it measured {', '.join(known) or 'nothing'}"
                )
            elif not is_number(value):
                failures.append(f"{key} = {value!r} is not a number to compare with {bound:g}")
            elif value < bound:
                failures.append(f"{compared} = {value:.4g} is below fail_under {bound:g}")
        return failures


def _all_errored(result: EvaluationResult) -> str:
    groups = group_errors(error_records(result))
    common = "; ".join(f"{group.count:,} × {group.type}: {group.message}" for group in groups[:3])
    return (
        f"all {result.counts.total} items errored"
        + (f" ({common})" if common else "")
        + ", so nothing was measured; fix the cause, or allow it with "
        "@pytest.mark.doteval(max_error_rate=1.0)"
    )
