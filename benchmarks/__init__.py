"""doteval's speed, latency and memory targets, each beside a bare-anyio baseline.

Run every benchmark on asyncio and trio from the repository root::

    python -m benchmarks                 # full: medians of 5 interleaved runs
    python -m benchmarks --quick         # medians of 3 runs
    python -m benchmarks --only latency --backend trio
    python -m benchmarks --profile       # py-spy profiles of the no-op path, see below

To add a benchmark, add a module to this package with a function decorated by
``@benchmark("name")`` (from :mod:`benchmarks.registry`) that takes the
:class:`~benchmarks.registry.Settings` and yields one
:class:`~benchmarks.registry.Row` per case; ``python -m benchmarks`` imports every
module of the package, so nothing else needs editing. Helpers for it:
``benchmarks.measure`` (``interleaved`` medians, ``on_backend``, ``in_subprocess``,
and ``RUN_OPTIONS``: progress off, ``memory://`` store) and ``benchmarks.baseline``
(the bare-anyio worker pool). Everything runs in a temporary working directory.

``--profile [DIR]`` runs no benchmark: it records a py-spy profile (``pip install -e
".[bench]"``) of 100,000 no-op items at window 100 on ``memory://`` and on SQLite, on
each backend chosen with ``--backend``, writes them to DIR (default ``profiles``) as
collapsed stacks (for flamegraph.pl or speedscope) and prints each one's ten functions
with the most self time (see :mod:`benchmarks.profiling`).

``DOTEVAL_BENCH_SCALE=0.01`` runs every benchmark at a hundredth of its items: not a
measurement, a check that each still runs, which ``tests/test_benchmarks_run.py`` makes
in the test suite. A new benchmark sizes its items with :func:`benchmarks.registry.scaled`.
"""
