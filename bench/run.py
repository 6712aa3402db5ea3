"""`make bench`: run every bench/bench_*.py and write bench/results.md.

Each benchmark module exposes `run() -> list[dict]`, one dict a measured row:
`{"benchmark", "metric", "value", "unit", "baseline" (optional), "ratio" (optional), "note" (optional)}`.
A baseline is measured in the same run (e.g. the original strategy), never typed in.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import subprocess
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


def git_commit() -> str:
    """The commit measured, marked dirty when the working tree differs from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=BENCH_DIR, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=BENCH_DIR,
                               capture_output=True, text=True)  # fmt: skip
    except OSError:
        return "unknown (no git)"
    return head.stdout.strip() + (" (+ uncommitted changes)" if dirty.stdout.strip() else "") or "unknown"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_facts(load_at_start: tuple[float, float, float], failures: list[str]) -> list[str]:
    """The header: when, on what, at which commit, and how busy the machine was (numbers from a shared,
    loaded machine are noisy: the load average says how much)."""
    busy = max(load_at_start[0], os.getloadavg()[0]) > len(os.sched_getaffinity(0))
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    facts = [
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {len(os.sched_getaffinity(0))} cores ({cpu_model()}), {memory:.1f} GiB RAM, "
        f"{platform.system()} {platform.machine()}, Python {platform.python_version()}",
        f"- commit: {git_commit()}",
        f"- load average (1 min) at start / end: {load_at_start[0]:.1f} / {os.getloadavg()[0]:.1f}"
        + (" (above the core count: other work shared the machine, timings are inflated)" if busy else ""),
    ]
    if failures:
        facts.append(f"- FAILED (no rows): {', '.join(failures)}")
    return facts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help="only these benchmarks (file stem without bench_)")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results.md")
    args = parser.parse_args(argv)
    rows, failures = [], []
    load_at_start = os.getloadavg()
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
        *machine_facts(load_at_start, failures),
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
