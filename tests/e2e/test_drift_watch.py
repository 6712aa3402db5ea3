"""Drift watch under the real scheduler: three configured campaigns side by side.

Phase 1 (scheduled): each campaign's drift watch runs as the scheduler schedules it; with no converged
snapshot and fidelity 0 it starts that campaign's replication chain, waits for it and snapshots the
converged state. alpha and beta converge; gamma's target denies every write and fails alone.
Phase 2: the simulator changes alpha's source (add, modify, delete) and a hand edit hits beta's target;
the next drift watch of each (triggered as the scheduler would run it) detects exactly those changes,
posts one Slack message each and re-converges both.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
from pathlib import Path

import pytest

from tenant_replicator import campaigns, devstack
from tenant_replicator.slack_capture import read_messages
from tenant_replicator_airflow import policies

pytestmark = pytest.mark.slow

S1, T1 = "a1a1a1a1-0000-4000-8000-000000000001", "a1a1a1a1-0000-4000-8000-000000000002"
S2, T2 = "b2b2b2b2-0000-4000-8000-000000000001", "b2b2b2b2-0000-4000-8000-000000000002"
S3, T3 = "c3c3c3c3-0000-4000-8000-000000000001", "c3c3c3c3-0000-4000-8000-000000000002"
NET, RG_API = "2024-05-01", "2024-03-01"
LOOP = "tenant_replication"
WATCH = "replication_drift_watch__"
CAMPAIGNS = f"""
defaults:
  objective: {{fidelity_percent: 95, consecutive_successes: 1, max_iterations: 3, max_hours: 1}}
  apply_timeout_s: 300
campaigns:
  camp-alpha:
    source: {S1}
    target: {T1}
    allow_deletes: true
  camp-beta:
    source: {S2}
    target: {T2}
  camp-gamma:
    source: {S3}
    target: {T3}
    objective: {{max_iterations: 1}}
