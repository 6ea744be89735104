"""`python -m bench [names…] [--small] [--scale]` (`make bench`): run benchmarks, save the table.

Every benchmark runs the coverwatch path and a baseline that represents the limit, each side in
its own process, and reports the ratio, wall time and peak RSS. Results go to `bench/results/`
and the table in docs/PERFORMANCE.md. Names ending in `_pg` run on PostgreSQL (skipped, with
the reason, when no server answers at `--pg-url`). `--scale` runs the scale set instead
(`bench.scale`: dues, scan, import and report at 10k, 100k and 1M employees on PostgreSQL).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from bench import report, scale
from bench.databases import DEFAULT_PG, Databases, pg_reason
from bench.harness import BenchError, Context, Outcome

BENCHMARKS = {
    "dues_100k": ("bench.dues", "sqlite"),
    "dues_recompute_100k": ("bench.dues:run_recompute", "sqlite"),
    "report_dues_100k": ("bench.report_dues", "sqlite"),
    "report_dues_csv_100k": ("bench.report_dues:run_csv", "sqlite"),
    "scan_100k": ("bench.scan", "sqlite"),
    "import_100k": ("bench.imports", "sqlite"),
    "chat_http": ("bench.chat_http", "sqlite"),
    "chat_http_pg": ("bench.chat_http", "postgres"),
    "kpi_burst": ("bench.kpi_burst", "sqlite"),
    "fanout_10k": ("bench.fanout", "sqlite"),
    "scan_to_chat": ("bench.scan_to_chat", "sqlite"),
    "dues_100k_pg": ("bench.dues", "postgres"),
    "scan_100k_pg": ("bench.scan", "postgres"),
    "import_100k_pg": ("bench.imports", "postgres"),
    "dues_recompute_100k_pg": ("bench.dues:run_recompute", "postgres"),
    "report_dues_100k_pg": ("bench.report_dues", "postgres"),
    "report_dues_csv_100k_pg": ("bench.report_dues:run_csv", "postgres"),
}
SCALE = {name: (f"bench.scale:{name}", "postgres") for name in scale.NAMES} | {
    f"{name}_sqlite": (f"bench.scale:{name}", "sqlite") for name in scale.NAMES
}


def _arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(BENCHMARKS))
    parser.add_argument("--small", action="store_true", help="10x fewer rows, for a quick run")
    parser.add_argument(
        "--scale", action="store_true", help=f"the scale set: {', '.join(scale.NAMES)}"
    )
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=(),
        help="with --scale: the sizes to run, e.g. 100000,300000 (the last two are compared)",
    )
    parser.add_argument(
        "--pg-url", default=os.environ.get("COVERWATCH_BENCH_PG", DEFAULT_PG), help="server URL"
    )
    args = parser.parse_args(argv)
    known = SCALE if args.scale else BENCHMARKS
    unknown = [name for name in args.names if name not in known]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(known)}")
    return args


def _sizes(text: str) -> tuple[int, ...]:
    sizes = tuple(sorted(int(size) for size in text.split(",")))
    if len(sizes) < 2:
        raise argparse.ArgumentTypeError("give at least two sizes")
    return sizes


def _runner(target: str) -> Callable[[Context], Outcome]:
    """`module` (its `run`), `module:function`, or `bench.scale:<name>` (a scale benchmark)."""
    module, _, function = target.partition(":")
    if module == "bench.scale":
        return scale.runner(function)
    runner: Callable[[Context], Outcome] = getattr(
        importlib.import_module(module), function or "run"
    )
    return runner


def main(argv: Sequence[str]) -> int:
    args = _arguments(argv)
    known = SCALE if args.scale else BENCHMARKS
    names = args.names or list(known)
    host = report.machine(args.pg_url)
    failures = 0
    with tempfile.TemporaryDirectory(prefix="cwbench-") as scratch:
        workdir = Path(scratch)
        pools: dict[str, Databases] = {}
        try:
            for name in names:
                target, backend = known[name]
                if backend == "postgres" and (reason := pg_reason(args.pg_url)):
                    print(f"{name}: skipped, {reason}", flush=True)
                    continue
                db = pools.setdefault(backend, Databases(backend, workdir, args.pg_url))
                print(f"{name}: running ({backend}{', small' if args.small else ''})…", flush=True)
                try:
                    outcome = _runner(target)(
                        Context(small=args.small, db=db, workdir=workdir, sizes=args.sizes)
                    )
                except BenchError as exc:
                    failures += 1
                    print(f"{name}: FAILED: {exc}", flush=True)
                    continue
                outcome.name = name.removesuffix("_pg").removesuffix("_sqlite")
                report.save(outcome, host, args.small)
                print(
                    f"{name}: {outcome.ratio:.2f} ({outcome.ratio_label}), goal "
                    f"{outcome.goal}: {'met' if outcome.met else 'MISSED'}",
                    flush=True,
                )
        finally:
            for db in pools.values():
                db.close()
    print()
    print(report.update_doc())
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
