"""The DAG file parses, has the loop's shape, and stays thin (parse-time work is small)."""

from __future__ import annotations

from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[1] / "dags"


@pytest.fixture(scope="module")
def dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    return bag.dags["tenant_replication"]


def test_loop_shape(dag):
    order = [t.task_id for t in dag.topological_sort()]
    assert order == [
        "prepare",
        "scan_source",
        "generate",
        "stacks_wave_0",
        "stacks_wave_1",
        "stacks_wave_2",
        "apply_stacks_0",
        "apply_stacks_1",
        "apply_stacks_2",
        "merge_stacks",
        "apply",
        "scan_target",
        "fidelity",
        "record",
        "should_continue",
        "trigger_next_iteration",
        "iteration_failed",
    ]
    # a run whose step failed is shown failed, though the chain may go on
    assert dag.task_dict["iteration_failed"].trigger_rule == "one_failed"
    assert dag.task_dict["iteration_failed"].upstream_task_ids == set(order[:-1])
    assert dag.max_active_runs == 8  # campaigns side by side; one chain per campaign is the lease's job
    assert dag.task_dict["trigger_next_iteration"].trigger_dag_id == "tenant_replication"
    # a failed apply is still rescanned and recorded (and resets the counter), so the loop goes on
    assert dag.task_dict["scan_target"].trigger_rule == "all_done"
    assert dag.task_dict["record"].trigger_rule == "all_done"
    assert dag.task_dict["fidelity"].mode == "reschedule"


def test_params_carry_objective_and_safety_defaults(dag):
    params = dag.params
    assert params["fidelity_target"] == 95.0
    assert params["required_successes"] == 3
    assert params["max_hours"] == 24.0
    assert params["max_iterations"] >= 1


def test_parsing_the_dag_imports_no_cloud_or_graph_client():
    """The dag-processor re-parses often: heavy clients load inside tasks, not at parse time."""
    import subprocess
    import sys

    probe = (
        "import runpy, sys; runpy.run_path(sys.argv[1]); "
        "print('LOADED=' + ','.join(m for m in ('azure.mgmt.resource', 'falkordb', 'neo4j', 'tenant_replicator.scan',"
        " 'tenant_replicator.iac.generate') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(DAGS / "tenant_replication.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    loaded = [line for line in result.stdout.splitlines() if line.startswith("LOADED=")]
    assert loaded == ["LOADED="]
