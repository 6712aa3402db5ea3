"""Long-running operations through the real SDK pollers (ARMPolling) and a real terraform apply."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.resource.resources.models import GenericResource, ResourceGroup

from tenant_replicator.sim.seed import TARGET_SUBSCRIPTION_ID as TGT

VM_API, STORAGE_API = "2024-07-01", "2023-05-01"
AUTH = {"Authorization": "Bearer sim"}


def _vm_id(name: str, rg: str = "rg-lro") -> str:
    return f"/subscriptions/{TGT}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{name}"


def _vm_body() -> GenericResource:
    return GenericResource(location="northeurope", properties={"hardwareProfile": {"vmSize": "Standard_B1s"}})


@pytest.fixture
def lro_sim(sim):
    sim.client(TGT).resource_groups.create_or_update("rg-lro", ResourceGroup(location="northeurope"))
    sim.hook("POST", "lro", {"seconds": 0.6})
    yield sim
    sim.hook("POST", "lro", {"seconds": 0.3})


def test_put_answers_201_with_operation_headers_and_moves_through_states(lro_sim) -> None:
    url = f"{lro_sim.endpoint}{_vm_id('vm-raw')}?api-version={VM_API}"
    body = {"location": "northeurope", "properties": {"hardwareProfile": {"vmSize": "Standard_B1s"}}}
    started = time.monotonic()
    first = requests.put(url, json=body, headers=AUTH, verify=lro_sim.ca_file, timeout=10)
    assert first.status_code == 201
    assert first.json()["properties"]["provisioningState"] == "Accepted"
    status_url, location = first.headers["Azure-AsyncOperation"], first.headers["Location"]
    assert "/operationStatuses/" in status_url and "/operationResults/" in location
    assert float(first.headers["Retry-After"]) > 0
    seen_states, seen_status = [], []
    while time.monotonic() - started < 5:
        seen_states.append(
            requests.get(url, headers=AUTH, verify=lro_sim.ca_file, timeout=10).json()["properties"][
                "provisioningState"
            ]
        )
        doc = requests.get(status_url, headers=AUTH, verify=lro_sim.ca_file, timeout=10).json()
        seen_status.append(doc["status"])
        if doc["status"] != "InProgress":
            break
        time.sleep(0.05)
    assert seen_status[-1] == "Succeeded" and "InProgress" in seen_status
    # read after the operation said Succeeded (the loop's last resource read may precede that by a moment)
    final = requests.get(url, headers=AUTH, verify=lro_sim.ca_file, timeout=10).json()["properties"]
    assert "Creating" in seen_states and final["provisioningState"] == "Succeeded"
    assert time.monotonic() - started >= 0.5  # it really took the configured time
    # The status URL needs a token like every ARM call.
    assert requests.get(status_url, verify=lro_sim.ca_file, timeout=10).status_code == 401


def test_sdk_pollers_create_update_and_delete(lro_sim) -> None:
    client = lro_sim.client(TGT)
    vm_id = _vm_id("vm-sdk")
    poller = client.resources.begin_create_or_update_by_id(vm_id, _vm_body(), api_version=VM_API)
    assert not poller.done()
    vm = poller.result(timeout=10)
    assert vm.id == vm_id and vm.properties["provisioningState"] == "Succeeded"
    updated = client.resources.begin_create_or_update_by_id(
        vm_id, GenericResource(location="northeurope", tags={"t": "1"}, properties={}), api_version=VM_API
    ).result(timeout=10)
    assert updated.tags == {"t": "1"} and updated.properties["provisioningState"] == "Succeeded"
    deleting = client.resources.begin_delete_by_id(vm_id, api_version=VM_API)
    assert client.resources.get_by_id(vm_id, api_version=VM_API).properties["provisioningState"] in (
        "Accepted",
        "Deleting",
    )
    deleting.result(timeout=10)
    with pytest.raises(ResourceNotFoundError):
        client.resources.get_by_id(vm_id, api_version=VM_API)


def test_storage_create_is_202_with_location_polling(lro_sim) -> None:
    client = lro_sim.client(TGT)
    sa_id = f"/subscriptions/{TGT}/resourceGroups/rg-lro/providers/Microsoft.Storage/storageAccounts/stlrotest01"
    url = f"{lro_sim.endpoint}{sa_id}?api-version={STORAGE_API}"
    body = {"location": "northeurope", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}}
    raw = requests.put(url, json=body, headers=AUTH, verify=lro_sim.ca_file, timeout=10)
    assert raw.status_code == 202 and "Location" in raw.headers and "Azure-AsyncOperation" not in raw.headers
    pending = requests.get(raw.headers["Location"], headers=AUTH, verify=lro_sim.ca_file, timeout=10)
    assert pending.status_code == 202
    account = client.resources.begin_create_or_update_by_id(
        sa_id, GenericResource(**body), api_version=STORAGE_API
    ).result(timeout=10)
    assert account.properties["provisioningState"] == "Succeeded"
    assert account.properties["primaryEndpoints"]["blob"] == "https://stlrotest01.blob.core.windows.net/"


def test_injected_async_failure_ends_failed(lro_sim) -> None:
    client = lro_sim.client(TGT)
    vm_id = _vm_id("vm-doomed")
    error = {"code": "AllocationFailed", "message": "Allocation failed. Please try another size."}
    lro_sim.hook("POST", "faults", {"faults": [{"method": "PUT", "path_contains": "vm-doomed", "async_error": error}]})
    with pytest.raises(HttpResponseError) as failed:
        client.resources.begin_create_or_update_by_id(vm_id, _vm_body(), api_version=VM_API).result(timeout=10)
    assert failed.value.error.code == "AllocationFailed"
    # Like ARM: the resource exists, in state Failed; a retried PUT (fault consumed) succeeds.
    assert client.resources.get_by_id(vm_id, api_version=VM_API).properties["provisioningState"] == "Failed"
    retried = client.resources.begin_create_or_update_by_id(vm_id, _vm_body(), api_version=VM_API)
    assert retried.result(timeout=10).properties["provisioningState"] == "Succeeded"


def test_synchronous_when_lro_seconds_is_zero(sim) -> None:
    sim.hook("POST", "lro", {"seconds": 0})
    try:
        url = (
            f"{sim.endpoint}/subscriptions/{TGT}/resourceGroups/rg-legacy/providers/Microsoft.Compute/"
            f"virtualMachines/vm-sync?api-version={VM_API}"
        )
        put = requests.put(url, json={"location": "northeurope"}, headers=AUTH, verify=sim.ca_file, timeout=10)
        assert put.status_code == 201 and "Azure-AsyncOperation" not in put.headers
        assert put.json()["properties"]["provisioningState"] == "Succeeded"
    finally:
        sim.hook("POST", "lro", {"seconds": 0.3})


# --- terraform through the stand-in azapi provider -----------------------------------------------


@pytest.mark.slow
def test_terraform_apply_and_destroy_long_running_vm_and_storage(sim, tmp_path: Path) -> None:
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not on PATH")
    from tenant_replicator.tfprovider.install import write_cli_config

    sim.hook("POST", "lro", {"seconds": 0.5})
    rg_id = f"/subscriptions/{TGT}/resourceGroups/rg-tf-lro"
    config = {
        "terraform": {"required_providers": {"azapi": {"source": "azure/azapi"}}},
        "provider": {"azapi": {}},
        "resource": {
            "azapi_resource": {
                "rg": {
                    "type": "Microsoft.Resources/resourceGroups@2024-03-01",
                    "name": "rg-tf-lro",
                    "parent_id": f"/subscriptions/{TGT}",
                    "location": "northeurope",
                },
                "sa": {
                    "type": f"Microsoft.Storage/storageAccounts@{STORAGE_API}",
                    "name": "sttflro001",
                    "parent_id": "${azapi_resource.rg.id}",
                    "location": "northeurope",
                    "body": {"kind": "StorageV2", "sku": {"name": "Standard_LRS"}},
                },
                "vm": {
                    "type": f"Microsoft.Compute/virtualMachines@{VM_API}",
                    "name": "vm-tf-lro",
                    "parent_id": "${azapi_resource.rg.id}",
                    "location": "northeurope",
                    "body": {"properties": {"hardwareProfile": {"vmSize": "Standard_B1s"}}},
                },
            }
        },
    }
    work = tmp_path / "work"
    work.mkdir()
    (work / "main.tf.json").write_text(json.dumps(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "TENANT_REPLICATOR_"))}
    env.update(
        TF_CLI_CONFIG_FILE=str(write_cli_config(tmp_path / "tfcli", python=sys.executable)),
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
        CHECKPOINT_DISABLE="1",
        TENANT_REPLICATOR_ARM_ENDPOINT=sim.endpoint,
        TENANT_REPLICATOR_ARM_CA_FILE=sim.ca_file,
    )

    def terraform(*args: str) -> subprocess.CompletedProcess:
        proc = subprocess.Popen(
            ["terraform", *args, "-no-color"],
            cwd=work,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
        return subprocess.CompletedProcess(args, proc.returncode, out, err)

    try:
        apply = terraform("apply", "-auto-approve")
        assert apply.returncode == 0, apply.stderr + apply.stdout
        client = sim.client(TGT)
        vm = client.resources.get_by_id(
            f"{rg_id}/providers/Microsoft.Compute/virtualMachines/vm-tf-lro", api_version=VM_API
        )
        sa = client.resources.get_by_id(
            f"{rg_id}/providers/Microsoft.Storage/storageAccounts/sttflro001", api_version=STORAGE_API
        )
        assert vm.properties["provisioningState"] == sa.properties["provisioningState"] == "Succeeded"
        plan = terraform("plan", "-detailed-exitcode")
        assert plan.returncode == 0, plan.stdout  # re-plans clean after the async create
        destroy = terraform("destroy", "-auto-approve")
        assert destroy.returncode == 0, destroy.stderr + destroy.stdout
        assert not client.resource_groups.check_existence("rg-tf-lro")
    finally:
        sim.hook("POST", "lro", {"seconds": 0.3})


def test_settle_moves_states_and_a_newer_operation_supersedes() -> None:
    """Pure state transitions (no server): Accepted -> Creating -> Succeeded; re-PUT cancels the older op."""
    from tenant_replicator.sim import lro, model

    state = model.new_state()
    key = "/subscriptions/s/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm"
    state["resources"][key] = {"body": {"id": key, "properties": {"provisioningState": "Accepted"}}, "seq": 1}
    first = lro.start(state, key, key, "create", 3.0, now=100.0)
    assert lro.settle(state, 100.5) is False  # still Accepted in the first third
    assert lro.settle(state, 101.5) and state["resources"][key]["body"]["properties"]["provisioningState"] == "Creating"
    second = lro.start(state, key, key, "update", 3.0, now=102.0)
    assert state["operations"][first["id"]]["status"] == "Canceled"
    assert lro.settle(state, 105.0)
    assert state["operations"][second["id"]]["status"] == "Succeeded"
    assert state["resources"][key]["body"]["properties"]["provisioningState"] == "Succeeded"
    assert lro.status_document(state["operations"][second["id"]])["status"] == "Succeeded"
