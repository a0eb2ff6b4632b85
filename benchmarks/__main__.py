"""``python -m benchmarks``: run the benchmarks, print the table, fail on a missed target."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import traceback
from importlib.metadata import version
from pathlib import Path

from benchmarks.profiling import profile
from benchmarks.registry import BACKENDS, SCALE, Entry, Row, Settings, discover
from benchmarks.table import cells, render


def parse(argv: list[str] | None, names: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="doteval against a bare-anyio baseline, on asyncio and trio.",
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help=f"run only these benchmarks (repeatable or comma-separated): {', '.join(names)}",
    )
    parser.add_argument(
        "--quick", action="store_true", help="medians of 3 runs instead of 5 (a quicker check)"
    )
    parser.add_argument("--repeats", type=int, help="interleaved runs per side (default 5)")
    parser.add_argument("--backend", action="append", choices=BACKENDS, help="default: both")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument(
        "--profile",
        nargs="?",
        const="profiles",
        metavar="DIR",
        help="instead of the benchmarks, write py-spy profiles of the no-op throughput path "
        "(memory:// and SQLite) to DIR (default: profiles) and print their top 10 self-time "
        "functions",
    )
    args = parser.parse_args(argv)
    if args.only:
        args.only = [name.strip() for names_ in args.only for name in names_.split(",")]
        unknown = sorted(set(args.only) - set(names))
        if unknown:
            parser.error(f"no benchmark named {', '.join(unknown)}; choose from {', '.join(names)}")
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def describe_machine() -> str:
    packages = ", ".join(f"{name} {version(name)}" for name in ("doteval", "anyio", "trio"))
    return (
        f"python {platform.python_version()} on {platform.system()} "
        f"({os.cpu_count()} CPUs); {packages}"
    )


def run(entries: list[Entry], settings: Settings) -> tuple[list[Row], list[str]]:
    """The rows measured, and the benchmarks that broke, run where no file can land in
    the checkout (e.g. a run's default store)."""
    rows: list[Row] = []
    broken: list[str] = []
    home = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="doteval-bench-") as scratch:
        os.chdir(scratch)
        try:
            for entry in entries:
                try:
                    for row in entry.run(settings):
                        rows.append(row)
                        print("measured:", " | ".join(cells(row)), file=sys.stderr, flush=True)
                except Exception:
                    traceback.print_exc()
                    broken.append(entry.name)
        finally:
            os.chdir(home)
    return rows, broken


def main(argv: list[str] | None = None) -> int:
    entries = discover()
    args = parse(argv, [entry.name for entry in entries])
    if args.list:
        print("\n".join(entry.name for entry in entries))
        return 0
    if args.profile is not None:
        profile(Path(args.profile).resolve(), args.backend or BACKENDS)
        return 0
    settings = Settings(
        quick=args.quick,
        repeats=args.repeats or (3 if args.quick else 5),
        backends=tuple(args.backend or BACKENDS),
    )
    chosen = [entry for entry in entries if not args.only or entry.name in args.only]
    print(describe_machine())
    print(f"medians of {settings.repeats} interleaved runs (doteval, bare, doteval, ...)\n")
    if SCALE != 1:
        print(
            f"DOTEVAL_BENCH_SCALE={SCALE:g}: a check that the benchmarks run, not a measurement\n"
        )
    started = time.perf_counter()
    rows, broken = run(chosen, settings)
    print(render(rows))
    failed = [row for row in rows if not row.passed]
    print(
        f"\n{len(rows) - len(failed)} passed, {len(failed)} failed"
        + (f", broken: {', '.join(broken)}" if broken else "")
        + f" in {time.perf_counter() - started:.0f} s"
    )
    return 1 if failed or broken else 0


if __name__ == "__main__":
    sys.exit(main())
