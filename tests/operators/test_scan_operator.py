"""tenant_scan DAG + ScanOperator under `dag.test()` against the real simulator and FalkorDB.

Airflow runs in a subprocess with its own AIRFLOW_HOME (migrated SQLite), so its configuration
never leaks into this test process; the subprocess prints what it observed as JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tenant_replicator.devstack import Stack, start_stack
from tenant_replicator.graph import open_graph
from tenant_replicator.scan import latest_scan, read_resources

REPO = Path(__file__).resolve().parents[2]
SOURCE = "3f2b8c1e-5d4a-4e7b-9c21-6a8f0d2e4b17"
UNKNOWN = "11111111-2222-3333-4444-555555555555"

RUNNER = textwrap.dedent(
    """
    import json, runpy, sys
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    dag = runpy.run_path(sys.argv[1])["dag"]
    out = []
    for conf in json.loads(sys.argv[2]):
        run = dag.test(run_conf=conf)
        ti = run.get_task_instance("scan")
        with create_session() as session:
            row = session.query(XComModel).filter_by(run_id=run.run_id, task_id="scan", key="return_value").first()
            value = XComModel.deserialize_value(row) if row is not None else None
        out.append({"state": str(ti.state), "xcom": value})
    print("RESULT " + json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with start_stack(tmp_path_factory.mktemp("scan-dag"), airflow=False, slack=False) as running:
        yield running


def _airflow_env(stack: Stack, home: Path) -> dict[str, str]:
    return stack.env | {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "TENANT_REPLICATOR_GRAPH_NAME": "scan_dag",
    }


def _dag_test(stack: Stack, home: Path, confs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    env = _airflow_env(stack, home)
    airflow = str(Path(sys.executable).parent / "airflow")
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=180)  # noqa: S603
    proc = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-c", RUNNER, str(REPO / "dags" / "tenant_scan.py"), json.dumps(confs)],
        env=env, capture_output=True, text=True, timeout=300, start_new_session=True,
    )  # fmt: skip
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, f"dag.test printed no result (rc {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads(lines[-1].removeprefix("RESULT "))


def test_tenant_scan_dag_scans_with_arm_and_resource_graph_and_fails_clearly(stack: Stack, tmp_path: Path) -> None:
    confs = [
        {"subscription": SOURCE, "graph_conn_id": "", "use_resource_graph": False},
        {"subscription": SOURCE, "graph_conn_id": "", "use_resource_graph": True},
        {"subscription": UNKNOWN, "graph_conn_id": "", "use_resource_graph": False},
    ]
    arm, arg, unknown = _dag_test(stack, tmp_path / "airflow", confs)

    store = open_graph(stack.graph_uri, "scan_dag")
    try:
        in_graph = read_resources(store, SOURCE)
        last = latest_scan(store, SOURCE)
    finally:
        store.close()
    assert arm["state"].endswith("success") and arg["state"].endswith("success")
    assert arm["xcom"]["complete"] and arm["xcom"]["source"] == "arm" and arm["xcom"]["error_count"] == 0
    assert arg["xcom"]["complete"] and arg["xcom"]["source"] == "resource-graph"
    assert arm["xcom"]["resources"] == arg["xcom"]["resources"] == len(in_graph) > 0
    assert last is not None and last["complete"] and last["scan_id"] == arg["xcom"]["scan_id"]
    assert arg["xcom"]["scan_id"].startswith("tenant_scan__")

    assert unknown["state"].endswith("failed")
    assert unknown["xcom"]["complete"] is False and unknown["xcom"]["error_count"] == 1
    assert "not found" in unknown["xcom"]["errors"][0]["error"] and UNKNOWN in unknown["xcom"]["errors"][0]["error"]
