"""The postgres-batch benchmark writes rows the way the store's writer does.

The benchmark builds its own staging rows, so a change to the store's schema can break
it without any store test noticing (an epoch column once made every row fail). This
runs both of its sides against the suite's server, at two batches instead of 100.
"""

from __future__ import annotations

from typing import Any

import pytest
from benchmarks import postgres as benchmark


@pytest.mark.parametrize("copy", [True, False], ids=["copy", "executemany"])
def test_both_sides_upsert_a_batch_into_the_current_schema(
    postgres_server: Any, monkeypatch: pytest.MonkeyPatch, copy: bool
) -> None:
    monkeypatch.setattr(benchmark, "ITEMS", 2 * benchmark.BATCH)
    assert benchmark._upsert_rate(postgres_server, copy) > 0
