"""Drift since the converged snapshot: pure functions over ARM-shaped dicts, with the real type registry."""

from __future__ import annotations

import copy
import json

from tenant_replicator import drift
from tenant_replicator.campaigns import Filters
from tenant_replicator.iteration import writable_properties

S = "/subscriptions/3f2b8c1e-5d4a-4e7b-9c21-6a8f0d2e4b17/resourceGroups"
T = "/subscriptions/c7e91a04-2b6f-4d38-a5e2-91f4b7c0d863/resourceGroups"
VNET = "Microsoft.Network/virtualNetworks"
NSG = "Microsoft.Network/networkSecurityGroups"


def vnet(prefix: str, rg: str, name: str, cidr: str, state: str = "Succeeded") -> dict:
    return {
        "id": f"{prefix}/{rg}/providers/{VNET}/{name}",
        "name": name,
        "type": VNET,
        "location": "westeurope",
        "tags": {"env": "prod"},
        "properties": {"addressSpace": {"addressPrefixes": [cidr]}, "provisioningState": state, "resourceGuid": "g1"},
    }


def nsg(prefix: str, rg: str, name: str) -> dict:
    return {
        "id": f"{prefix}/{rg}/providers/{NSG}/{name}",
        "name": name,
        "type": NSG,
        "location": "westeurope",
        "properties": {"securityRules": []},
    }


def world():
    source = [
        vnet(S, "rg-app", "vnet-a", "10.0.0.0/16"),
        vnet(S, "rg-app", "vnet-b", "10.1.0.0/16"),
        nsg(S, "rg-db", "nsg-db"),
    ]
    target = [
        vnet(T, "rg-app", "vnet-a", "10.0.0.0/16"),
        vnet(T, "rg-app", "vnet-b", "10.1.0.0/16"),
        nsg(T, "rg-db", "nsg-db"),
        vnet(T, "rg-legacy", "vnet-legacy", "10.9.0.0/16"),
    ]
    name_map = {s["id"].lower(): t["id"] for s, t in zip(source, target, strict=False)}
    return source, target, name_map


def snap(source, target, name_map, admit=None):
    return drift.take_snapshot(source, target, name_map, admit=admit, writable=writable_properties, taken_at="t0")


def test_snapshot_covers_only_the_campaigns_own_replica():
    source, target, name_map = world()
    snapshot = snap(source, target, name_map)
    assert len(snapshot["source"]) == 3 and len(snapshot["target"]) == 3
    assert not any("vnet-legacy" in key for key in snapshot["target"])  # pre-existing: not ours
    assert json.loads(json.dumps(snapshot)) == snapshot  # stored as JSON in the campaign dir


def test_no_change_is_no_drift_and_server_set_values_do_not_count():
    source, target, name_map = world()
    snapshot = snap(source, target, name_map)
    rescanned = copy.deepcopy(target)
    rescanned[0]["properties"]["provisioningState"] = "Updating"  # read-only: ARM changes it by itself
    rescanned[0]["properties"]["resourceGuid"] = "g2"
    rescanned[3]["tags"] = {"touched": "by hand"}  # pre-existing target resource: not the campaign's
    found = drift.compute_drift(snapshot, source, rescanned, writable=writable_properties)
    assert found["drifted"] is False and sum(found["counts"].values()) == 0


def test_source_added_removed_changed_and_target_edited_deleted_exactly():
    source, target, name_map = world()
    snapshot = snap(source, target, name_map)
    new_source = copy.deepcopy(source)
    new_source[0]["properties"]["addressSpace"]["addressPrefixes"] = ["10.0.0.0/15"]  # changed
    del new_source[1]  # removed
    new_source.append(nsg(S, "rg-db", "nsg-new"))  # added
    new_target = copy.deepcopy(target)
    new_target[2]["tags"] = {"edited": "by hand"}  # nsg-db edited in the target
    del new_target[0]  # vnet-a deleted by hand
    found = drift.compute_drift(snapshot, new_source, new_target, writable=writable_properties)
    assert found["counts"] == {
        "source_added": 1,
        "source_removed": 1,
        "source_changed": 1,
        "target_changed": 1,
        "target_deleted": 1,
    }
    assert found["source_added"][0]["id"].endswith("nsg-new")
    assert found["source_removed"][0]["id"].endswith("vnet-b")
    assert found["source_changed"][0]["id"].endswith("vnet-a")
    assert found["target_changed"][0]["id"].endswith("nsg-db") and found["target_changed"][0]["source_id"]
    assert found["target_deleted"][0]["id"].endswith("vnet-a")
    assert found["source_changed"] and found["target_drifted"] and found["since"] == "t0"


