"""The whole loop under the real Airflow scheduler, on the simulator, until the ShortCircuit ends it."""

from __future__ import annotations

import json

import pytest

from tenant_replicator import devstack
from tenant_replicator.campaign import campaign_id_for
from tenant_replicator.demo import DAG_ID, demo_conf, follow_chain
from tenant_replicator.slack_capture import read_messages

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(tmp_path_factory, start_loop_stack):
    with start_loop_stack(tmp_path_factory.mktemp("e2e")) as running:
        yield running


def test_chain_recovers_from_a_denied_type_and_reaches_objective(stack, denied_type_chain):
    """Iteration 1: Azure Policy denies the data collection rule (403); the loop records the failure,
    alerts, carries on; iteration 2 applies only that rule; iterations 2-4 succeed: objective met
    (the assertions are in conftest.run_denied_type_chain, shared with the Postgres and Celery runs)."""
    outcome = denied_type_chain(stack)
    assert outcome.state["status"] == "objective_met"


def sim_stats(stack: devstack.Stack) -> dict:
    return stack.sim_call("GET", "/_sim/stats")


def test_target_equal_to_source_is_refused_before_anything_runs(stack):
    from tenant_replicator.sim.seed import SOURCE_SUBSCRIPTION_ID as SRC

    client = devstack.AirflowClient(stack.api_url, devstack.ADMIN_USER, stack.admin_password)
    devstack.wait_for(lambda: client.call("GET", f"/dags/{DAG_ID}"), 120, "DAG parsed", 1)
    writes_before = sim_stats(stack)["writes"]
    run_id = client.trigger(DAG_ID, demo_conf(SRC, SRC.upper()))

    def finished():
        run = client.call("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}")
        return run if run["state"] in {"success", "failed"} else None

    run = devstack.wait_for(finished, 180, "refused run to finish", 1)
    assert run["state"] == "failed"
    states = {
        ti["task_id"]: ti["state"]
        for ti in client.call("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances")["task_instances"]
    }
    assert states["prepare"] == "failed"
    assert states["apply"] in {"upstream_failed", None}
    assert states["trigger_next_iteration"] != "success"
    assert sim_stats(stack)["writes"] == writes_before  # nothing written anywhere
    failure = devstack.wait_for(
        lambda: [m for m in read_messages(stack.slack_capture_file) if "`prepare` failed" in m["text"]],
        60,
        "failure alert in Slack capture",
        1,
    )
    assert "refusing to write into the source" in str(failure[0]["blocks"])


def test_status_dag_reports_running_campaigns_once_then_stays_silent(stack):
    client = devstack.AirflowClient(stack.api_url, devstack.ADMIN_USER, stack.admin_password)
    client.call("PATCH", "/dags/replication_status", {"is_paused": False})
    running = {
        "campaign_id": "status-probe",
        "status": "running",
        "iteration": 4,
        "last_fidelity": 72.5,
        "consecutive_successes": 0,
        "objective": {"fidelity_percent": 95.0, "consecutive_successes": 3},
        "history": [
            {
                "iteration": 4,
                "fidelity_percent": 72.5,
                "finished_at": "2026-11-25T12:00:00+00:00",
                "reasons": ["2 resource(s) failed to apply"],
            }
        ],
    }
    client.call("POST", "/variables", {"key": "tenant_replication__status-probe", "value": json.dumps(running)})
    index = client.variable("tenant_replicator_campaigns") or []
    client.call(
        "PATCH",
        "/variables/tenant_replicator_campaigns",
        {"key": "tenant_replicator_campaigns", "value": json.dumps(sorted({*index, "status-probe"}))},
    )

    def run_status() -> None:
        run_id = client.trigger("replication_status", {"heartbeat": False})
        devstack.wait_for(
            lambda: client.call("GET", f"/dags/replication_status/dagRuns/{run_id}")["state"] == "success",
            120,
            "status run",
            1,
        )

    def status_messages() -> list[dict]:
        return [m for m in read_messages(stack.slack_capture_file) if "campaign(s) in progress" in m["text"]]

    run_status()
    assert len(status_messages()) == 1
    text = str(status_messages()[0]["blocks"])
    assert "status-probe" in text and "72.5 %" in text and "2 resource(s) failed to apply" in text
    assert "3f2b8c1e-to-c7e91a04" not in text  # the finished campaign is not "in progress"
    run_status()
    assert len(status_messages()) == 1  # nothing changed: silent


def test_deferrable_fidelity_sensor_waits_in_the_triggerer(stack):
    from tenant_replicator.sim.seed import SOURCE_SUBSCRIPTION_ID as SRC
    from tenant_replicator.sim.seed import TARGET_SUBSCRIPTION_ID as TGT

    client = devstack.AirflowClient(stack.api_url, devstack.ADMIN_USER, stack.admin_password)
    client.trigger(DAG_ID, demo_conf(SRC, TGT, fidelity_deferrable=True, required_successes=1))
    # (a new chain of the same campaign: converged already, so one clean iteration meets the objective)
    state = follow_chain(client, f"tenant_replication__{campaign_id_for(SRC, TGT)}", timeout=300, echo=lambda _: None)
    assert state["status"] == "objective_met" and state["last_fidelity"] >= 95.0
    last = max(client.runs(DAG_ID), key=lambda r: r["start_date"])
    task_logs = (
        stack.workdir / "airflow" / "logs" / f"dag_id={DAG_ID}" / f"run_id={last['dag_run_id']}" / "task_id=fidelity"
    )
    assert "Pausing task as DEFERRED" in (task_logs / "attempt=1.log").read_text()
    trigger_log = "".join(p.read_text() for p in task_logs.glob("attempt=1.log.trigger.*.log"))
    assert "Trigger fired event" in trigger_log and "'status': 'done'" in trigger_log
