"""Generation at scale: 100,000 ARM payloads -> main.tf.json (generate + write_config).

Input: the published-example corpus (tests/data/arm_corpus, 62 types) copied into as many resource
groups as it takes, each copy's resource-group names suffixed so that its references stay inside the
copy (a NIC still points at its own copy's subnet). Building the input is not timed; the row
measures ``generate`` and ``write_config`` together, i.e. what an iteration pays (secrets on).
New = ``workers=2`` (the default from ``PARALLEL_MIN`` resources when a core is idle), old = ``workers=1`` on the same
payloads in the same run (same bytes written, checked by hash); each is the best of ``REPEATS`` runs.
A 10k run in one process is the scaling baseline: ratio = (100k seconds / 10) / (10k seconds), 1.0 is linear.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "data" / "arm_corpus"
SOURCE = "5ce7c0de-a11c-4e5a-9c0d-000000000001"
TARGET = "c7e91a04-2b6f-4d38-a5e2-91f4b7c0d863"
TARGET_SECONDS = 5.0


def _copy(value: Any, rename: re.Pattern[str], suffix: str) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v, rename, suffix) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v, rename, suffix) for v in value]
    if isinstance(value, str) and "/resourcegroups/" in value.lower():
        return rename.sub(lambda m: f"{m.group(1)}{m.group(2)}{suffix}", value)
    return value


def synthetic(count: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``count`` resources (and their groups): corpus copies with per-copy resource-group names."""
    sys.path.insert(0, str(ROOT / "include"))
    from tenant_replicator.iac.arm_json import load_arm_dir

    export = load_arm_dir(CORPUS)
    rename = re.compile(r"(/resourceGroups/)([^/\"]+)", re.IGNORECASE)
    resources: list[dict[str, Any]] = []
    groups: list[dict[str, Any]] = []
    copy = 0
    while len(resources) < count:
        suffix = f"-c{copy:05d}"
        for group in export.resource_groups:
            groups.append({**group, "id": group["id"] + suffix, "name": group["name"] + suffix})
        for payload in export.resources:
            if len(resources) == count:
                break
            resources.append(_copy(payload, rename, suffix))
        copy += 1
    return resources, groups


def measure(
    count: int, workers: int | None = None, payloads: tuple[list[dict[str, Any]], list[dict[str, Any]]] | None = None
) -> dict[str, float]:
    """Wall and CPU seconds of generate + write_config for ``count`` resources.

    CPU counts this process and its forked worker (``os.times`` children, collected at waitpid):
    on a shared machine the wall clock also counts the time other processes held the cores.
    """
    from tenant_replicator.iac.generate import generate, write_config

    resources, groups = payloads or synthetic(count)
    with tempfile.TemporaryDirectory() as tmp:
        before, started = os.times(), time.perf_counter()
        result = generate(resources, groups, SOURCE, TARGET, "bench1", emit_secrets=True, workers=workers)
        main = write_config(result, Path(tmp))
        seconds, after = time.perf_counter() - started, os.times()
        size = main.stat().st_size
        digest = hashlib.sha256(main.read_bytes()).hexdigest()
    own = after.user + after.system - before.user - before.system
    cpu = own + (after.children_user + after.children_system - before.children_user - before.children_system)
    return {
        "wall": seconds,
        "cpu": cpu,
        "parent_cpu": own,
        "blocks": result.resource_count,
        "bytes": size,
        "sha256": digest,
    }


def _row(metric: str, value: float, unit: str, **extra: Any) -> dict[str, Any]:
    return {"benchmark": "generate", "metric": metric, "value": value, "unit": unit, **extra}


REPEATS = 3  # this VM's speed drifts by +-10 % from minute to minute: each configuration runs 3 times


