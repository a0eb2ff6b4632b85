"""Dataset loaders and the registry of benchmarks behind ``doteval.datasets``.

Nothing is imported here: ``rows.py`` imports :mod:`.bad_row` on every ``import
doteval``, which must not pay for the loaders.
"""
