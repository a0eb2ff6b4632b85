"""Run options from the environment: what a job scheduler passes without editing commands.

A Slurm array task or a Kubernetes indexed Job turns its index into
``DOTEVAL_SHARD=I/N``; ``DOTEVAL_EXPERIMENT`` names the experiment every shard
stores into. Both rank below every other layer (a call's options, the pytest
plugin's, the decorator's), as ``DOTEVAL_STORAGE`` does where stores are opened.
"""

from __future__ import annotations

import os

from doteval._private.api.options import RunOptions
from doteval._private.errors import InvalidNameError
from doteval._private.storage.naming import check_experiment_name
from doteval._private.storage.shard import Shard

SHARD_VARIABLE = "DOTEVAL_SHARD"
EXPERIMENT_VARIABLE = "DOTEVAL_EXPERIMENT"


def environment_shard() -> Shard | None:
    """``DOTEVAL_SHARD``, if it is set; a value that is no shard says so and how to fix it."""
    value = os.environ.get(SHARD_VARIABLE, "").strip()
    if not value:
        return None
    try:
        return Shard.parse(value, f"{SHARD_VARIABLE}=")
    except ValueError as exc:
        raise ValueError(f"{exc}; set it like {SHARD_VARIABLE}=0/4, or unset it") from None


def environment_experiment() -> str | None:
    """``DOTEVAL_EXPERIMENT``, if it is set, checked as an experiment name."""
    value = os.environ.get(EXPERIMENT_VARIABLE, "")
    if not value:
        return None
    try:
        return check_experiment_name(value)
    except InvalidNameError as exc:
        raise InvalidNameError(f"{EXPERIMENT_VARIABLE}: {exc}") from None


def environment_options() -> RunOptions:
    """The run options the environment sets (read at each call: a notebook may change it)."""
    return RunOptions(shard=environment_shard(), experiment=environment_experiment())
