"""The stand-in a loader yields for a row it could not read."""

from __future__ import annotations

import attrs

RAW_LIMIT = 200
"""Characters of the unreadable text kept in a :class:`BadRow`: enough to recognise it."""


def _truncated(text: str) -> str:
    return text if len(text) <= RAW_LIMIT else text[: RAW_LIMIT - 3] + "..."


@attrs.frozen
class BadRow(dict[str, str]):
    """A row its loader could not read, in place of that row.

    Yielded instead of raising so that one bad line costs one item, not the run:
    binding it raises ``doteval.RowError(message)``, so the item becomes an error
    record while the rest of the dataset runs. It is also the dict
    ``{"message": ..., "raw": ...}``, so a store keeps it as plain JSON in the
    item's record.
    """

    message: str
    """What is wrong and where: the file, the line or row, the parser's error."""
    raw: str = attrs.field(default="", converter=_truncated)
    """The start of the unreadable text, for the record."""

    def __attrs_post_init__(self) -> None:
        dict.update(self, message=self.message, raw=self.raw)
