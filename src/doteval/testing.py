"""A deterministic fake model, for examples, tests and trying doteval without an API key."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence

import anyio
import attrs

__all__ = ["FakeModel"]

_ARITHMETIC = re.compile(r"(-?\d+(?:\.\d+)?)\s*([-+*/x×])\s*(-?\d+(?:\.\d+)?)")


def _solve(prompt: str) -> str | None:
    match = _ARITHMETIC.search(prompt)
    if match is None:
        return None
    left, operator, right = float(match[1]), match[2], float(match[3])
    if operator == "+":
        value = left + right
    elif operator == "-":
        value = left - right
    elif operator in "*x×":
        value = left * right
    elif right == 0:
        return "undefined"
    else:
        value = left / right
    return str(int(value)) if value == int(value) else f"{value:g}"


@attrs.define
class FakeModel:
    """Answers arithmetic prompts ("What is 2+2?") or looks prompts up in ``answers``.

    ``accuracy`` below 1 makes it wrong on a fixed share of prompts, chosen by a
    hash of the prompt, so every run gives the same summary.
    """

    answers: Mapping[str, str] = attrs.field(factory=dict)
    accuracy: float = 1.0
    latency: float = 0.0
    calls: int = attrs.field(default=0, init=False)
    """Prompts answered so far."""
    batch_calls: int = attrs.field(default=0, init=False)
    """Calls of ``generate_batch`` so far."""

    def answer(self, prompt: str) -> str:
        """The reply, computed without waiting; ``generate`` adds the latency."""
        self.calls += 1
        reply = self.answers.get(prompt) or _solve(prompt) or "I don't know"
        digest = hashlib.sha256(prompt.encode()).digest()
        if digest[0] / 256 >= self.accuracy:
            return reply + " (or so)"
        return reply

    async def generate(self, prompt: str) -> str:
        await self._wait()
        return self.answer(prompt)

    async def generate_batch(self, prompts: Sequence[str]) -> list[str]:
        """The replies to ``prompts``, in their order, from one call that takes the
        latency once: as a batching server (vLLM, a batch API) answers them."""
        self.batch_calls += 1
        await self._wait()
        return [self.answer(prompt) for prompt in prompts]

    async def _wait(self) -> None:
        if self.latency:
            await anyio.sleep(self.latency)
        else:
            await anyio.lowlevel.checkpoint()
