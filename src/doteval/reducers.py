"""Reducers: how the K scores of an item combine into one when a run has ``epochs=K``.

Pass one, a list of them, or their names (``"pass_at_5"``) as ``reducers=``. The
``mean`` reducer (the default) keeps the score's name; any other names its score
``NAME.REDUCER``, e.g. ``exact_match.pass_at_5``.
"""

from doteval._private.public import publish as _publish
from doteval._private.scoring.reducers import Reducer, at_least, max, mean, mode, pass_at

__all__ = ["Reducer", "at_least", "max", "mean", "mode", "pass_at"]

_publish(__name__, globals(), __all__)
