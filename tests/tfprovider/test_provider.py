"""The stand-in azapi provider, driven by the real terraform binary against the ARM simulator.

Pure helpers (dynamic encoding, ID building, drift projection, CLI config) are tested directly;
everything else goes through terraform, because what matters is that terraform accepts what the
provider says (plan consistency, state round-trips) and that ARM ends up holding the body.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import msgpack
import pytest
import requests
from tf.types import Map, String, Unknown
from tf.utils import _msgpack_default, _msgpack_ext_hook

from tenant_replicator.terraform.events import summarise_apply
from tenant_replicator.tfprovider.dynamic import (
    Dynamic,
    decode_dynamic,
    encode_dynamic,
    state_json_to_wire,
)
from tenant_replicator.tfprovider.ids import InvalidResourceAddress, build_resource_id, id_type, parse_type
from tenant_replicator.tfprovider.install import write_cli_config
from tenant_replicator.tfprovider.provider import export_output, project, refreshed_state, request_body
from tenant_replicator.tfprovider.servicer import replacement_reasons, upgrade_state


class ArmEndpoint(Protocol):
    """What the ``simulator`` and ``fake_arm`` fixtures (conftest.py) yield."""

    endpoint: str
    ca_file: str
    fake: Any


SOURCE_SUB = "3f2b8c1e-5d4a-4e7b-9c21-6a8f0d2e4b17"  # seeded by the simulator
TARGET_SUB = "c7e91a04-2b6f-4d38-a5e2-91f4b7c0d863"
RG_TYPE = "Microsoft.Resources/resourceGroups@2021-04-01"
VNET_TYPE = "Microsoft.Network/virtualNetworks@2023-09-01"
NSG_TYPE = "Microsoft.Network/networkSecurityGroups@2023-09-01"
STORAGE_TYPE = "Microsoft.Storage/storageAccounts@2023-01-01"
LOCATION = "westeurope"


# ---------------------------------------------------------------- pure helpers


def _wire_roundtrip(value: Any) -> Any:
    """Through msgpack bytes, as terraform would see them."""
    packed = msgpack.packb(value, default=_msgpack_default)
    return msgpack.unpackb(packed, ext_hook=_msgpack_ext_hook)


def test_dynamic_encodes_cty_pair_and_back() -> None:
    value = {"properties": {"n": 3, "f": 1.5, "on": True, "s": "x", "list": ["a", {"k": None}], "none": None}}
    wire = encode_dynamic(value)
    type_json = json.loads(wire[0])
    assert type_json == [
        "object",
        {
            "properties": [
                "object",
                {
                    "f": "number",
                    "list": ["tuple", ["string", ["object", {"k": "dynamic"}]]],
                    "n": "number",
                    "none": "dynamic",
                    "on": "bool",
                    "s": "string",
                },
            ]
        },
    ]
    assert isinstance(wire[0], bytes)
    assert decode_dynamic(_wire_roundtrip(wire)) == value
    assert Dynamic().tf_type() == b'"dynamic"'
    assert encode_dynamic(None) is None and decode_dynamic(None) is None
    assert encode_dynamic(Unknown) is Unknown


def test_dynamic_keeps_nested_unknowns_and_distinguishes_bool_from_number() -> None:
    value = {"properties": {"id": Unknown, "count": 1}}
    assert decode_dynamic(_wire_roundtrip(encode_dynamic(value)))["properties"]["id"] is Unknown
    dyn = Dynamic()
    assert not dyn.semantically_equal({"a": True}, {"a": 1})
    assert dyn.semantically_equal({"a": [1, "x"]}, {"a": [1.0, "x"]})
    with pytest.raises(ValueError):
        decode_dynamic({"not": "a pair"})


def test_json_state_form_becomes_the_wire_pair() -> None:
    """terraform stores dynamic values as {"value", "type"}; nested dynamic slots are wrapped too."""
    state_form = {
        "value": {"a": {"value": "x", "type": "string"}, "b": None, "c": [1, 2]},
        "type": ["object", {"a": "dynamic", "b": "dynamic", "c": ["list", "number"]}],
    }
    wire = state_json_to_wire(state_form)
    assert json.loads(wire[0]) == state_form["type"]
    assert wire[1] == {"a": [b'"string"', "x"], "b": None, "c": [1, 2]}
    assert decode_dynamic(_wire_roundtrip(wire)) == {"a": "x", "b": None, "c": [1, 2]}
    kinds = {"body": Dynamic(), "name": String(), "output": Dynamic(), "tags": Map(String())}
    upgraded = upgrade_state({"body": state_form, "name": "n", "output": None, "gone": 1}, kinds)
    assert upgraded == {"body": wire, "name": "n", "output": None, "tags": None}  # schema-shaped


@pytest.mark.parametrize(
    ("rtype", "name", "parent", "expected"),
    [
        (
            "Microsoft.Resources/resourceGroups",
            "rg1",
            "/subscriptions/s",
            "/subscriptions/s/resourceGroups/rg1",
        ),
        (
            "Microsoft.Network/virtualNetworks",
            "v",
            "/subscriptions/s/resourceGroups/rg",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v",
        ),
        (
            "Microsoft.Network/virtualNetworks/subnets",
            "sn",
            "/subscriptions/s/resourceGroups/rg/providers/microsoft.network/VIRTUALNETWORKS/v",
            "/subscriptions/s/resourceGroups/rg/providers/microsoft.network/VIRTUALNETWORKS/v/subnets/sn",
        ),
        (
            "Microsoft.Authorization/roleAssignments",
            "ra",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st"
            "/providers/Microsoft.Authorization/roleAssignments/ra",
        ),
        (
            "Microsoft.Authorization/policyAssignments",
            "pa",
            "/subscriptions/s",
            "/subscriptions/s/providers/Microsoft.Authorization/policyAssignments/pa",
        ),
        (
            "Microsoft.Management/managementGroups",
            "mg",
            "/",
            "/providers/Microsoft.Management/managementGroups/mg",
        ),
    ],
)
def test_build_resource_id_like_azapi(rtype: str, name: str, parent: str, expected: str) -> None:
    assert build_resource_id(rtype, name, parent) == expected


def test_build_resource_id_rejects_wrong_parents() -> None:
    with pytest.raises(InvalidResourceAddress):
        build_resource_id("Microsoft.Resources/resourceGroups", "rg", "/subscriptions/s/resourceGroups/x")
    with pytest.raises(InvalidResourceAddress):
        build_resource_id("Microsoft.Network/virtualNetworks/subnets", "sn", "/subscriptions/s/resourceGroups/rg")
    with pytest.raises(InvalidResourceAddress):
        parse_type("Microsoft.Network/virtualNetworks")
    assert parse_type("microsoft.network/virtualNetworks@2024-07-01-preview") == (
        "microsoft.network/virtualNetworks",
        "2024-07-01-preview",
    )
    assert id_type("/subscriptions/s/resourceGroups/rg/providers/A.B/x/1/y/2") == "A.B/x/y"


def test_project_keeps_configured_shape_and_reports_real_drift() -> None:
    configured = {
        "properties": {
            "secret": "p",
            "ref": {"id": "/SUBSCRIPTIONS/X/a"},
            "subnets": [{"name": "b", "p": 1}, {"name": "a", "p": 2}],
        }
    }
    server = {
        "id": "i",
        "properties": {
            "ref": {"id": "/subscriptions/x/A"},
            "provisioningState": "Succeeded",
            "subnets": [{"name": "a", "p": 2, "id": "x"}, {"name": "b", "p": 1}],
        },
    }
    assert project(configured, server) == configured  # write-only kept, casing kept, order by name
    server["properties"]["subnets"][0]["p"] = 9
    assert project(configured, server)["properties"]["subnets"][1]["p"] == 9
    state = {"body": configured, "tags": None, "location": "West Europe", "response_export_values": None}
    fresh = refreshed_state(state, {**server, "tags": {"a": "b"}, "location": "westeurope"})
    assert fresh["tags"] == {"a": "b"} and fresh["location"] == "West Europe" and fresh["output"]["id"] == "i"
    assert request_body({"properties": {}}, "westeurope", {"t": "v"}) == {
        "properties": {},
        "location": "westeurope",
        "tags": {"t": "v"},
    }
    assert request_body(None, Unknown, None) == {}
    assert export_output(server, ["properties.ref.id"]) == {"properties": {"ref": {"id": "/subscriptions/x/A"}}}
    assert export_output(server, {"rid": "properties.ref.id"}) == {"rid": "/subscriptions/x/A"}


def test_write_cli_config_is_idempotent(tmp_path: Any) -> None:
    rc = write_cli_config(tmp_path / "cli", python="/opt/py thon/bin/python")
    wrapper = tmp_path / "cli" / "bin" / "terraform-provider-azapi"
    first = (rc.read_text(), wrapper.read_text())
    assert write_cli_config(tmp_path / "cli", python="/opt/py thon/bin/python") == rc
    assert (rc.read_text(), wrapper.read_text()) == first
    assert wrapper.stat().st_mode & stat.S_IXUSR
    assert "exec '/opt/py thon/bin/python' -m tenant_replicator.tfprovider \"$@\"" in first[1]
    assert '"azure/azapi" = ' + json.dumps(str(wrapper.parent)) in first[0] and "direct {}" in first[0]


# ---------------------------------------------------------------- terraform helpers


@dataclass
class TfRun:
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.startswith("{")]


@dataclass
class TfWorkspace:
    workdir: Path
    env: dict[str, str] = field(repr=False)

    def write(self, config: dict) -> None:
        (self.workdir / "main.tf.json").write_text(json.dumps(config, indent=2))

    def run(self, *args: str, timeout: float = 300) -> TfRun:
        """terraform in its own process group; the whole group dies if it overruns."""
        start = time.monotonic()
        proc = subprocess.Popen(
            ["terraform", *args],
            cwd=self.workdir,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            pytest.fail(f"terraform {' '.join(args)} timed out after {timeout}s:\n{out}\n{err}")
        return TfRun(proc.returncode, out, err, time.monotonic() - start)

    def state(self) -> dict:
        return json.loads((self.workdir / "terraform.tfstate").read_text())


def make_workspace(tmp_path: Path, arm: ArmEndpoint) -> TfWorkspace:
    rc = write_cli_config(tmp_path / "tfcli", python=sys.executable)
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "TENANT_REPLICATOR_"))}
    env.update(
        TF_CLI_CONFIG_FILE=str(rc),
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
        CHECKPOINT_DISABLE="1",
        TENANT_REPLICATOR_ARM_ENDPOINT=arm.endpoint,
        TENANT_REPLICATOR_ARM_CA_FILE=arm.ca_file,
    )
    return TfWorkspace(workdir, env)


def _config(resources: dict[str, dict], provider: dict | None = None) -> dict:
    return {
        "terraform": {"required_providers": {"azapi": {"source": "azure/azapi"}}},
        "provider": {"azapi": provider or {}},
        "resource": {"azapi_resource": resources},
    }


def _stack(rg: str, storage: str, tags: dict[str, str] | None = None) -> dict[str, dict]:
    """RG + NSG + VNet (inline subnet using the NSG) + storage account whose body references the NSG."""
    rg_id = f"/subscriptions/{TARGET_SUB}/resourceGroups/{rg}"
    return {
        "rg": {
            "type": RG_TYPE,
            "name": rg,
            "parent_id": f"/subscriptions/{TARGET_SUB}",
            "location": LOCATION,
        },
        "nsg": {
            "type": NSG_TYPE,
            "name": "nsg-app",
            "parent_id": "${azapi_resource.rg.id}",
            "location": LOCATION,
            "tags": tags or {"env": "test"},
            "body": {
                "properties": {
                    "securityRules": [
                        {
                            "name": "allow-https",
                            "properties": {
                                "priority": 100,
                                "direction": "Inbound",
                                "access": "Allow",
                                "protocol": "Tcp",
                                "sourcePortRange": "*",
                                "destinationPortRange": "443",
                                "sourceAddressPrefix": "*",
                                "destinationAddressPrefix": "*",
                            },
                        }
                    ]
                }
            },
        },
        "vnet": {
            "type": VNET_TYPE,
            "name": "vnet-app",
            "parent_id": "${azapi_resource.rg.id}",
            "location": LOCATION,
            "body": {
                "properties": {
                    "addressSpace": {"addressPrefixes": ["10.10.0.0/16"]},
                    "subnets": [
                        {
                            "name": "default",
                            "properties": {
                                "addressPrefix": "10.10.1.0/24",
                                "networkSecurityGroup": {"id": "${azapi_resource.nsg.id}"},
                            },
                        }
                    ],
                }
            },
        },
        "storage": {
            "type": STORAGE_TYPE,
            "name": storage,
            "parent_id": rg_id,
            "location": LOCATION,
            "depends_on": ["azapi_resource.rg"],
            "body": {
                "kind": "StorageV2",
                "sku": {"name": "Standard_LRS"},
                "properties": {
                    "minimumTlsVersion": "TLS1_2",
                    "allowBlobPublicAccess": False,
                    "networkAcls": {
                        "defaultAction": "Deny",
                        "bypass": "AzureServices",
                        "resourceAccessRules": [
                            {
                                "tenantId": "00000000-0000-0000-0000-000000000000",
                                "resourceId": "${azapi_resource.nsg.id}",
                            }
                        ],
                    },
                },
            },
        },
    }


def _arm_get(arm: ArmEndpoint, resource_id: str, api_version: str) -> requests.Response:
    return requests.get(
        f"{arm.endpoint}{resource_id}",
        params={"api-version": api_version},
        headers={"Authorization": "Bearer test"},
        verify=arm.ca_file,
        timeout=30,
    )


def _ok(run: TfRun, what: str) -> TfRun:
    assert run.returncode == 0, f"terraform {what} failed ({run.returncode}):\n{run.stdout[-6000:]}\n{run.stderr}"
    return run


def _planned_actions(run: TfRun) -> dict[str, str]:
    return {
        e["change"]["resource"]["addr"]: e["change"]["action"]
        for e in run.events()
        if e.get("type") == "planned_change"
    }


def _ids(ws: TfWorkspace) -> dict[str, str]:
    return {r["name"]: r["instances"][0]["attributes"]["id"] for r in ws.state()["resources"]}


# ---------------------------------------------------------------- against the simulator


def test_lifecycle_against_simulator(simulator: ArmEndpoint, terraform_binary: str, tmp_path: Any) -> None:
    ws = make_workspace(tmp_path, simulator)
    suffix = os.urandom(3).hex()
    ws.write(_config(_stack(f"rg-life-{suffix}", f"stlife{suffix}")))

    validate = _ok(ws.run("validate", "-json"), "validate")
    assert json.loads(validate.stdout)["valid"] is True

    plan = _ok(ws.run("plan", "-input=false", "-json", "-out=tfplan"), "plan")
    assert _planned_actions(plan) == {f"azapi_resource.{n}": "create" for n in ("rg", "nsg", "vnet", "storage")}

    apply = _ok(ws.run("apply", "-auto-approve", "-json", "tfplan"), "apply")
    summary = summarise_apply(apply.stdout.splitlines())
    assert sorted(summary["applied"]) == sorted(_planned_actions(plan)) and not summary["failed"]

    # ARM holds what was configured, references resolved to real IDs.
    ids = _ids(ws)
    nsg = _arm_get(simulator, ids["nsg"], "2023-09-01").json()
    assert nsg["properties"]["securityRules"][0]["properties"]["destinationPortRange"] == "443"
    assert nsg["tags"] == {"env": "test"}
    vnet = _arm_get(simulator, ids["vnet"], "2023-09-01").json()
    subnet = vnet["properties"]["subnets"][0]
    assert subnet["name"] == "default"
    assert subnet["properties"]["networkSecurityGroup"]["id"].lower() == ids["nsg"].lower()
    storage = _arm_get(simulator, ids["storage"], "2023-01-01").json()
    assert storage["kind"] == "StorageV2" and storage["sku"]["name"] == "Standard_LRS"
    rule = storage["properties"]["networkAcls"]["resourceAccessRules"][0]
    assert rule["resourceId"].lower() == ids["nsg"].lower()
    # read-only server fields land in `output`, not in `body`
    attrs = {r["name"]: r["instances"][0]["attributes"] for r in ws.state()["resources"]}
    assert "primaryEndpoints" in attrs["storage"]["output"]["value"]["properties"]
    assert "primaryEndpoints" not in attrs["storage"]["body"]["value"]["properties"]

    # Converged: a re-plan has nothing to do.
    assert ws.run("plan", "-detailed-exitcode", "-input=false").returncode == 0

    # A tag change is an in-place update, and reaches ARM.
    ws.write(_config(_stack(f"rg-life-{suffix}", f"stlife{suffix}", tags={"env": "prod"})))
    plan = ws.run("plan", "-detailed-exitcode", "-input=false", "-json", "-out=tfplan")
    assert plan.returncode == 2 and _planned_actions(plan) == {"azapi_resource.nsg": "update"}
    _ok(ws.run("apply", "-auto-approve", "-json", "tfplan"), "apply tag change")
    assert _arm_get(simulator, ids["nsg"], "2023-09-01").json()["tags"] == {"env": "prod"}
    assert ws.run("plan", "-detailed-exitcode", "-input=false").returncode == 0

    # Deleted behind terraform's back: the next plan re-creates it, and apply converges again.
    gone = requests.delete(
        f"{simulator.endpoint}{ids['storage']}",
        params={"api-version": "2023-01-01"},
        headers={"Authorization": "Bearer test"},
        verify=simulator.ca_file,
        timeout=30,
    )
    assert gone.status_code in (200, 202, 204)
    plan = ws.run("plan", "-detailed-exitcode", "-input=false", "-json", "-out=tfplan")
    assert plan.returncode == 2 and _planned_actions(plan) == {"azapi_resource.storage": "create"}
    _ok(ws.run("apply", "-auto-approve", "-json", "tfplan"), "apply re-create")
    assert _arm_get(simulator, ids["storage"], "2023-01-01").status_code == 200
    assert ws.run("plan", "-detailed-exitcode", "-input=false").returncode == 0

    # Destroy removes everything from ARM.
    _ok(ws.run("destroy", "-auto-approve", "-json"), "destroy")
    for resource_id, version in (
        (ids["storage"], "2023-01-01"),
        (ids["vnet"], "2023-09-01"),
        (ids["rg"], "2021-04-01"),
    ):
        assert _arm_get(simulator, resource_id, version).status_code == 404


def test_failed_apply_reports_arm_error_codes(simulator: ArmEndpoint, terraform_binary: str, tmp_path: Any) -> None:
    ws = make_workspace(tmp_path, simulator)
    missing_rg = f"/subscriptions/{TARGET_SUB}/resourceGroups/rg-missing-{os.urandom(3).hex()}"
    rg = f"rg-badver-{os.urandom(3).hex()}"
    ws.write(
        _config(
            {
                "orphan": {
                    "type": NSG_TYPE,
                    "name": "nsg-orphan",
                    "parent_id": missing_rg,
                    "location": LOCATION,
                },
                "rg": {
                    "type": RG_TYPE,
                    "name": rg,
                    "parent_id": f"/subscriptions/{TARGET_SUB}",
                    "location": LOCATION,
                },
                "badver": {
                    "type": "Microsoft.Network/networkSecurityGroups@1999-01-01",
                    "name": "nsg-badver",
                    "parent_id": "${azapi_resource.rg.id}",
                    "location": LOCATION,
                },
            }
        )
    )
    apply = ws.run("apply", "-auto-approve", "-json", "-input=false")
    assert apply.returncode == 1
    errored = {e["hook"]["resource"]["addr"] for e in apply.events() if e.get("type") == "apply_errored"}
    assert errored == {"azapi_resource.orphan", "azapi_resource.badver"}
    diags = {
        e["diagnostic"].get("address"): e["diagnostic"]
        for e in apply.events()
        if e.get("type") == "diagnostic" and e["diagnostic"]["severity"] == "error"
    }
    orphan = diags["azapi_resource.orphan"]
    assert orphan["summary"].startswith(f"ARM PUT {missing_rg}/providers/Microsoft.Network/")
    assert "404 ResourceGroupNotFound" in orphan["summary"]
    # like azapi, the create first checks for an existing resource: ARM rejects that GET already
    assert "failed: 400 NoRegisteredProviderFound" in diags["azapi_resource.badver"]["summary"]
    summary = summarise_apply(apply.stdout.splitlines())
    codes = {f["address"]: f["arm_code"] for f in summary["failed"]}
    assert codes["azapi_resource.orphan"] == "ResourceGroupNotFound"
    assert codes["azapi_resource.badver"] == "NoRegisteredProviderFound"
    assert summary["applied"] == ["azapi_resource.rg"]
    # Nothing half-made lands in state: a re-plan proposes to create the failed ones again.
    plan = ws.run("plan", "-detailed-exitcode", "-input=false", "-json")
    assert plan.returncode == 2 and set(_planned_actions(plan)) == errored
    _ok(ws.run("destroy", "-auto-approve", "-json"), "destroy")


def test_validate_rejects_malformed_type(simulator: ArmEndpoint, terraform_binary: str, tmp_path: Any) -> None:
    ws = make_workspace(tmp_path, simulator)
    ws.write(
        _config(
            {
                "x": {
                    "type": "Microsoft.Network/networkSecurityGroups",
                    "name": "n",
                    "parent_id": f"/subscriptions/{SOURCE_SUB}/resourceGroups/rg",
                }
            },
            provider={"subscription_id": TARGET_SUB, "environment": "public"},
        )
    )
    run = ws.run("validate", "-json")
    result = json.loads(run.stdout)
    assert run.returncode == 1 and result["valid"] is False
    assert any(d["summary"] == "Invalid `type`" for d in result["diagnostics"])


def test_apply_fifty_resources_timing(simulator: ArmEndpoint, terraform_binary: str, tmp_path: Any) -> None:
    """~50 resources (1 RG + 49 NSGs) in one apply; prints the wall time for the report."""
    ws = make_workspace(tmp_path, simulator)
    rg = f"rg-bulk-{os.urandom(3).hex()}"
    resources: dict[str, dict] = {
        "rg": {"type": RG_TYPE, "name": rg, "parent_id": f"/subscriptions/{TARGET_SUB}", "location": LOCATION}
    }
    for i in range(49):
        resources[f"nsg{i:02d}"] = {
            "type": NSG_TYPE,
            "name": f"nsg-{i:02d}",
            "parent_id": "${azapi_resource.rg.id}",
            "location": LOCATION,
            "tags": {"i": str(i)},
            "body": {"properties": {}},
        }
    ws.write(_config(resources))
    start = time.monotonic()
    apply = _ok(ws.run("apply", "-auto-approve", "-json", "-input=false"), "apply 50")
    seconds = time.monotonic() - start
    assert len(summarise_apply(apply.stdout.splitlines())["applied"]) == 50
    listed = requests.get(
        f"{simulator.endpoint}/subscriptions/{TARGET_SUB}/resourceGroups/{rg}/resources",
        params={"api-version": "2021-04-01"},
        headers={"Authorization": "Bearer test"},
        verify=simulator.ca_file,
        timeout=30,
    ).json()
    assert len(listed["value"]) == 49
    replan = ws.run("plan", "-detailed-exitcode", "-input=false")
    print(f"\n[timing] terraform apply of 50 azapi_resources: {seconds:.2f}s; re-plan {replan.seconds:.2f}s")
    assert replan.returncode == 0
    assert seconds < 120
    _ok(ws.run("destroy", "-auto-approve", "-json"), "destroy")


# ---------------------------------------------------------------- steerable fake: LRO and throttling


def test_long_running_operations_and_throttling(fake_arm: ArmEndpoint, terraform_binary: str, tmp_path: Any) -> None:
    assert fake_arm.fake is not None
    fake = fake_arm.fake
    fake.async_puts = True
    fake.throttle = 2
    ws = make_workspace(tmp_path, fake_arm)
    ws.write(
        _config(
            {
                "rg": {
                    "type": RG_TYPE,
                    "name": "rg-lro",
                    "parent_id": f"/subscriptions/{TARGET_SUB}",
                    "location": LOCATION,
                },
                "nsg": {
                    "type": NSG_TYPE,
                    "name": "nsg",
                    "parent_id": "${azapi_resource.rg.id}",
                    "location": LOCATION,
                    "body": {"properties": {"securityRules": []}},
                },
            }
        )
    )
    _ok(ws.run("apply", "-auto-approve", "-json", "-input=false"), "apply")
    polls = [path for method, path in fake.requests if path.startswith("/_ops/")]
    assert len(polls) >= 6  # two operations, each InProgress twice before Succeeded
    assert fake.throttle == 0  # the 429s were consumed and retried through
    rg_id = f"/subscriptions/{TARGET_SUB}/resourceGroups/rg-lro"
    nsg_id = f"{rg_id}/providers/Microsoft.Network/networkSecurityGroups/nsg"
    assert nsg_id.lower() in fake.resources
    assert ws.run("plan", "-detailed-exitcode", "-input=false").returncode == 0


# ---------------------------------------------------------------- azapi v2 plan semantics


def test_replacement_reasons_follow_azapi() -> None:
    prior = {"type": "Microsoft.Network/virtualNetworks@2023-09-01", "location": "West Europe"}
    assert replacement_reasons(prior, {**prior, "type": "microsoft.network/virtualnetworks@2024-05-01"}) == []
    assert replacement_reasons(prior, {**prior, "location": "westeurope"}) == []
    assert replacement_reasons(prior, {**prior, "location": "northeurope"}) == ["location"]
    assert replacement_reasons(prior, {**prior, "type": "Microsoft.Network/routeTables@2023-09-01"}) == ["type"]
    assert replacement_reasons(None, prior) == []


def _nsg(rg_id: str, name: str, type_: str = NSG_TYPE, location: str = LOCATION) -> dict:
    return {"type": type_, "name": name, "parent_id": rg_id, "location": location, "body": {"properties": {}}}


def test_api_version_bump_updates_in_place_and_location_change_replaces(
    simulator: ArmEndpoint, terraform_binary: str, tmp_path: Any
) -> None:
    ws = make_workspace(tmp_path, simulator)
    rg = f"rg-sem-{os.urandom(3).hex()}"
    rg_id = f"/subscriptions/{TARGET_SUB}/resourceGroups/{rg}"
    group = {"type": RG_TYPE, "name": rg, "parent_id": f"/subscriptions/{TARGET_SUB}", "location": LOCATION}
    ws.write(_config({"rg": group, "nsg": {**_nsg(rg_id, "nsg-sem"), "depends_on": ["azapi_resource.rg"]}}))
    _ok(ws.run("apply", "-auto-approve", "-json", "-input=false"), "apply")

    # Same region spelled the display way: no diff at all.
    ws.write(_config({"rg": group, "nsg": {**_nsg(rg_id, "nsg-sem", location="West Europe")}}))
    assert ws.run("plan", "-detailed-exitcode", "-input=false").returncode == 0

    # A newer api-version is an in-place update (PUT with the new version), never a replacement.
    bumped = _nsg(rg_id, "nsg-sem", type_="Microsoft.Network/networkSecurityGroups@2024-05-01")
    ws.write(_config({"rg": group, "nsg": bumped}))
    plan = ws.run("plan", "-detailed-exitcode", "-input=false", "-json", "-out=tfplan")
    assert plan.returncode == 2 and _planned_actions(plan) == {"azapi_resource.nsg": "update"}
    _ok(ws.run("apply", "-auto-approve", "-json", "tfplan"), "apply api-version bump")
    assert ws.run("plan", "-detailed-exitcode", "-input=false").returncode == 0

    # Another region is a new resource, as in azapi.
    moved = {**bumped, "location": "northeurope"}
    ws.write(_config({"rg": group, "nsg": moved}))
    plan = ws.run("plan", "-detailed-exitcode", "-input=false", "-json")
    assert plan.returncode == 2 and _planned_actions(plan) == {"azapi_resource.nsg": "replace"}
    _ok(ws.run("destroy", "-auto-approve", "-json"), "destroy")


def test_existing_resource_must_be_imported(simulator: ArmEndpoint, terraform_binary: str, tmp_path: Any) -> None:
    """Like azapi: create refuses to adopt an existing resource; an ``import`` block adopts it."""
    ws = make_workspace(tmp_path, simulator)
    rg = f"rg-imp-{os.urandom(3).hex()}"
    rg_id = f"/subscriptions/{TARGET_SUB}/resourceGroups/{rg}"
    nsg_id = f"{rg_id}/providers/Microsoft.Network/networkSecurityGroups/nsg-existing"
    headers = {"Authorization": "Bearer test"}
    for path, version, body in (
        (rg_id, "2021-04-01", {"location": LOCATION}),
        (nsg_id, "2023-09-01", {"location": LOCATION, "tags": {"made": "by-hand"}}),
    ):
        made = requests.put(
            f"{simulator.endpoint}{path}",
            params={"api-version": version},
            json=body,
            headers=headers,
            verify=simulator.ca_file,
            timeout=30,
        )
        assert made.status_code in (200, 201), made.text
    wanted = {**_nsg(rg_id, "nsg-existing"), "tags": {"made": "by-terraform"}}
    ws.write(_config({"nsg": wanted}))
    apply = ws.run("apply", "-auto-approve", "-json", "-input=false")
    assert apply.returncode == 1
    errors = [
        e["diagnostic"]
        for e in apply.events()
        if e.get("type") == "diagnostic" and e["diagnostic"]["severity"] == "error"
    ]
    assert [d["summary"] for d in errors] == ["Resource already exists"]
    assert nsg_id in errors[0]["detail"] and "imported" in errors[0]["detail"]
    assert _arm_get(simulator, nsg_id, "2023-09-01").json()["tags"] == {"made": "by-hand"}  # untouched

    config = _config({"nsg": wanted})
    # no ?api-version=: the newest stable one ARM lists for the type is used, as azapi does
    config["import"] = [{"to": "azapi_resource.nsg", "id": nsg_id}]
    ws.write(config)
    plan = ws.run("plan", "-input=false", "-json", "-out=tfplan")
    _ok(plan, "plan with import")
    assert _planned_actions(plan) == {"azapi_resource.nsg": "update"}
    _ok(ws.run("apply", "-auto-approve", "-json", "tfplan"), "apply import")
    assert _arm_get(simulator, nsg_id, "2023-09-01").json()["tags"] == {"made": "by-terraform"}
    ws.write(_config({"nsg": wanted}))
    assert ws.run("plan", "-detailed-exitcode", "-input=false").returncode == 0
    assert _ids(ws)["nsg"] == nsg_id


def test_validate_requires_parent_id_except_for_resource_groups(
    simulator: ArmEndpoint, terraform_binary: str, tmp_path: Any
) -> None:
    ws = make_workspace(tmp_path, simulator)
    ws.write(
        _config(
            {
                "rg": {"type": RG_TYPE, "name": "rg-no-parent", "location": LOCATION},
                "nsg": {"type": NSG_TYPE, "name": "nsg-no-parent", "location": LOCATION},
            },
            provider={"subscription_id": TARGET_SUB},
        )
    )
    result = json.loads(ws.run("validate", "-json").stdout)
    errors = [(d.get("address"), d["summary"]) for d in result["diagnostics"] if d["severity"] == "error"]
    assert errors == [("azapi_resource.nsg", "Missing required argument")]
