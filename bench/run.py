"""`make bench`: run every bench/bench_*.py and write bench/results.md.

Each benchmark module exposes `run() -> list[dict]`, one dict a measured row:
`{"benchmark", "metric", "value", "unit", "baseline" (optional), "ratio" (optional), "note" (optional)}`.
A baseline is measured in the same run (e.g. the original strategy), never typed in.
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help="only these benchmarks (file stem without bench_)")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results.md")
    args = parser.parse_args(argv)
    rows, failures = [], []
    for path in sorted(BENCH_DIR.glob("bench_*.py")):
        if args.names and path.stem.removeprefix("bench_") not in args.names:
            continue
        started = time.perf_counter()
        print(f"[bench] {path.stem} ...", flush=True)
        try:
            produced = load(path).run()
        except Exception:
            failures.append(path.stem)
            traceback.print_exc()
            continue
        for row in produced:
            print(f"  {row['benchmark']}: {row['metric']} = {fmt(row['value'])} {row.get('unit', '')}", flush=True)
        rows.extend(produced)
        print(f"[bench] {path.stem} done in {time.perf_counter() - started:.1f} s", flush=True)
    lines = [
        "# Benchmark results",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {platform.python_version()}, "
        f"{len(__import__('os').sched_getaffinity(0))} cores",
        "",
        "| benchmark | metric | value | unit | baseline | ratio | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['benchmark']} | {row['metric']} | {fmt(row['value'])} | {row.get('unit', '')} | "
            f"{fmt(row.get('baseline'))} | {fmt(row.get('ratio'))} | {row.get('note', '')} |"
        )
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
