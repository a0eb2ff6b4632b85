"""``@batch``: an evaluation whose function scores a batch of rows in one call.

Local models (vLLM, transformers) and batch APIs answer many prompts at once
faster than one by one. A batch evaluation runs on the same engine as
``@foreach``: the batch is the unit the window admits and the retry policy
retries, while records, storage, resuming, progress and statistics stay per item.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from doteval._private.api.foreach import Evaluation, ForEach
from doteval._private.validators import number

DEFAULT_BATCH_SIZE = 32


@attrs.frozen
class Batch(ForEach):
    """A configured ``batch`` decorator: its options are the defaults of its evaluations.

    ``Batch(batch_size=16, max_concurrency=4, retries=...)`` takes every run option
    and the batch size; ``Batch()("questions,answers", dataset)`` decorates like
    ``batch``. ``max_concurrency`` counts batches in flight, not items.
    """

    batch_size: int = attrs.field(
        default=DEFAULT_BATCH_SIZE, kw_only=True, validator=number(at_least=1, whole=True)
    )

    def __call__(
        self, columns: str, dataset: Any, batch_size: int | None = None
    ) -> Callable[[Callable[..., Any]], Evaluation]:
        """Decorate a function that takes one list per column (``questions``, ...) of at
        most ``batch_size`` rows, and returns one score or ``Result`` per row."""
        if batch_size is not None:
            return attrs.evolve(self, batch_size=batch_size)(columns, dataset)
        return self._decorator(columns, dataset, self.batch_size)


batch = Batch()
"""``@batch("questions,answers", dataset, batch_size=32)`` with doteval's default options."""
