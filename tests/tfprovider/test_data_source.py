"""``data "azapi_resource"`` of the stand-in, through the real terraform binary against the ARM simulator.

What stacks need from it: one Terraform state (stack B) reads a resource another state (stack A)
created, by type + name + parent_id (or resource_id), and uses its ``id`` in a body. The schema is
compared with azapi v2's data source as terraform itself reports it (``providers schema -json``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tenant_replicator.terraform.process import ManagedProcess
from tenant_replicator.tfprovider.data_source import config_errors, lookup_id
from tenant_replicator.tfprovider.install import write_cli_config

TARGET_SUB = "c7e91a04-2b6f-4d38-a5e2-91f4b7c0d863"
RG_TYPE = "Microsoft.Resources/resourceGroups@2021-04-01"
NSG_TYPE = "Microsoft.Network/networkSecurityGroups@2023-09-01"
VNET_TYPE = "Microsoft.Network/virtualNetworks@2023-09-01"

# azapi v2 (internal/services/azapi_resource_data_source.go): name -> (kind, required, optional, computed)
AZAPI_V2_ATTRIBUTES = {
    "id": ("string", False, False, True),
    "type": ("string", True, False, False),
    "name": ("string", False, True, True),
    "parent_id": ("string", False, True, True),
    "resource_id": ("string", False, True, True),
    "location": ("string", False, False, True),
    "identity": ("nested:list", False, False, True),
    "response_export_values": ("dynamic", False, True, False),
    "ignore_not_found": ("bool", False, True, False),
    "exists": ("bool", False, False, True),
    "output": ("dynamic", False, False, True),
    "tags": ('["map","string"]', False, False, True),
    "retry": ("nested:single", False, True, False),
    "headers": ('["map","string"]', False, True, False),
    "query_parameters": ('["map",["list","string"]]', False, True, False),
}


def workspace(tmp_path: Path, name: str, sim) -> tuple[Path, dict[str, str]]:
    work = tmp_path / name
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "TENANT_REPLICATOR_"))}
    env.update(
        TF_CLI_CONFIG_FILE=str(write_cli_config(tmp_path / "tfcli", python=sys.executable)),
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
        CHECKPOINT_DISABLE="1",
        TENANT_REPLICATOR_ARM_ENDPOINT=sim.endpoint,
        TENANT_REPLICATOR_ARM_CA_FILE=sim.ca_file,
    )
    return work, env


def terraform(work: Path, env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """terraform through the project's ManagedProcess (own process group, stopped by group on timeout)."""
    result = ManagedProcess(["terraform", *args], cwd=work, env=env, grace_s=10).run(timeout=timeout)
    out = "\n".join(result.lines)
    if result.timed_out:
        pytest.fail(f"terraform {args} timed out:\n{out}\n{result.stderr}")
    return subprocess.CompletedProcess(args, result.returncode, out, result.stderr)


def config(resources: dict | None = None, data: dict | None = None, outputs: dict | None = None) -> dict:
    cfg: dict[str, Any] = {
        "terraform": {"required_providers": {"azapi": {"source": "azure/azapi"}}},
        "provider": {"azapi": {}},
    }
    if resources:
        cfg["resource"] = {"azapi_resource": resources}
    if data:
        cfg["data"] = {"azapi_resource": data}
    if outputs:
        cfg["output"] = {k: {"value": v} for k, v in outputs.items()}
    return cfg


def write(work: Path, cfg: dict) -> None:
    (work / "main.tf.json").write_text(json.dumps(cfg, indent=1))


