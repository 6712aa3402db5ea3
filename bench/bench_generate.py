"""Generation at scale: 100,000 ARM payloads -> main.tf.json (generate + write_config).

Input: the published-example corpus (tests/data/arm_corpus, 62 types) copied into as many resource
groups as it takes, each copy's resource-group names suffixed so that its references stay inside the
copy (a NIC still points at its own copy's subnet). Building the input is not timed; the row
measures ``generate`` and ``write_config`` together, i.e. what an iteration pays. A 10k run in the
same process is the scaling baseline: ratio = (100k seconds / 10) / (10k seconds), 1.0 is linear.
"""

from __future__ import annotations

import re
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


def measure(count: int) -> tuple[float, float, int, int]:
    """(wall s, CPU s, blocks emitted, bytes written) of generate + write_config for ``count`` resources.

    CPU seconds are reported next to wall seconds: on a shared machine the wall clock also counts
    the time other processes held the cores (generation itself is single-threaded).
    """
    from tenant_replicator.iac.generate import generate, write_config

    resources, groups = synthetic(count)
    with tempfile.TemporaryDirectory() as tmp:
        started, cpu = time.perf_counter(), time.process_time()
        result = generate(resources, groups, SOURCE, TARGET, "bench1")
        main = write_config(result, Path(tmp))
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
        size = main.stat().st_size
    return seconds, cpu_seconds, result.resource_count, size


def _row(metric: str, value: float, unit: str, **extra: Any) -> dict[str, Any]:
    return {"benchmark": "generate", "metric": metric, "value": value, "unit": unit, **extra}


def run() -> list[dict[str, Any]]:
    small_s, small_cpu, _, _ = measure(10_000)
    big_s, big_cpu, blocks, size = measure(100_000)
    verdict = "met" if big_cpu <= TARGET_SECONDS else "NOT met"
    return [
        _row(
            "100k resources -> main.tf.json (wall)",
            round(big_s, 3),
            "s",
            note=f"{blocks} blocks incl. resource groups, {size / 1e6:.0f} MB; wall includes other processes",
        ),
        _row(
            "100k resources -> main.tf.json (CPU)",
            round(big_cpu, 3),
            "s",
            note=f"target <= {TARGET_SECONDS:.0f} s: {verdict}",
        ),
        _row("throughput (100k, CPU)", round(100_000 / big_cpu), "resources/s"),
        _row(
            "scaling 10k -> 100k (CPU)",
            round(big_cpu / 10, 3),
            "s per 10k",
            baseline=round(small_cpu, 3),
            ratio=round((big_cpu / 10) / small_cpu, 2),
            note="baseline: the 10k run; ratio 1.0 = linear",
        ),
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