def test_filters_keep_out_of_scope_changes_out():
    source, target, name_map = world()
    admit = Filters(resource_groups=("rg-app",)).admits
    snapshot = snap(source, target, name_map, admit)
    assert len(snapshot["source"]) == 2
    changed = copy.deepcopy(source)
    changed[2]["properties"]["securityRules"] = [{"name": "x"}]  # rg-db: outside the campaign's scope
    changed.append(nsg(S, "rg-other", "nsg-x"))
    found = drift.compute_drift(snapshot, changed, target, admit=admit, writable=writable_properties)
    assert not found["drifted"]


def test_decide_retriggers_on_low_fidelity_source_change_or_hand_edit():
    quiet = {"source_changed": False, "target_drifted": False}
    assert drift.decide(quiet, 100.0, 95.0) == {"retrigger": False, "reasons": []}
    assert drift.decide(None, 80.0, 95.0)["reasons"] == ["fidelity 80.0 % below the objective 95 %"]
    assert drift.decide(quiet | {"source_changed": True}, 100.0, 95.0)["reasons"] == ["the source changed"]
    assert drift.decide(quiet | {"target_drifted": True}, 100.0, 95.0)["retrigger"] is True
    assert drift.decide(None, None, 95.0)["retrigger"] is True


def test_removals_never_touch_resources_outside_the_campaign_state():
    source, target, name_map = world()
    snapshot = snap(source, target, name_map)
    found = drift.compute_drift(snapshot, source[1:], target, writable=writable_properties)  # vnet-a removed
    tfstate = {
        "resources": [
            {
                "mode": "managed",
                "type": "azapi_resource",
                "name": "vnet_b",
                "instances": [{"attributes": {"id": target[1]["id"]}}],
            },
            {
                "mode": "data",
                "type": "azapi_resource",
                "name": "x",
                "instances": [{"attributes": {"id": target[0]["id"]}}],
            },
        ]
    }
    in_state = drift.state_addresses(tfstate)
    assert in_state == {target[1]["id"].lower(): "azapi_resource.vnet_b"}
    # vnet-a's target is not in the campaign's state: never deleted nor forgotten, whatever allow_deletes says
    for allow in (True, False):
        plan = drift.plan_removals(found, snapshot, in_state, allow)
        assert plan["delete"] == [] and plan["forget"] == [] and len(plan["untouched"]) == 1
    gone_b = drift.compute_drift(snapshot, [source[0], source[2]], target, writable=writable_properties)
    assert [r["address"] for r in drift.plan_removals(gone_b, snapshot, in_state, True)["delete"]] == [
        "azapi_resource.vnet_b"
    ]
    kept = drift.plan_removals(gone_b, snapshot, in_state, False)
    assert kept["delete"] == [] and [r["address"] for r in kept["forget"]] == ["azapi_resource.vnet_b"]


def test_history_is_bounded_and_idempotent_per_run():
    record = None
    decision = {"retrigger": False, "reasons": []}
    for index in range(60):
        entry = drift.history_entry(f"run-{index}", None, {"overall_percent": 100.0}, decision, baseline=True)
        record = drift.append_history(record, "c-1", entry)
    record = drift.append_history(record, "c-1", record["history"][-1] | {"drifted": True})
    assert len(record["history"]) == drift.HISTORY_LIMIT
    assert record["history"][-1]["run_id"] == "run-59" and record["history"][-1]["drifted"] is True
    assert [h["run_id"] for h in record["history"]].count("run-59") == 1


def test_drift_message_is_one_summary_and_redacted():
    source, target, name_map = world()
    snapshot = snap(source, target, name_map)
    changed = copy.deepcopy(source)
    changed[0]["tags"] = {"note": "password=hunter2"}
    found = drift.compute_drift(snapshot, changed, target[1:], writable=writable_properties)
    decision = drift.decide(found, 66.7, 95.0)
    message = drift.drift_message("prod-dr", found, {"overall_percent": 66.7}, decision, "http://x/run")
    assert message["text"].startswith(":warning: `prod-dr` drifted since t0: 1 changed in source, 1 deleted by hand")
    body = json.dumps(message["blocks"])
    assert "re-triggered" in body and "66.7 %" in body and "rg-app/virtualnetworks/vnet-a" in body
    assert "hunter2" not in body