def test_schema_is_azapi_v2s(simulator, terraform_binary: str, tmp_path: Path) -> None:
    work, env = workspace(tmp_path, "schema", simulator)
    write(work, config())
    run = terraform(work, env, "providers", "schema", "-json")
    assert run.returncode == 0, run.stderr
    provider = json.loads(run.stdout)["provider_schemas"]["registry.terraform.io/azure/azapi"]
    block = provider["data_source_schemas"]["azapi_resource"]["block"]
    found = {}
    for name, attr in block["attributes"].items():
        kind = f"nested:{attr['nested_type']['nesting_mode']}" if "nested_type" in attr else json.dumps(attr["type"])
        found[name] = (
            kind.strip('"'),
            bool(attr.get("required")),
            bool(attr.get("optional")),
            bool(attr.get("computed")),
        )
    expected = {k: (v[0].replace(" ", ""),) + v[1:] for k, v in AZAPI_V2_ATTRIBUTES.items()}
    assert {k: (v[0].replace(" ", ""),) + v[1:] for k, v in found.items()} == expected
    identity = block["attributes"]["identity"]["nested_type"]["attributes"]
    assert set(identity) == {"type", "principal_id", "tenant_id", "identity_ids"}
    retry = block["attributes"]["retry"]["nested_type"]["attributes"]
    assert retry["error_message_regex"].get("required") is True and set(retry) == {
        "error_message_regex",
        "interval_seconds",
        "max_interval_seconds",
        "multiplier",
        "randomization_factor",
    }
    assert block["block_types"]["timeouts"]["nesting_mode"] == "single"
    assert set(block["block_types"]["timeouts"]["block"]["attributes"]) == {"read"}


def test_stack_b_reads_stack_a_resource_by_lookup(simulator, terraform_binary: str, tmp_path: Path) -> None:
    """Two states: A creates rg + NSG; B looks the NSG up (name + parent_id, and by resource_id) and
    puts its ID into a VNet subnet. ARM then holds the reference; B re-plans to no changes."""
    rg_id = f"/subscriptions/{TARGET_SUB}/resourceGroups/rg-lookup"
    nsg_id = f"{rg_id}/providers/Microsoft.Network/networkSecurityGroups/nsg-a"
    a_work, env = workspace(tmp_path, "a", simulator)
    write(
        a_work,
        config(
            {
                "rg": {
                    "type": RG_TYPE,
                    "name": "rg-lookup",
                    "parent_id": f"/subscriptions/{TARGET_SUB}",
                    "location": "westeurope",
                },
                "nsg": {
                    "type": NSG_TYPE,
                    "name": "nsg-a",
                    "parent_id": "${azapi_resource.rg.id}",
                    "location": "westeurope",
                    "tags": {"team": "net"},
                    "body": {"properties": {}},
                },
            }
        ),
    )
    run = terraform(a_work, env, "apply", "-auto-approve", "-input=false")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr

    b_work, _ = workspace(tmp_path, "b", simulator)
    lookups = {
        "nsg": {"type": NSG_TYPE, "name": "nsg-a", "parent_id": rg_id},
        "nsg_by_id": {
            "type": NSG_TYPE,
            "resource_id": nsg_id,
            "response_export_values": ["properties.provisioningState"],
        },
        "rg": {"type": RG_TYPE, "name": "rg-lookup", "parent_id": f"/subscriptions/{TARGET_SUB}"},
    }
    vnet = {
        "type": VNET_TYPE,
        "name": "vnet-b",
        "parent_id": "${data.azapi_resource.rg.id}",
        "location": "westeurope",
        "body": {
            "properties": {
                "addressSpace": {"addressPrefixes": ["10.9.0.0/16"]},
                "subnets": [
                    {
                        "name": "s1",
                        "properties": {
                            "addressPrefix": "10.9.1.0/24",
                            "networkSecurityGroup": {"id": "${data.azapi_resource.nsg.id}"},
                        },
                    }
                ],
            }
        },
    }
    outputs = {
        "nsg_id": "${data.azapi_resource.nsg.id}",
        "same": "${data.azapi_resource.nsg.id == data.azapi_resource.nsg_by_id.id}",
        "tags": "${data.azapi_resource.nsg.tags}",
        "exists": "${data.azapi_resource.nsg.exists}",
        "state": "${data.azapi_resource.nsg_by_id.output.properties.provisioningState}",
        "location": "${data.azapi_resource.nsg.location}",
        "parent": "${data.azapi_resource.nsg_by_id.parent_id}",
    }
    write(b_work, config({"vnet": vnet}, lookups, outputs))
    run = terraform(b_work, env, "apply", "-auto-approve", "-input=false")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    out = {k: v["value"] for k, v in json.loads(terraform(b_work, env, "output", "-json").stdout).items()}
    assert out == {
        "nsg_id": nsg_id,
        "same": True,
        "tags": {"team": "net"},
        "exists": True,
        "state": "Succeeded",
        "location": "westeurope",
        "parent": rg_id,
    }
    state = json.loads((b_work / "terraform.tfstate").read_text())
    vnet_state = next(r for r in state["resources"] if r["mode"] == "managed")
    subnet = vnet_state["instances"][0]["attributes"]["body"]["value"]["properties"]["subnets"][0]
    assert subnet["properties"]["networkSecurityGroup"]["id"] == nsg_id
    plan = terraform(b_work, env, "plan", "-detailed-exitcode", "-input=false")
    assert plan.returncode == 0, plan.stdout[-3000:]