def best_of(count: int, workers: int, payloads: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> dict[str, Any]:
    """The fastest of REPEATS runs (as timeit reports: the least disturbed one), with every wall time."""
    runs = [measure(count, workers=workers, payloads=payloads) for _ in range(REPEATS)]
    best = min(runs, key=lambda r: r["wall"])
    return best | {"walls": sorted(r["wall"] for r in runs), "digests": {r["sha256"] for r in runs}}


def _in_fresh_process(*args: str) -> Any:
    done = subprocess.run(  # noqa: S603 - this file, fixed argv
        [sys.executable, __file__, *args], capture_output=True, text=True, check=True, timeout=280
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def run() -> list[dict[str, Any]]:
    """The rows, each measured in a fresh process: ``bench/run.py`` runs every benchmark in one
    process, and what earlier benchmarks leave on the heap slows a forking generator (seen: 5.2-5.7 s
    after bench_fidelity in the same process against 5.0-5.1 s in a fresh one). The DAG's task runs
    generation in a process that has Airflow imported: that case is its own row."""
    rows = _in_fresh_process("--json")
    airflow = _in_fresh_process("--json-airflow")
    verdict = "met" if airflow["wall"] <= TARGET_SECONDS else "NOT met"
    walls = ", ".join(f"{w:.2f}" for w in airflow["walls"])
    rows.insert(1, _row(
        "100k resources -> main.tf.json (wall, 2 processes, Airflow imported as in the DAG task)",
        round(airflow["wall"], 3), "s",
        note=f"target <= {TARGET_SECONDS:.0f} s: {verdict}; best of {REPEATS} (all: {walls} s); "
        f"RSS before generating {airflow['rss_mb']:.0f} MiB",
    ))  # fmt: skip
    return rows


def airflow_task_case() -> dict[str, Any]:
    """Two processes, best of REPEATS, in a process that imported Airflow first (as a task does)."""
    import airflow.models  # noqa: F401 - the point: the heap an Airflow task process has
    from peak_rss import peak_rss_mb  # bench/ is this child's sys.path[0]

    rss = peak_rss_mb()
    best = best_of(100_000, 2, synthetic(100_000))
    return {"wall": best["wall"], "walls": best["walls"], "rss_mb": rss}


def measure_rows() -> list[dict[str, Any]]:
    """New (two processes for >= PARALLEL_MIN resources) against old (one process) in the same run."""
    load = os.getloadavg()[0]
    small = measure(10_000, workers=1)
    payloads = synthetic(100_000)
    old = best_of(100_000, 1, payloads)
    new = best_of(100_000, 2, payloads)  # auto mode forks only when a core is idle
    verdict = "met" if new["wall"] <= TARGET_SECONDS else "NOT met"
    same = "byte-identical" if new["digests"] == old["digests"] and len(new["digests"]) == 1 else "DIFFERENT OUTPUT"
    noise = f"1-min load average {load:.1f} on {os.cpu_count()} cores at start"
    walls = ", ".join(f"{w:.2f}" for w in new["walls"])
    return [
        _row(
            "100k resources -> main.tf.json (wall, 2 processes)",
            round(new["wall"], 3),
            "s",
            baseline=round(old["wall"], 3),
            ratio=round(new["wall"] / old["wall"], 2),
            note=f"target <= {TARGET_SECONDS:.0f} s: {verdict}; best of {REPEATS} (all: {walls} s); baseline = "
            f"one process, best of {REPEATS}, same run; {new['blocks']} blocks, {new['bytes'] / 1e6:.0f} MB, {same}; "
            f"{noise}",
        ),
        _row(
            "100k resources -> main.tf.json (CPU, both processes)",
            round(new["cpu"], 3),
            "s",
            baseline=round(old["cpu"], 3),
            ratio=round(new["cpu"] / old["cpu"], 2),
        ),
        _row(
            "100k resources -> main.tf.json (CPU of the parent = critical path)",
            round(new["parent_cpu"], 3),
            "s",
            baseline=round(old["cpu"], 3),
            ratio=round(new["parent_cpu"] / old["cpu"], 2),
            note="the worker runs alongside, so on an otherwise idle 2-core machine this is a lower bound of "
            "the wall time; baseline = CPU of the one-process run",
        ),
        _row(
            "throughput (100k, wall, 2 processes)",
            round(100_000 / new["wall"]),
            "resources/s",
            baseline=round(100_000 / old["wall"]),
            ratio=round(old["wall"] / new["wall"], 2),
        ),
        _row(
            "scaling 10k -> 100k (CPU, one process)",
            round(old["cpu"] / 10, 3),
            "s per 10k",
            baseline=round(small["cpu"], 3),
            ratio=round((old["cpu"] / 10) / small["cpu"], 2),
            note="baseline: the 10k run; ratio 1.0 = linear",
        ),
    ]


if __name__ == "__main__":
    if sys.argv[1:] == ["--json"]:
        print(json.dumps(measure_rows()))
    elif sys.argv[1:] == ["--json-airflow"]:
        print(json.dumps(airflow_task_case()))
    else:
        for row in run():
            print(row)
