"""The whole loop under the real Airflow scheduler, on the simulator, until the ShortCircuit ends it."""

from __future__ import annotations

import json

import pytest

from tenant_replicator import devstack
from tenant_replicator.campaign import campaign_id_for
from tenant_replicator.demo import DAG_ID, demo_conf, follow_chain
from tenant_replicator.slack_capture import read_messages

pytestmark = pytest.mark.slow


def sim_stats(stack: devstack.Stack) -> dict:
    return stack.sim_call("GET", "/_sim/stats")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with devstack.start_stack(tmp_path_factory.mktemp("e2e")) as running:
        client = devstack.AirflowClient(running.api_url, devstack.ADMIN_USER, running.admin_password)
        # the status DAG has its own test; its scheduled runs must not interleave with the loop's alerts
        devstack.wait_for(lambda: client.call("GET", "/dags/replication_status"), 120, "status DAG parsed", 1)
        client.call("PATCH", "/dags/replication_status", {"is_paused": True})
        yield running


def test_chain_recovers_from_a_denied_type_and_reaches_objective(stack):
    """Iteration 1: Azure Policy denies the data collection rule (403); the loop records the failure,
    alerts, carries on; iteration 2 applies only that rule; iterations 2-4 succeed: objective met."""
    from tenant_replicator.sim.seed import SOURCE_SUBSCRIPTION_ID as SRC
    from tenant_replicator.sim.seed import TARGET_SUBSCRIPTION_ID as TGT

    client = devstack.AirflowClient(stack.api_url, devstack.ADMIN_USER, stack.admin_password)
    devstack.wait_for(lambda: client.call("GET", f"/dags/{DAG_ID}"), 120, "DAG parsed", 1)
    denial = {
        "method": "PUT",
        "path_contains": "/providers/Microsoft.Insights/dataCollectionRules/",
        "status": 403,
        "code": "RequestDisallowedByPolicy",
        "times": 1,
    }
    stack.sim_call("POST", "/_sim/faults", {"faults": [denial]})
    client.trigger(DAG_ID, demo_conf(SRC, TGT))
    key = f"tenant_replication__{campaign_id_for(SRC, TGT)}"

    state = follow_chain(client, key, timeout=600, echo=lambda line: None)

    assert state["status"] == "objective_met"
    assert state["iteration"] == 4
    assert [h["success"] for h in state["history"]] == [False, True, True, True]
    assert state["consecutive_successes"] == 3
    first = state["history"][0]
    assert first["matched"] == first["source_total"] - 1  # exactly the denied rule is missing
    assert first["reasons"] == ["1 resource(s) failed to apply"]
    assert state["last_fidelity"] == 100.0
    runs = sorted(client.runs(DAG_ID), key=lambda r: r["start_date"])
    assert [r["state"] for r in runs] == ["failed", "success", "success", "success"]
    # the last run's XCom report holds the same counters as the Variable
    report = client.xcom(DAG_ID, runs[-1]["dag_run_id"], "record")
    report = json.loads(report) if isinstance(report, str) else report
    assert report["counters"]["consecutive_successes"] == state["consecutive_successes"]
    assert report["decision"]["objective_met"] is True
    assert report["fidelity"]["preexisting_target"] == 3  # reported apart, not counted
    second = client.xcom(DAG_ID, runs[1]["dag_run_id"], "record")
    second = json.loads(second) if isinstance(second, str) else second
    assert second["apply"]["plan"]["add"] == 1  # only the denied rule was written again
    # the source was only ever read
    stats = sim_stats(stack)
    assert stats["writes"].get(SRC, 0) == 0
    assert stats["writes"].get(TGT, 0) > 0
    # Slack, through the real Slack provider to the loopback capture server: exactly these, in order
    texts = [m["text"] for m in read_messages(stack.slack_capture_file)]
    assert len(texts) == 4, texts
    assert "task `apply` failed in iteration 1" in texts[0]
    assert "RequestDisallowedByPolicy" in str(read_messages(stack.slack_capture_file)[0]["blocks"])
    assert "fidelity n/a -> " in texts[1] and "iteration 1" in texts[1]
    assert "-> 100.0 %" in texts[2] and "iteration 2" in texts[2]
    assert "objective met" in texts[3]


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
