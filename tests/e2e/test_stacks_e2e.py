"""A stacks campaign under the real scheduler: per-resource-group states applied by mapped tasks in waves.

The demo tenant splits into 4 stacks in 3 waves (network; app + data, which look the network up;
monitor, which looks the VM up). The campaign must reach its objective, the two stacks of the
middle wave must have run at the same time (overlapping task instance start/end), and ``record``
must have read one merged apply summary through the usual ``apply`` XCom.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from tenant_replicator import devstack
from tenant_replicator.campaign import campaign_id_for
from tenant_replicator.demo import DAG_ID, demo_conf, follow_chain

pytestmark = pytest.mark.slow

STACKS = {"rg-network-prod", "rg-app-prod", "rg-data-prod", "rg-monitor-prod"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with devstack.start_stack(tmp_path_factory.mktemp("e2e-stacks")) as running:
        client = devstack.AirflowClient(running.api_url, devstack.ADMIN_USER, running.admin_password)
        devstack.wait_for(lambda: client.call("GET", "/dags/replication_status"), 120, "status DAG parsed", 1)
        client.call("PATCH", "/dags/replication_status", {"is_paused": True})
        yield running


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _value(raw):
    return json.loads(raw) if isinstance(raw, str) else raw


def test_stacks_campaign_reaches_objective_with_parallel_mapped_applies(stack):
    from tenant_replicator.sim.seed import SOURCE_SUBSCRIPTION_ID as SRC
    from tenant_replicator.sim.seed import TARGET_SUBSCRIPTION_ID as TGT

    client = devstack.AirflowClient(stack.api_url, devstack.ADMIN_USER, stack.admin_password)
    devstack.wait_for(lambda: client.call("GET", f"/dags/{DAG_ID}"), 120, "DAG parsed", 1)
    client.trigger(DAG_ID, demo_conf(SRC, TGT, stacks=True, required_successes=2))
    state = follow_chain(client, f"tenant_replication__{campaign_id_for(SRC, TGT)}", timeout=900, echo=print)

    assert state["status"] == "objective_met", state
    assert state["last_fidelity"] >= 95.0
    assert [h["success"] for h in state["history"]] == [True, True]
    runs = sorted(client.runs(DAG_ID), key=lambda r: r["start_date"])
    assert [r["state"] for r in runs] == ["success", "success"]

    first = runs[0]["dag_run_id"]
    tis = client.call("GET", f"/dags/{DAG_ID}/dagRuns/{first}/taskInstances?limit=100")["task_instances"]
    by_task: dict[str, list[dict]] = {}
    for ti in tis:
        by_task.setdefault(ti["task_id"], []).append(ti)
    # three waves: 1, 2 and 1 stacks, each a mapped task instance that succeeded
    assert [len(by_task[f"apply_stacks_{i}"]) for i in range(3)] == [1, 2, 1]
    assert all(ti["state"] == "success" for i in range(3) for ti in by_task[f"apply_stacks_{i}"])
    # the middle wave's two applies ran in parallel
    middle = by_task["apply_stacks_1"]
    assert max(_when(t["start_date"]) for t in middle) < min(_when(t["end_date"]) for t in middle), middle
    # waves are ordered: the network stack finished before the middle wave began, the middle before monitor
    assert _when(by_task["apply_stacks_0"][0]["end_date"]) <= min(_when(t["start_date"]) for t in middle)
    assert max(_when(t["end_date"]) for t in middle) <= _when(by_task["apply_stacks_2"][0]["start_date"])

    # record read one merged summary through the usual `apply` XCom
    report = _value(client.xcom(DAG_ID, first, "record"))
    applied = report["apply"]
    assert set(applied["stacks"]) == STACKS and applied["ok"] is True
    assert applied["applied"] == sum(s["applied"] for s in applied["stacks"].values()) > 0
    assert applied["writes"]["total"] == sum(s["writes"] for s in applied["stacks"].values())
    second = _value(client.xcom(DAG_ID, runs[1]["dag_run_id"], "record"))
    assert second["apply"]["changes"] is False and second["apply"]["writes"]["total"] == 0  # converged

    # one state per stack on disk; the single-state directory was never applied
    ctx = _value(client.xcom(DAG_ID, first, "prepare"))
    stacks_root = Path(ctx["campaign_dir"]) / "stacks"
    assert {p.parent.name for p in stacks_root.glob("*/terraform.tfstate")} == STACKS
    assert not (Path(ctx["tf_dir"]) / "terraform.tfstate").exists()
    monitor = json.loads((stacks_root / "rg-monitor-prod" / "main.tf.json").read_text())
    assert monitor.get("data", {}).get("azapi_resource")  # it reads the VM through a lookup
    stats = stack.sim_call("GET", "/_sim/stats")
    assert stats["writes"].get(SRC, 0) == 0