def test_missing_resource_fails_the_plan_unless_ignored(simulator, terraform_binary: str, tmp_path: Path) -> None:
    work, env = workspace(tmp_path, "missing", simulator)
    rg_id = f"/subscriptions/{TARGET_SUB}/resourceGroups/rg-nowhere"
    lookup = {"type": NSG_TYPE, "name": "nsg-x", "parent_id": rg_id}
    write(work, config(data={"nsg": lookup}, outputs={"id": "${data.azapi_resource.nsg.id}"}))
    run = terraform(work, env, "plan", "-input=false", "-no-color")
    assert run.returncode == 1 and "Resource not found" in run.stderr, run.stderr
    write(
        work,
        config(
            data={"nsg": {**lookup, "ignore_not_found": True}},
            outputs={"exists": "${data.azapi_resource.nsg.exists}", "id": "${data.azapi_resource.nsg.id}"},
        ),
    )
    run = terraform(work, env, "apply", "-auto-approve", "-input=false")
    assert run.returncode == 0, run.stderr
    out = {k: v["value"] for k, v in json.loads(terraform(work, env, "output", "-json").stdout).items()}
    assert out == {"exists": False, "id": f"{rg_id}/providers/Microsoft.Network/networkSecurityGroups/nsg-x"}


def test_validate_reports_azapis_argument_rules(simulator, terraform_binary: str, tmp_path: Path) -> None:
    work, env = workspace(tmp_path, "invalid", simulator)
    nsg_id = f"/subscriptions/{TARGET_SUB}/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/n"
    write(work, config(data={"x": {"type": NSG_TYPE, "name": "n", "resource_id": nsg_id}}))
    run = terraform(work, env, "validate", "-json")
    diagnostics = json.loads(run.stdout)["diagnostics"]
    assert run.returncode == 1
    assert any('Exactly one of the arguments "name" or "resource_id"' in d["detail"] for d in diagnostics)


def test_argument_rules_and_ids_are_azapis() -> None:
    sub = f"/subscriptions/{TARGET_SUB}"
    assert config_errors({"type": NSG_TYPE, "parent_id": sub}) == [
        'The argument "name" is required when the argument "parent_id" is set',
        'One of the arguments "name" or "resource_id" must be set',
    ]
    assert config_errors({"type": NSG_TYPE, "name": "n"}) == [
        'The argument "parent_id" is required when the argument "name" is set'
    ]
    assert config_errors({"type": RG_TYPE, "name": "rg"}) == []  # a resource group defaults to the subscription
    assert config_errors({"type": "Microsoft.Resources/subscriptions@2022-12-01"}) == []
    assert lookup_id({"type": RG_TYPE, "name": "rg"}, TARGET_SUB)[0] == f"{sub}/resourceGroups/rg"
    rid = f"{sub}/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/n"
    assert lookup_id({"type": NSG_TYPE, "resource_id": rid}, None) == (rid, NSG_TYPE.split("@")[0], "2023-09-01")
    with pytest.raises(ValueError, match="is not of type"):
        lookup_id({"type": VNET_TYPE, "resource_id": rid}, None)
