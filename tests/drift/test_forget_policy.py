"""Releasing source-deleted resources from the campaign's own state (real terraform) and the pool policy."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from tenant_replicator import campaigns, drift
from tenant_replicator.campaign import campaign_dir
from tenant_replicator.settings import load_settings
from tenant_replicator_airflow import policies

TGT = "c7e91a04-2b6f-4d38-a5e2-91f4b7c0d863"
OTHER = "11111111-2222-4333-8444-555555555555"


def state_with(ids: dict[str, str]) -> dict:
    return {
        "version": 4,
        "terraform_version": "1.11.4",
        "serial": 3,
        "lineage": "5f0c1b7e-0000-4000-8000-000000000001",
        "outputs": {},
        "resources": [
            {
                "mode": "managed",
                "type": "azapi_resource",
                "name": label,
                "provider": 'provider["registry.terraform.io/azure/azapi"]',
                "instances": [{"schema_version": 0, "attributes": {"id": resource_id}, "sensitive_attributes": []}],
            }
            for label, resource_id in ids.items()
        ],
        "check_results": None,
    }


def test_forget_removes_only_the_named_address_from_this_campaigns_state(tmp_path):
    settings = load_settings(
        {"TENANT_REPLICATOR_HOME": str(tmp_path), "TENANT_REPLICATOR_ARM_ENDPOINT": "https://127.0.0.1:1"}
    )
    ids = {
        "vnet_a": f"/subscriptions/{TGT}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/a",
        "vnet_b": f"/subscriptions/{TGT}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/b",
    }
    mine = campaign_dir(tmp_path, "camp-one") / "terraform"
    other = campaign_dir(tmp_path, "camp-two") / "terraform"
    for directory in (mine, other):
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "terraform.tfstate").write_text(json.dumps(state_with(ids)))
    assert drift.forget(settings, "camp-one", [{"address": "azapi_resource.vnet_a", "workdir": "terraform"}]) == [
        "terraform:azapi_resource.vnet_a"
    ]
    left = drift.state_addresses(json.loads((mine / "terraform.tfstate").read_text()))
    assert list(left.values()) == ["azapi_resource.vnet_b"]
    untouched = drift.state_addresses(json.loads((other / "terraform.tfstate").read_text()))
    assert sorted(untouched.values()) == ["azapi_resource.vnet_a", "azapi_resource.vnet_b"]  # no shared state
    assert drift.forget(settings, "camp-one", []) == []
    with pytest.raises(RuntimeError, match="state rm in .* failed"):
        drift.forget(settings, "camp-one", [{"address": "azapi_resource.not_there", "workdir": "terraform"}])
    with pytest.raises(RuntimeError, match="not inside campaign camp-one"):
        drift.forget(settings, "camp-one", [{"address": "azapi_resource.vnet_a", "workdir": "../camp-two/terraform"}])
    assert len(drift.state_addresses(json.loads((other / "terraform.tfstate").read_text()))) == 2


def test_campaign_states_cover_the_single_state_and_every_stack(tmp_path):
    directory = campaign_dir(tmp_path, "camp-one")
    ids = {
        f"r{i}": f"/subscriptions/{TGT}/resourceGroups/rg{i}/providers/Microsoft.Network/virtualNetworks/v"
        for i in range(3)
    }
    for workdir, label in (("terraform", "r0"), ("stacks/rg1", "r1"), ("stacks/rg2", "r2")):
        (directory / workdir).mkdir(parents=True, exist_ok=True)
        (directory / workdir / "terraform.tfstate").write_text(json.dumps(state_with({label: ids[label]})))
    found = drift.campaign_states(directory)
    assert found == {
        ids["r0"].lower(): ("azapi_resource.r0", "terraform"),
        ids["r1"].lower(): ("azapi_resource.r1", "stacks/rg1"),
        ids["r2"].lower(): ("azapi_resource.r2", "stacks/rg2"),
    }


def test_route_pool_only_for_the_loops_apply_of_a_known_target():
    conf = {"target_subscription": TGT.upper()}
    routed = frozenset({TGT})
    assert policies.route_pool("tenant_replication", "apply", conf, routed) == f"tenant_replicator_apply__{TGT}"
    assert policies.route_pool("tenant_replication", "apply_stacks_1", conf, routed) == campaigns.pool_name(TGT)
    assert policies.route_pool("tenant_replication", "generate", conf, routed) is None
    assert policies.route_pool("other_dag", "apply", conf, routed) is None
    assert policies.route_pool("tenant_replication", "apply", {"target_subscription": OTHER}, routed) is None
    assert policies.route_pool("tenant_replication", "apply", {"target_subscription": OTHER}, None).endswith(OTHER)
    assert policies.route_pool("tenant_replication", "apply", {}, None) is None


def test_hook_reads_targets_from_the_campaigns_file(tmp_path, monkeypatch):
    path = tmp_path / "c.yaml"
    path.write_text(f"campaigns:\n  one-camp:\n    source: {OTHER}\n    target: {TGT}\n")
    monkeypatch.setenv(campaigns.CONFIG_FILE_ENV, str(path))
    monkeypatch.delenv(policies.ROUTE_ALL_ENV, raising=False)
    ti = SimpleNamespace(dag_id="tenant_replication", task_id="apply", pool="default_pool")
    policies.task_instance_mutation_hook(ti, dag_run=None)  # early construction: left alone
    assert ti.pool == "default_pool"
    policies.task_instance_mutation_hook(ti, dag_run=SimpleNamespace(conf={"target_subscription": TGT}))
    assert ti.pool == campaigns.pool_name(TGT)
    stray = SimpleNamespace(dag_id="tenant_replication", task_id="apply", pool="default_pool")
    policies.task_instance_mutation_hook(stray, dag_run=SimpleNamespace(conf={"target_subscription": OTHER}))
    assert stray.pool == "default_pool"  # no pool exists for it: never routed into a missing pool
    path.write_text("campaigns: {broken")  # a typo never breaks scheduling
    policies.task_instance_mutation_hook(stray, dag_run=SimpleNamespace(conf={"target_subscription": TGT}))
    assert stray.pool == "default_pool"


def test_local_settings_shim_exposes_only_the_hook(tmp_path):
    path = policies.write_local_settings(tmp_path)
    namespace: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # what Airflow's import does
    assert namespace["__all__"] == ["task_instance_mutation_hook"]
    assert namespace["task_instance_mutation_hook"] is policies.task_instance_mutation_hook


def test_hook_registered_as_a_pluggy_policy_plugin_gets_the_dag_run(tmp_path, monkeypatch):
    """The entry-point route: pluggy passes only the arguments the impl names without defaults."""
    import pluggy
    from airflow import policies as airflow_policies

    monkeypatch.setenv(policies.ROUTE_ALL_ENV, "all")
    manager = pluggy.PluginManager("airflow.policy")
    manager.add_hookspecs(airflow_policies)
    manager.register(policies)
    ti = SimpleNamespace(dag_id="tenant_replication", task_id="apply", pool="default_pool")
    manager.hook.task_instance_mutation_hook(
        task_instance=ti, dag_run=SimpleNamespace(conf={"target_subscription": TGT})
    )
    assert ti.pool == campaigns.pool_name(TGT)
