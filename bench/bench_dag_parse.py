"""DAG parse time: what the dag-processor pays for each file in dags/ (goal < 0.5 s).

Measured like Airflow measures it (`airflow dags report`'s duration, the dag-processor's
`dag_processing.last_duration`): a fresh Python process imports Airflow (not timed: the dag-processor
has it loaded before it forks a parser), then a forked child times `DagBag(<one file>)`, which imports the file and
collects its DAGs, with everything the file imports (our package, providers) still cold: each parse
runs in a child forked from that process, as the dag-processor forks its parsers. Each file is
parsed REPEATS times; the median is reported. Baseline: an empty DAG file (one DAG,
one task, nothing of ours imported) parsed the same way, so the ratio is "times the cost of a
trivial DAG".
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DAGS = REPO / "dags"
REPEATS = 5
GOAL_S = 0.5

EMPTY_DAG = """
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

with DAG("empty_baseline", schedule=None):
    EmptyOperator(task_id="noop")
"""

# Runs in one fresh process: import Airflow (untimed), then fork one child per parse, as the
# dag-processor forks its parsers; each child times one DagBag fill of one file and reports by pipe.
PARSER = """
import json, os, pathlib, sys, time
from airflow.dag_processing.dagbag import BundleDagBag

def parse(path):
    started = time.perf_counter()
    bag = BundleDagBag(dag_folder=path, bundle_path=path.parent, bundle_name="dags-folder", safe_mode=False)
    wall = time.perf_counter() - started
    return {"wall": wall, "duration": sum(s.duration.total_seconds() for s in bag.dagbag_stats),
            "tasks": sum(s.task_num for s in bag.dagbag_stats), "dag_ids": sorted(bag.dag_ids),
            "errors": {k: str(v)[:300] for k, v in bag.import_errors.items()}}

repeats = int(sys.argv[1])
for name in sys.argv[2:]:
    for attempt in range(repeats):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            os.write(write, json.dumps(parse(pathlib.Path(name))).encode())
            os._exit(0)
        os.close(write)
        chunks = []
        while chunk := os.read(read, 65536):
            chunks.append(chunk)
        os.close(read)
        os.waitpid(pid, 0)
        print(json.dumps({"file": name, "attempt": attempt} | json.loads(b"".join(chunks))), flush=True)
"""


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env |= {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
        "PYTHONDONTWRITEBYTECODE": "0",
    }
    return env


def parse_all(paths: list[Path], env: dict[str, str]) -> dict[Path, list[dict]]:
    """REPEATS + 1 forked parses of each file (the first warms the OS file cache and .pyc files, as a
    long-running dag-processor has them, and is dropped)."""
    done = subprocess.run(
        [sys.executable, "-c", PARSER, str(REPEATS + 1), *map(str, paths)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    )
    results: dict[Path, list[dict]] = {path: [] for path in paths}
    for line in done.stdout.splitlines():
        if line.startswith('{"file"'):
            result = json.loads(line)
            if result["errors"]:
                raise RuntimeError(f"{result['file']} has import errors: {result['errors']}")
            if result["attempt"] > 0:
                results[Path(result["file"])].append(result)
    return results


def run() -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-dag-parse-") as tmp:
        home = Path(tmp)
        env = _env(home)
        empty = home / "empty_dag.py"
        empty.write_text(EMPTY_DAG)
        files = sorted(DAGS.glob("*.py"))
        results = parse_all([empty, *files], env)
        baseline = statistics.median(r["duration"] for r in results[empty])
        load = os.getloadavg()[0]
        for path in files:
            value = statistics.median(r["duration"] for r in results[path])
            parsed = results[path][0]
            rows.append(
                {
                    "benchmark": "dag_parse",
                    "metric": f"parse time {path.name}",
                    "value": value,
                    "unit": "s",
                    "baseline": baseline,
                    "ratio": value / baseline if baseline else None,
                    "note": f"goal < {GOAL_S} s: {'met' if value < GOAL_S else 'NOT met'}; DagBag duration, "
                    f"median of {REPEATS} parses, each in a child forked from a process with Airflow loaded; "
                    f"{', '.join(parsed['dag_ids']) or 'no DAG (a factory, no campaign configured)'} "
                    f"({parsed['tasks']} tasks); "
                    "baseline = empty DAG file (1 task); "
                    f"load avg {load:.1f} (other work on the machine inflates it)",
                }
            )
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
