"""`make demo`: the whole loop on the embedded default, printed as it converges.

Starts the simulator, FalkorDB, a loopback Slack capture and Airflow (api-server, scheduler,
dag-processor), triggers `tenant_replication` through the REST API and follows the campaign
Variable until the chain ends.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from tenant_replicator import devstack
from tenant_replicator.devstack import wait_for
from tenant_replicator.slack_capture import read_messages

DAG_ID = "tenant_replication"


def demo_conf(source: str, target: str, **overrides: Any) -> dict[str, Any]:
    return {"source_subscription": source, "target_subscription": target, "apply_timeout_s": 600} | overrides


def follow_chain(client: devstack.AirflowClient, campaign_key: str, timeout: float, echo=print) -> dict:
    """Print each recorded iteration until the campaign's chain ends; return the final state."""
    deadline = time.monotonic() + timeout
    shown = 0
    while time.monotonic() < deadline:
        state = client.variable(campaign_key) or {}
        for entry in state.get("history", [])[shown:]:
            fidelity = entry["fidelity_percent"]
            echo(
                f"  iteration {entry['iteration']}: fidelity "
                f"{'n/a' if fidelity is None else f'{fidelity:.1f} %'}, "
                f"{'success' if entry['success'] else 'failed: ' + '; '.join(entry['reasons'])}, "
                f"consecutive successes {entry['consecutive_successes']}"
            )
        shown = len(state.get("history", []))
        if state.get("status") in {"objective_met", "stopped"}:
            # the recording run still has its last tasks to finish
            wait_for(lambda: not _active_runs(client), max(5.0, deadline - time.monotonic()), "last run", 0.5)
            return state
        failed = [r for r in client.runs(DAG_ID) if r["state"] == "failed"]
        if failed and not _active_runs(client):
            raise RuntimeError(f"the chain stopped with failed run {failed[-1]['dag_run_id']}")
        time.sleep(2)
    raise TimeoutError(f"the chain did not end within {timeout:.0f} s")


def _active_runs(client: devstack.AirflowClient) -> list[dict]:
    return [r for r in client.runs(DAG_ID) if r["state"] in {"queued", "running"}]


def run_demo(workdir: Path, keep: bool = False, timeout: float = 900) -> int:
    from tenant_replicator.campaign import campaign_id_for
    from tenant_replicator.sim.seed import SOURCE_SUBSCRIPTION_ID, TARGET_SUBSCRIPTION_ID

    if workdir.exists():
        shutil.rmtree(workdir)
    print(f"tenant-replicator demo: starting the embedded stack in {workdir} ...", flush=True)
    started = time.monotonic()
    stack = devstack.start_stack(workdir)
    try:
        print(f"  ARM simulator  {stack.arm_endpoint}", flush=True)
        print(f"  graph          {stack.graph_uri} (embedded FalkorDB)", flush=True)
        print(f"  Airflow UI     {stack.api_url}  user {devstack.ADMIN_USER} / password {stack.admin_password}")
        client = devstack.AirflowClient(stack.api_url, devstack.ADMIN_USER, stack.admin_password)
        devstack.wait_for(lambda: client.call("GET", f"/dags/{DAG_ID}"), 120, f"DAG {DAG_ID} parsed", 1)
        run_id = client.trigger(DAG_ID, demo_conf(SOURCE_SUBSCRIPTION_ID, TARGET_SUBSCRIPTION_ID))
        print(f"triggered {DAG_ID} ({run_id}): {SOURCE_SUBSCRIPTION_ID} -> {TARGET_SUBSCRIPTION_ID}", flush=True)
        key = f"tenant_replication__{campaign_id_for(SOURCE_SUBSCRIPTION_ID, TARGET_SUBSCRIPTION_ID)}"
        state = follow_chain(client, key, timeout, echo=lambda line: print(line, flush=True))
        print(
            f"chain ended: {state['status']} after {state['iteration']} iterations, fidelity "
            f"{state['last_fidelity']} %, {state['consecutive_successes']} consecutive successes "
            f"({time.monotonic() - started:.0f} s)"
        )
        for message in read_messages(stack.slack_capture_file):
            print(f"  slack: {message['text']}")
        if keep:
            print(f"KEEP=1: the UI stays up at {stack.api_url} (Ctrl-C to stop)", flush=True)
            while True:
                time.sleep(3600)
        return 0 if state["status"] == "objective_met" else 1
    finally:
        stack.stop()
