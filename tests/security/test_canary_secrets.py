"""Canary secrets of the seeded tenant never leave the campaign's secret store and Terraform state.

The simulator's source holds write-only canaries (seed.CANARY_SECRETS: passwords, a storage account key,
a SAS signature, connection strings). After a campaign under the real scheduler, every artefact is searched
for them: task logs and all other files of the stack (Airflow's metadata DB included), XCom and Variables
through the REST API, the Slack capture, generated Terraform, scan reports and the graph. Also: nothing the
loop generated addresses the source subscription.
"""

from __future__ import annotations

import json
import stat
import urllib.parse
from pathlib import Path

import faultstack as fs
import pytest

from tenant_replicator import devstack
from tenant_replicator.demo import DAG_ID
from tenant_replicator.sim.seed import CANARY_SECRETS
from tenant_replicator.sim.seed import SOURCE_SUBSCRIPTION_ID as SRC

pytestmark = [pytest.mark.faults, pytest.mark.slow]

NEEDLES = sorted({*CANARY_SECRETS.values(), *(urllib.parse.unquote(v) for v in CANARY_SECRETS.values())})


def allowed(path: Path, stack: devstack.Stack) -> bool:
    """Where secrets may be: the campaign secret stores, Terraform state, and Azure's own side (the simulator)."""
    relative = path.relative_to(stack.workdir).parts
    return (
        relative[:1] in {("sim",), ("graph",)}  # Azure's side; the graph is searched by query below
        or "secrets" in relative
        or path.name.startswith("terraform.tfstate")
        or path.name == "simulator.log"
    )


def hits_in_files(stack: devstack.Stack) -> tuple[list[str], list[Path]]:
    hits, searched = [], []
    for path in stack.workdir.rglob("*"):
        if not path.is_file() or path.is_symlink() or allowed(path, stack):
            continue
        data = path.read_bytes()
        searched.append(path)
        hits += [f"{path.relative_to(stack.workdir)}: {n[:8]}..." for n in NEEDLES if n.encode() in data]
    return hits, searched


def hits_in_api(client: devstack.AirflowClient, campaign_id: str) -> tuple[list[str], int]:
    """Every Variable and every XCom of the campaign's runs, as the REST API returns them."""
    variables = client.call("GET", "/variables?limit=1000")["variables"]
    texts = {f"variable {v['key']}": str(v.get("value")) for v in variables}
    for run in fs.campaign_runs(client, campaign_id):
        run_id = run["dag_run_id"]
        texts[f"conf {run_id}"] = json.dumps(run.get("conf"))
        for ti in client.call("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances")["task_instances"]:
            path = f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{ti['task_id']}/xcomEntries"
            for entry in client.call("GET", f"{path}?limit=100").get("xcom_entries", []):
                value = client.call("GET", f"{path}/{urllib.parse.quote(entry['key'])}?map_index={entry['map_index']}")
                texts[f"xcom {run_id}/{ti['task_id']}/{entry['key']}"] = json.dumps(value.get("value"))
    hits = [f"{where}: {n[:8]}..." for where, text in texts.items() for n in NEEDLES if n in text]
    return hits, len(texts)


def hits_in_graph(stack: devstack.Stack) -> tuple[list[str], int]:
    from tenant_replicator.graph.store import open_graph

    store = open_graph(stack.graph_uri, "tenant_replicator")
    try:
        rows = store.query("MATCH (n) RETURN properties(n) AS p")
    finally:
        store.close()
    text = json.dumps(rows, default=str)
    return [f"graph: {n[:8]}..." for n in NEEDLES if n in text], len(rows)


@pytest.mark.timeout(1200)
def test_canary_secrets_appear_nowhere_outside_the_secret_store(fault_stack):
    stack, client = fault_stack
    fs.reset_simulator(stack)
    client.trigger(DAG_ID, fs.campaign_conf("sec-canary", required_successes=1, max_iterations=3))
    state = fs.follow(client, "sec-canary", 360)
    assert state["status"] == "objective_met", state["history"]

    # not vacuous: the simulator's source does hold canaries the scan could have leaked
    sim_side = "".join(p.read_text(errors="replace") for p in (stack.workdir / "sim").glob("state.json*"))
    held = [n for n in CANARY_SECRETS.values() if n in sim_side]
    assert len(held) >= 3, "the seeded source should hold the connection-string canaries"
    file_hits, searched = hits_in_files(stack)
    api_hits, api_items = hits_in_api(client, "sec-canary")
    graph_hits, nodes = hits_in_graph(stack)
    # the search really covered the artefacts: this campaign's config, task logs and terraform output at
    # least (how many other files the shared stack holds depends on which tests ran in it before)
    names = [p.name for p in searched]
    assert "main.tf.json" in names and sum(n.endswith(".log") for n in names) >= 10, names
    assert api_items > 10 and nodes > 40
    files = len(searched)
    assert file_hits == [] and api_hits == [] and graph_hits == []

    campaigns = stack.workdir / "replicator" / "campaigns"
    states = list(campaigns.rglob("terraform.tfstate"))
    assert states and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in states)
    secret_dirs = [p for p in campaigns.rglob("secrets") if p.is_dir()]
    assert all(stat.S_IMODE(p.stat().st_mode) & 0o077 == 0 for p in secret_dirs)
    configs = list(campaigns.rglob("main.tf.json"))
    aimed_at_source = [str(p) for p in configs if f"/subscriptions/{SRC}".lower() in p.read_text().lower()]
    assert configs and aimed_at_source == []
    fs.record_outcome(
        "canary secrets (passwords, account key, SAS, connection strings) after a campaign",
        f"0 found in {files} files, {api_items} Variables/XComs/confs, {nodes} graph nodes, Slack capture; "
        f"state files 0600",
        len(file_hits) + len(api_hits) + len(graph_hits),
        canaries_held_by_source=len(held),
        files_searched=files,
        api_items_searched=api_items,
        graph_nodes_searched=nodes,
        terraform_configs_aimed_at_source=len(aimed_at_source),
    )