"""


def rid(sub: str, rg: str, kind: str, name: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/{kind}/{name}"


def put(stack: devstack.Stack, resource_id: str, body: dict, version: str = NET) -> None:
    stack.sim_call("PUT", f"{resource_id}?api-version={version}", body)


def vnet(cidr: str) -> dict:
    return {"location": "westeurope", "properties": {"addressSpace": {"addressPrefixes": [cidr]}}}


NSG = {"location": "westeurope", "tags": {"tier": "web"}, "properties": {"securityRules": []}}
PIP = {"location": "westeurope", "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static"}}


def seed_sources(stack: devstack.Stack) -> None:
    for sub, rg in ((S1, "rg-app"), (S2, "rg-web"), (S3, "rg-x")):
        stack.sim_call(
            "PUT", f"/subscriptions/{sub}/resourcegroups/{rg}?api-version={RG_API}", {"location": "westeurope"}
        )
    put(stack, rid(S1, "rg-app", "virtualNetworks", "vnet-a"), vnet("10.10.0.0/16"))
    put(stack, rid(S1, "rg-app", "networkSecurityGroups", "nsg-a"), NSG)
    put(stack, rid(S1, "rg-app", "publicIPAddresses", "pip-a"), PIP)
    put(stack, rid(S2, "rg-web", "virtualNetworks", "vnet-b"), vnet("10.20.0.0/16"))
    put(stack, rid(S2, "rg-web", "networkSecurityGroups", "nsg-b"), NSG)
    put(stack, rid(S3, "rg-x", "virtualNetworks", "vnet-c"), vnet("10.30.0.0/16"))


def write_simulator_state(workdir: Path) -> None:
    """The seeded tenant plus six empty subscriptions (the simulator cannot create subscriptions over ARM)."""
    from tenant_replicator.sim import model
    from tenant_replicator.sim.seed import TENANT_ID, seed_state

    state = seed_state()
    for index, sub in enumerate((S1, T1, S2, T2, S3, T3)):
        model.add_subscription(state, sub, f"drift-e2e-{index}", TENANT_ID)
    (workdir / "sim").mkdir(parents=True, exist_ok=True)
    (workdir / "sim" / "state.json").write_text(json.dumps(state))


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("drift-e2e")
    running = devstack.Stack(workdir=workdir, env=devstack.base_env(workdir))
    try:
        running.env["TENANT_REPLICATOR_SIM_LRO_SECONDS"] = "0"
        running.env["TENANT_REPLICATOR_DRIFT_POKE_S"] = "15"
        write_simulator_state(workdir)
        devstack.start_simulator(running, fresh=False)
        devstack.start_graph(running)
        devstack.start_slack_capture(running)
        seed_sources(running)
        # gamma's target denies every write (Azure Policy): its chain must fail alone
        deny = {"method": "PUT", "path_contains": f"/subscriptions/{T3}/", "status": 403}
        running.sim_call(
            "POST", "/_sim/faults", {"faults": [deny | {"code": "RequestDisallowedByPolicy", "times": 10_000}]}
        )
        campaigns_file = workdir / "tenant_replicator_campaigns.yaml"
        campaigns_file.write_text(CAMPAIGNS)
        running.env[campaigns.CONFIG_FILE_ENV] = str(campaigns_file)
        policies.write_local_settings(workdir / "airflow")  # what devstack must do to load the pool policy
        devstack.start_airflow(running)
        client = devstack.AirflowClient(running.api_url, devstack.ADMIN_USER, running.admin_password)
        for name, pool in campaigns.pools(campaigns.load_campaigns(campaigns_file)).items():
            client.call("POST", "/pools", {"name": name, "slots": pool["slots"], "description": pool["description"]})
        devstack.wait_for(lambda: client.call("GET", "/dags/replication_status"), 120, "status DAG parsed", 1)
        client.call("PATCH", "/dags/replication_status", {"is_paused": True})
        yield running
    finally:
        running.stop()


def client_for(stack: devstack.Stack) -> devstack.AirflowClient:
    return devstack.AirflowClient(stack.api_url, devstack.ADMIN_USER, stack.admin_password)


def finished_runs(client: devstack.AirflowClient, dag_id: str) -> list[dict]:
    try:
        runs = client.runs(dag_id)
    except urllib.error.HTTPError:
        return []
    return [r for r in runs if r["state"] in {"success", "failed"}]


def wait_run(client: devstack.AirflowClient, dag_id: str, run_id: str, timeout: float) -> dict:
    def done() -> dict | None:
        run = client.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
        return run if run["state"] in {"success", "failed"} else None

    return devstack.wait_for(done, timeout, f"{dag_id} run {run_id}", 2)


def drift_messages(stack: devstack.Stack, campaign_id: str) -> list[dict]:
    return [m for m in read_messages(stack.slack_capture_file) if f"`{campaign_id}` drifted since" in m["text"]]


def arm_get(stack: devstack.Stack, resource_id: str) -> dict | None:
    try:
        return stack.sim_call("GET", f"{resource_id}?api-version={NET}")
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise


def test_two_campaigns_stay_in_sync_and_a_broken_one_fails_alone(stack):
    started = time.monotonic()
    client = client_for(stack)
    home = Path(stack.env["TENANT_REPLICATOR_HOME"])

    # --- phase 1: the scheduled drift watches start and converge each campaign ---------------------
    def first_watches(names: tuple[str, ...]) -> dict | None:
        runs = {c: finished_runs(client, WATCH + c) for c in names}
        return runs if all(runs.values()) else None

    runs = devstack.wait_for(lambda: first_watches(("camp-alpha", "camp-beta")), 420, "first drift watches", 3)
    for campaign_id in ("camp-alpha", "camp-beta"):
        (run,) = runs[campaign_id]
        assert run["run_type"] == "scheduled" and run["state"] == "success", run
        state = client.variable(f"tenant_replication__{campaign_id}")
        assert state["status"] == "objective_met" and state["last_fidelity"] == 100.0
        assert (home / "campaigns" / campaign_id / "converged.json").is_file()
        (baseline,) = client.variable(f"tenant_replicator_drift__{campaign_id}")["history"]
        assert baseline["baseline"] is True and baseline["retriggered"] is True
    assert all(not drift_messages(stack, c) for c in ("camp-alpha", "camp-beta", "camp-gamma"))  # no drift yet

    # several campaigns, nothing shared: own Terraform dir and state, each holding only its own target
    for campaign_id, target in (("camp-alpha", T1), ("camp-beta", T2)):
        tfstate = json.loads((home / "campaigns" / campaign_id / "terraform" / "terraform.tfstate").read_text())
        ids = [i["attributes"]["id"] for r in tfstate["resources"] for i in r["instances"]]
        assert ids and all(f"/subscriptions/{target}/" in i.lower() for i in ids)
    # every apply ran in the pool of its target subscription (cluster policy, per run conf)
    for run in client.runs(LOOP):
        conf = run["conf"]
        apply = client.call("GET", f"/dags/{LOOP}/dagRuns/{run['dag_run_id']}/taskInstances/apply")
        assert apply["pool"] == campaigns.pool_name(conf["target_subscription"]), (run["dag_run_id"], apply["pool"])

    print(f"phase 1 (stack up -> alpha and beta converged and snapshotted): {time.monotonic() - started:.0f} s")
    # --- phase 2: the source of alpha changes; a hand edit hits beta's target -----------------------
    put(stack, rid(S1, "rg-app", "networkSecurityGroups", "nsg-new"), NSG)  # added
    put(stack, rid(S1, "rg-app", "virtualNetworks", "vnet-a"), vnet("10.11.0.0/16"))  # modified
    stack.sim_call("DELETE", f"{rid(S1, 'rg-app', 'publicIPAddresses', 'pip-a')}?api-version={NET}")  # deleted
    beta_vnet = _target_of(home, "camp-beta", "vnet-b")
    put(stack, beta_vnet, vnet("10.99.0.0/16"))  # by hand, in the target
    phase2 = {c: client.trigger(WATCH + c, {}) for c in ("camp-alpha", "camp-beta")}
    results = {c: wait_run(client, WATCH + c, run_id, 240) for c, run_id in phase2.items()}
    assert {c: r["state"] for c, r in results.items()} == {"camp-alpha": "success", "camp-beta": "success"}

    alpha = client.variable("tenant_replicator_drift__camp-alpha")["history"][-1]
    assert alpha["drifted"] and alpha["retriggered"]
    assert alpha["counts"] == {
        "source_added": 1,
        "source_removed": 1,
        "source_changed": 1,
        "target_changed": 0,
        "target_deleted": 0,
    }
    kinds = {(i["kind"], i["id"].rsplit("/", 1)[-1]) for i in alpha["items"]}
    assert kinds == {("source_added", "nsg-new"), ("source_removed", "pip-a"), ("source_changed", "vnet-a")}
    beta = client.variable("tenant_replicator_drift__camp-beta")["history"][-1]
    assert beta["counts"] == {
        "source_added": 0,
        "source_removed": 0,
        "source_changed": 0,
        "target_changed": 1,
        "target_deleted": 0,
    }
    assert [i["id"].rsplit("/", 1)[-1] for i in beta["items"]] == ["vnet-b"]
    # exactly one Slack drift summary per drifted campaign, none for the others
    assert len(drift_messages(stack, "camp-alpha")) == 1 and len(drift_messages(stack, "camp-beta")) == 1
    assert drift_messages(stack, "camp-gamma") == []
    text = drift_messages(stack, "camp-alpha")[0]["text"]
    assert "1 added in source, 1 removed from source, 1 changed in source" in text
    assert "1 changed by hand in target" in drift_messages(stack, "camp-beta")[0]["text"]

    # both re-converged: alpha's target follows its source (deletes allowed), beta's hand edit is undone
    for campaign_id in ("camp-alpha", "camp-beta"):
        state = client.variable(f"tenant_replication__{campaign_id}")
        assert state["status"] == "objective_met" and state["last_fidelity"] == 100.0
    assert arm_get(stack, _target_of(home, "camp-alpha", "nsg-new")) is not None
    assert arm_get(stack, _target_of(home, "camp-alpha", "vnet-a"))["properties"]["addressSpace"] == {
        "addressPrefixes": ["10.11.0.0/16"]
    }
    assert arm_get(stack, rid(T1, "rg-app", "publicIPAddresses", "pip-a")) is None
    assert arm_get(stack, beta_vnet)["properties"]["addressSpace"] == {"addressPrefixes": ["10.20.0.0/16"]}
    # the campaign page shows the drift history next to the fidelity history (real store, real api-server)
    page = _campaign_page(stack, "camp-alpha")
    assert 'id="drift-history"' in page and "1 added in source, 1 removed from source" in page
    print(f"phase 2 done (drift detected, both re-converged): {time.monotonic() - started:.0f} s")
    # `tenant-replicator campaigns` shows each campaign's state from the Variables (Airflow reachable)
    listing = _cli(stack, "list")
    assert "camp-alpha" in listing and "objective_met, iteration 1, fidelity 100.0 %" in listing
    shown = _cli(stack, "show", "camp-alpha")
    assert "deletes      allowed" in shown and "source_added 1, source_removed 1, source_changed 1" in shown
    assert "re-triggered" in shown
    # the broken campaign failed alone (its chain ran beside the others' and stopped at its limit)
    (gamma,) = devstack.wait_for(lambda: first_watches(("camp-gamma",)), 240, "gamma's drift watch", 3)["camp-gamma"]
    assert gamma["state"] == "failed"
    gamma_state = client.variable("tenant_replication__camp-gamma")
    assert gamma_state["status"] == "stopped" and gamma_state["last_fidelity"] == 0.0
    assert "RequestDisallowedByPolicy" in json.dumps(gamma_state["last_apply"])
    assert not (home / "campaigns" / "camp-gamma" / "converged.json").exists()
    assert drift_messages(stack, "camp-gamma") == []
    assert time.monotonic() - started < 600


def _target_of(home: Path, campaign_id: str, name: str) -> str:
    name_map = json.loads((home / "campaigns" / campaign_id / "terraform" / "name_map.json").read_text())
    (target,) = [t for s, t in name_map.items() if s.endswith(f"/{name}")]
    return target


def _cli(stack: devstack.Stack, *args: str) -> str:
    command = [sys.executable, "-m", "tenant_replicator.cli", "campaigns", *args]
    result = subprocess.run(command, env=stack.env, capture_output=True, text=True, timeout=180, check=True)
    return result.stdout


def _campaign_page(stack: devstack.Stack, campaign_id: str) -> str:
    import urllib.request

    client = client_for(stack)
    request = urllib.request.Request(
        f"{stack.api_url}/tenant-replicator/campaigns/{campaign_id}",
        headers={"Authorization": f"Bearer {client.token}", "Accept": "text/html"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read().decode()
