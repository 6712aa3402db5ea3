"""The generator: every type emitted or reported, IDs rewritten, nothing of the source left behind."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tenant_replicator import devstack
from tenant_replicator.iac import registry
from tenant_replicator.iac.generate import GenerateResult, break_cycles, dump_config, generate, write_config
from tenant_replicator.iac.naming import fits_rule

SRC = "9b00bc5e-1f2a-4c3d-8e4f-5a6b7c8d9e0f"
TGT = "c190c55a-0a1b-4c2d-9e3f-4a5b6c7d8e9f"
EXT = "77777777-7777-4777-8777-777777777777"  # a subscription that is neither source nor target
TENANT = "0d5c3a71-8e2f-4b6a-9d14-7f3e2c1b5a90"
NONCE = "a1b2c3"
RG = f"/subscriptions/{SRC}/resourceGroups/rg-app"
NET = f"{RG}/providers/Microsoft.Network"
SYSTEM_DATA = {
    "createdBy": "alice@contoso.com",
    "createdAt": "2025-03-14T09:26:53Z",
    "lastModifiedByType": "User",
}


def _res(rid: str, rtype: str, location: str | None = "eastus", api: str | None = "2023-09-01", **extra: Any) -> dict:
    payload: dict[str, Any] = {
        "id": rid,
        "name": rid.rsplit("/", 1)[-1],
        "type": rtype,
        "location": location,
        "etag": 'W/"00000000-0000-0000-0000-000000000001"',
        "systemData": SYSTEM_DATA,
        "resourceGroup": rid.split("/")[4],
    }
    if api:
        payload["apiVersion"] = api
    payload.update(extra)
    return payload


def source_fixture() -> tuple[list[dict], list[dict]]:
    """Realistic ARM GET payloads (as the scanner returns them) of a small subscription."""
    vnet_id = f"{NET}/virtualNetworks/vnet-hub"
    nsg_id = f"{NET}/networkSecurityGroups/nsg-app"
    nic_id = f"{NET}/networkInterfaces/nic-vm1"
    pip_id = f"{NET}/publicIPAddresses/pip-vm1"
    vm_id = f"{RG}/providers/Microsoft.Compute/virtualMachines/vm1"
    osdisk_id = f"{RG}/providers/Microsoft.Compute/disks/vm1_OsDisk_1_abc"
    datadisk_id = f"{RG}/providers/Microsoft.Compute/disks/vm1-data-01"
    ws_id = f"{RG}/providers/Microsoft.OperationalInsights/workspaces/log-contoso"
    uai_id = f"{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-app"
    aks_rg = f"/subscriptions/{SRC}/resourceGroups/MC_rg-aks_aks1_eastus"
    aks_rt = f"{aks_rg}/providers/Microsoft.Network/routeTables/aks-rt"
    groups = [
        {
            "id": RG,
            "name": "rg-app",
            "location": "eastus",
            "tags": {"env": "prod", "sub": SRC},
            "properties": {"provisioningState": "Succeeded"},
        },
        {
            "id": f"/subscriptions/{SRC}/resourceGroups/NetworkWatcherRG",
            "name": "NetworkWatcherRG",
            "location": "eastus",
        },
        {
            "id": f"/subscriptions/{SRC}/resourceGroups/MC_rg-aks_aks1_eastus",
            "name": "MC_rg-aks_aks1_eastus",
            "location": "eastus",
            "managedBy": f"/subscriptions/{SRC}/resourceGroups/rg-aks/providers/x/y/z",
        },
    ]
    resources = [
        _res(
            vnet_id,
            "Microsoft.Network/virtualNetworks",
            properties={
                "provisioningState": "Succeeded",
                "resourceGuid": "5f0d3c1e-0000-4000-8000-000000000000",
                "addressSpace": {"addressPrefixes": ["10.10.0.0/16"]},
                "subnets": [
                    {
                        "id": f"{vnet_id}/subnets/snet-app",
                        "name": "snet-app",
                        "etag": 'W/"1"',
                        "type": "Microsoft.Network/virtualNetworks/subnets",
                        "properties": {
                            "provisioningState": "Succeeded",
                            "addressPrefix": "10.10.1.0/24",
                            "networkSecurityGroup": {"id": nsg_id},
                            "ipConfigurations": [{"id": f"{nic_id}/ipConfigurations/ipconfig1"}],
                            "privateEndpointNetworkPolicies": "Disabled",
                        },
                    },
                    {
                        "id": f"{vnet_id}/subnets/snet-aks",
                        "name": "snet-aks",
                        "etag": 'W/"2"',
                        "properties": {"addressPrefix": "10.10.2.0/24", "routeTable": {"id": aks_rt}},
                    },
                ],
                "virtualNetworkPeerings": [],
            },
        ),
        # the same subnet as a separate child resource, as some scanners list it
        _res(
            f"{vnet_id}/subnets/snet-app",
            "Microsoft.Network/virtualNetworks/subnets",
            location=None,
            properties={"addressPrefix": "10.10.1.0/24"},
        ),
        _res(
            nsg_id,
            "Microsoft.Network/networkSecurityGroups",
            properties={
                "provisioningState": "Succeeded",
                "securityRules": [
                    {
                        "id": f"{nsg_id}/securityRules/allow-https",
                        "name": "allow-https",
                        "etag": 'W/"3"',
                        "type": "Microsoft.Network/networkSecurityGroups/securityRules",
                        "properties": {
                            "provisioningState": "Succeeded",
                            "priority": 100,
                            "direction": "Inbound",
                            "access": "Allow",
                            "protocol": "Tcp",
                            "sourceAddressPrefix": "*",
                            "sourcePortRange": "*",
                            "destinationAddressPrefix": "*",
                            "destinationPortRange": "443",
                        },
                    }
                ],
                "defaultSecurityRules": [{"id": f"{nsg_id}/defaultSecurityRules/AllowVnetInBound", "name": "x"}],
                "subnets": [{"id": f"{vnet_id}/subnets/snet-app"}],
                "networkInterfaces": [{"id": nic_id}],
            },
        ),
        _res(
            pip_id,
            "Microsoft.Network/publicIPAddresses",
            sku={"name": "Standard", "tier": "Regional"},
            zones=["1"],
            properties={
                "provisioningState": "Succeeded",
                "ipAddress": "20.1.2.3",
                "publicIPAllocationMethod": "Static",
                "dnsSettings": {
                    "domainNameLabel": "vm1-contoso",
                    "fqdn": "vm1-contoso.eastus.cloudapp.azure.com",
                },
                "ipConfiguration": {"id": f"{nic_id}/ipConfigurations/ipconfig1"},
            },
        ),
        _res(
            nic_id,
            "microsoft.network/networkinterfaces",
            properties={
                "provisioningState": "Succeeded",
                "macAddress": "00-22-48-1A-2B-3C",
                "primary": True,
                "virtualMachine": {"id": vm_id},
                "networkSecurityGroup": {"id": nsg_id},
                "ipConfigurations": [
                    {
                        "id": f"{nic_id}/ipConfigurations/ipconfig1",
                        "name": "ipconfig1",
                        "etag": 'W/"4"',
                        "properties": {
                            "provisioningState": "Succeeded",
                            "privateIPAllocationMethod": "Dynamic",
                            "subnet": {"id": f"{vnet_id}/subnets/snet-app"},
                            "publicIPAddress": {"id": pip_id},
                        },
                    }
                ],
            },
        ),
        _res(
            osdisk_id,
            "Microsoft.Compute/disks",
            api="2023-04-02",
            managedBy=vm_id,
            sku={"name": "Premium_LRS"},
            properties={
                "osType": "Linux",
                "diskSizeGB": 30,
                "diskState": "Attached",
                "uniqueId": "u-1",
                "timeCreated": "2025-01-01T00:00:00Z",
                "creationData": {"createOption": "FromImage"},
            },
        ),
        _res(
            datadisk_id,
            "Microsoft.Compute/disks",
            api="2023-04-02",
            managedBy=vm_id,
            sku={"name": "Premium_LRS"},
            properties={
                "diskSizeGB": 128,
                "diskState": "Attached",
                "uniqueId": "u-2",
                "creationData": {"createOption": "Empty"},
                "diskSizeBytes": 137438953472,
            },
        ),
        _res(
            vm_id,
            "Microsoft.Compute/virtualMachines",
            api="2024-03-01",
            identity={
                "type": "SystemAssigned, UserAssigned",
                "principalId": "p-1",
                "tenantId": TENANT,
                "userAssignedIdentities": {uai_id: {"principalId": "p-2", "clientId": "c-2"}},
            },
            properties={
                "vmId": "1b2c3d4e",
                "provisioningState": "Succeeded",
                "hardwareProfile": {"vmSize": "Standard_D2s_v5"},
                "storageProfile": {
                    "imageReference": {
                        "publisher": "Canonical",
                        "offer": "ubuntu-24_04-lts",
                        "sku": "server",
                        "version": "latest",
                    },
                    "osDisk": {
                        "name": "vm1_OsDisk_1_abc",
                        "createOption": "FromImage",
                        "managedDisk": {"id": osdisk_id, "storageAccountType": "Premium_LRS"},
                    },
                    "dataDisks": [
                        {
                            "lun": 0,
                            "name": "vm1-data-01",
                            "createOption": "Attach",
                            "managedDisk": {"id": datadisk_id},
                        }
                    ],
                },
                "osProfile": {
                    "computerName": "vm1",
                    "adminUsername": "azureuser",
                    "linuxConfiguration": {"disablePasswordAuthentication": True},
                },
                "networkProfile": {"networkInterfaces": [{"id": nic_id, "properties": {"primary": True}}]},
                "diagnosticsProfile": {
                    "bootDiagnostics": {
                        "enabled": True,
                        "storageUri": "https://stcontosoprod001.blob.core.windows.net/",
                    }
                },
            },
        ),
        _res(
            f"{RG}/providers/Microsoft.Storage/storageAccounts/stcontosoprod001",
            "Microsoft.Storage/storageAccounts",
            api="2023-05-01",
            kind="StorageV2",
            sku={"name": "Standard_LRS", "tier": "Standard"},
            tags={"purpose": "logs", "deploy-script": "echo ${HOME} %{if x}"},
            properties={
                "provisioningState": "Succeeded",
                "creationTime": "2025-01-01T00:00:00Z",
                "primaryLocation": "eastus",
                "statusOfPrimary": "available",
                "primaryEndpoints": {"blob": "https://stcontosoprod001.blob.core.windows.net/"},
                "minimumTlsVersion": "TLS1_2",
                "networkAcls": {
                    "defaultAction": "Deny",
                    "virtualNetworkRules": [
                        {"id": f"{vnet_id}/subnets/snet-app", "action": "Allow"},
                        {
                            "id": f"/subscriptions/{EXT}/resourceGroups/rg-shared/providers/"
                            "Microsoft.Network/"
                            "virtualNetworks/vnet-shared/subnets/default",
                            "action": "Allow",
                        },
                    ],
                },
            },
        ),
        _res(
            f"{RG}/providers/Microsoft.KeyVault/vaults/kv-contoso-prod",
            "Microsoft.KeyVault/vaults",
            api="2023-07-01",
            properties={
                "tenantId": TENANT,
                "sku": {"family": "A", "name": "standard"},
                "vaultUri": "https://kv-contoso-prod.vault.azure.net/",
                "enableRbacAuthorization": True,
                "provisioningState": "Succeeded",
            },
        ),
        _res(
            ws_id,
            "Microsoft.OperationalInsights/workspaces",
            api="2022-10-01",
            properties={
                "customerId": "9f8e7d6c",
                "sku": {"name": "PerGB2018"},
                "retentionInDays": 30,
                "createdDate": "2025-01-01",
                "provisioningState": "Succeeded",
            },
        ),
        # the original product's recurring bug: a lower-case namespace, and a lower-cased reference
        _res(
            f"{RG}/providers/microsoft.insights/dataCollectionRules/dcr-vm",
            "microsoft.insights/dataCollectionRules",
            api="2022-06-01",
            properties={
                "immutableId": "dcr-0123",
                "dataCollectionEndpointId": f"/subscriptions/{SRC}/resourceGroups/rg-shared/providers/"
                "Microsoft.Insights/"
                "dataCollectionEndpoints/dce-shared",
                "destinations": {"logAnalytics": [{"name": "la", "workspaceResourceId": ws_id.lower()}]},
                "dataFlows": [{"streams": ["Microsoft-Perf"], "destinations": ["la"]}],
            },
        ),
        _res(
            uai_id,
            "Microsoft.ManagedIdentity/userAssignedIdentities",
            api="2023-01-31",
            properties={"principalId": "p-2", "clientId": "c-2", "tenantId": TENANT},
        ),
        _res(
            f"{RG}/providers/Microsoft.Contoso/widgets/w1",
            "microsoft.contoso/widgets",
            api="2024-01-01",
            properties={"provisioningState": "Succeeded", "color": "blue", "note": f"billed to {SRC}"},
        ),
        _res(
            f"{RG}/providers/Microsoft.Resources/deployments/dep1",
            "Microsoft.Resources/deployments",
            location=None,
            properties={"provisioningState": "Succeeded"},
        ),
        _res(
            f"/subscriptions/{SRC}/resourceGroups/NetworkWatcherRG/providers/Microsoft.Network/networkWatchers/"
            "NetworkWatcher_eastus",
            "Microsoft.Network/networkWatchers",
            properties={},
        ),
        _res(aks_rt, "Microsoft.Network/routeTables", properties={"routes": []}),
    ]
    return resources, groups


@pytest.fixture(scope="module")
def result() -> GenerateResult:
    resources, groups = source_fixture()
    return generate(resources, groups, SRC, TGT, NONCE)


def _blocks(result: GenerateResult) -> dict[str, dict]:
    return result.config["resource"]["azapi_resource"]


def _by_name(result: GenerateResult, type_prefix: str, name: str) -> tuple[str, dict]:
    hits = [
        (label, b)
        for label, b in _blocks(result).items()
        if b["type"].split("@")[0].lower() == type_prefix.lower() and b["name"] == name
    ]
    assert len(hits) == 1, (type_prefix, name, hits)
    return hits[0]


def _ref(label: str) -> str:
    return "${azapi_resource." + label + ".id}"


# ---------------------------------------------------------------- shape


def test_config_shape_and_types(result: GenerateResult) -> None:
    cfg = result.config
    assert cfg["terraform"]["required_providers"]["azapi"] == {"source": "azure/azapi", "version": "~> 2.0"}
    assert cfg["provider"] == {"azapi": {}}
    label, rg = _by_name(result, "Microsoft.Resources/resourceGroups", "rg-app")
    assert rg == {
        "type": "Microsoft.Resources/resourceGroups@2021-04-01",
        "name": "rg-app",
        "parent_id": f"/subscriptions/{TGT}",
        "location": "eastus",
        "tags": {"env": "prod", "sub": TGT},
    }
    _, dcr = _by_name(result, "Microsoft.Insights/dataCollectionRules", "dcr-vm")
    assert dcr["type"] == "Microsoft.Insights/dataCollectionRules@2022-06-01"  # canonical casing
    assert dcr["parent_id"] == _ref(label)
    assert isinstance(dcr["body"], dict)  # an HCL object, not a JSON string
    assert result.resource_count == len(_blocks(result))
    for block in _blocks(result).values():
        assert set(block) <= {"type", "name", "parent_id", "location", "tags", "body"}
        assert re.fullmatch(r"[A-Za-z.]+/[A-Za-z/]+@\d{4}-\d{2}-\d{2}(-preview)?", block["type"]), block["type"]


def test_labels_are_valid_unique_and_stable(result: GenerateResult) -> None:
    labels = list(_blocks(result))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", lb) for lb in labels)
    resources, groups = source_fixture()
    extra = _res(
        f"{RG}/providers/Microsoft.Network/routeTables/rt-new",
        "Microsoft.Network/routeTables",
        properties={"routes": []},
    )
    again = generate([extra] + resources[::-1], groups, SRC, TGT, NONCE)
    assert set(labels) < set(_blocks(again))  # same labels for the same source IDs, whatever the order
    for label in labels:
        assert _blocks(again)[label] == _blocks(result)[label]


def test_unknown_type_is_still_generated(result: GenerateResult) -> None:
    _, widget = _by_name(result, "microsoft.contoso/widgets", "w1")
    assert widget["type"] == "microsoft.contoso/widgets@2024-01-01"
    assert widget["body"] == {"properties": {"color": "blue", "note": f"billed to {TGT}"}}


# ---------------------------------------------------------------- read-only stripping


def test_generic_read_only_fields_are_stripped(result: GenerateResult) -> None:
    for block in _blocks(result).values():
        body = block.get("body", {})
        assert not {"id", "etag", "systemData", "managedBy", "type", "name", "location", "tags"} & set(body)
        text = json.dumps(body)
        for forbidden in (
            "provisioningState",
            "resourceGuid",
            "uniqueId",
            "timeCreated",
            "creationTime",
            '"etag"',
        ):
            assert forbidden not in text, (block["name"], forbidden)


def test_per_type_read_only_fields_are_stripped(result: GenerateResult) -> None:
    _, vnet = _by_name(result, "Microsoft.Network/virtualNetworks", "vnet-hub")
    subnet = vnet["body"]["properties"]["subnets"][0]
    assert subnet == {
        "name": "snet-app",
        "properties": {
            "addressPrefix": "10.10.1.0/24",
            "privateEndpointNetworkPolicies": "Disabled",
            "networkSecurityGroup": subnet["properties"]["networkSecurityGroup"],
        },
    }
    _, nsg = _by_name(result, "Microsoft.Network/networkSecurityGroups", "nsg-app")
    assert set(nsg["body"]["properties"]) == {"securityRules"}
    assert set(nsg["body"]["properties"]["securityRules"][0]) == {"name", "properties"}
    _, nic = _by_name(result, "Microsoft.Network/networkInterfaces", "nic-vm1")
    assert not {"macAddress", "virtualMachine", "primary"} & set(nic["body"]["properties"])
    _, vm = _by_name(result, "Microsoft.Compute/virtualMachines", "vm1")
    assert "vmId" not in vm["body"]["properties"]
    assert vm["body"]["identity"]["type"] == "SystemAssigned, UserAssigned"
    assert not {"principalId", "tenantId"} & set(vm["body"]["identity"])
    assert list(vm["body"]["identity"]["userAssignedIdentities"].values()) == [{}]
    _, st = _by_name(result, "Microsoft.Storage/storageAccounts", "stcontosoprod001a1b2c3")
    assert not {"primaryEndpoints", "primaryLocation", "statusOfPrimary", "creationTime"} & set(
        st["body"]["properties"]
    )
    assert st["body"]["kind"] == "StorageV2" and st["body"]["sku"]["name"] == "Standard_LRS"
    _, kv = _by_name(result, "Microsoft.KeyVault/vaults", "kv-contoso-prod-a1b2c3")
    assert "vaultUri" not in kv["body"]["properties"] and kv["body"]["properties"]["tenantId"] == TENANT
    _, ws = _by_name(result, "Microsoft.OperationalInsights/workspaces", "log-contoso")
    assert "customerId" not in ws["body"]["properties"]
    _, disk = _by_name(result, "Microsoft.Compute/disks", "vm1-data-01")
    assert not {"diskState", "uniqueId", "diskSizeBytes"} & set(disk["body"]["properties"])
    _, pip = _by_name(result, "Microsoft.Network/publicIPAddresses", "pip-vm1")
    assert not {"ipAddress", "ipConfiguration"} & set(pip["body"]["properties"])
    assert "fqdn" not in pip["body"]["properties"]["dnsSettings"]
    assert pip["body"]["zones"] == ["1"]
    _, uai = _by_name(result, "Microsoft.ManagedIdentity/userAssignedIdentities", "id-app")
    assert uai.get("body", {}).get("properties", {}) == {}


def test_input_payloads_are_not_mutated() -> None:
    resources, groups = source_fixture()
    before = json.dumps([resources, groups], sort_keys=True)
    generate(resources, groups, SRC, TGT, NONCE)
    assert json.dumps([resources, groups], sort_keys=True) == before


# ---------------------------------------------------------------- ID rewriting


def test_references_inside_the_config_become_terraform_references(result: GenerateResult) -> None:
    vnet_label, _ = _by_name(result, "Microsoft.Network/virtualNetworks", "vnet-hub")
    pip_label, _ = _by_name(result, "Microsoft.Network/publicIPAddresses", "pip-vm1")
    nsg_label, _ = _by_name(result, "Microsoft.Network/networkSecurityGroups", "nsg-app")
    nic_label, nic = _by_name(result, "Microsoft.Network/networkInterfaces", "nic-vm1")
    ipc = nic["body"]["properties"]["ipConfigurations"][0]["properties"]
    assert ipc["subnet"]["id"] == _ref(vnet_label) + "/subnets/snet-app"
    assert ipc["publicIPAddress"]["id"] == _ref(pip_label)
    assert nic["body"]["properties"]["networkSecurityGroup"]["id"] == _ref(nsg_label)
    _, vm = _by_name(result, "Microsoft.Compute/virtualMachines", "vm1")
    assert vm["body"]["properties"]["networkProfile"]["networkInterfaces"][0]["id"] == _ref(nic_label)
    disk_label, _ = _by_name(result, "Microsoft.Compute/disks", "vm1-data-01")
    assert vm["body"]["properties"]["storageProfile"]["dataDisks"][0]["managedDisk"]["id"] == _ref(disk_label)
    uai_label, _ = _by_name(result, "Microsoft.ManagedIdentity/userAssignedIdentities", "id-app")
    assert list(vm["body"]["identity"]["userAssignedIdentities"]) == [_ref(uai_label)]  # dict keys too
    ws_label, _ = _by_name(result, "Microsoft.OperationalInsights/workspaces", "log-contoso")
    _, dcr = _by_name(result, "Microsoft.Insights/dataCollectionRules", "dcr-vm")
    assert dcr["body"]["properties"]["destinations"]["logAnalytics"][0]["workspaceResourceId"] == _ref(ws_label)


def test_vm_created_os_disk_is_skipped_and_its_id_not_sent(result: GenerateResult) -> None:
    _, vm = _by_name(result, "Microsoft.Compute/virtualMachines", "vm1")
    assert "id" not in vm["body"]["properties"]["storageProfile"]["osDisk"]["managedDisk"]
    reasons = {s["id"].rsplit("/", 1)[-1]: s["reason"] for s in result.skipped}
    assert "createOption fromimage" in reasons["vm1_OsDisk_1_abc"]


def test_external_ids_are_untouched_and_unmapped_source_ids_rewritten_and_reported(
    result: GenerateResult,
) -> None:
    _, st = _by_name(result, "Microsoft.Storage/storageAccounts", "stcontosoprod001a1b2c3")
    vnet_label, _ = _by_name(result, "Microsoft.Network/virtualNetworks", "vnet-hub")
    rules = st["body"]["properties"]["networkAcls"]["virtualNetworkRules"]
    assert rules[0]["id"] == _ref(vnet_label) + "/subnets/snet-app"
    assert rules[1]["id"].startswith(f"/subscriptions/{EXT}/resourceGroups/rg-shared/")
    _, dcr = _by_name(result, "Microsoft.Insights/dataCollectionRules", "dcr-vm")
    dce = f"/subscriptions/{TGT}/resourceGroups/rg-shared/providers/Microsoft.Insights/"
    dce += "dataCollectionEndpoints/dce-shared"
    assert dcr["body"]["properties"]["dataCollectionEndpointId"] == dce
    reported = {(u["id"].rsplit("/", 1)[-1], u["reference"].rsplit("/", 1)[-1]) for u in result.unmapped_references}
    assert ("dcr-vm", "dce-shared") in reported
    assert not any(EXT in u["reference"] for u in result.unmapped_references)


def test_dependents_of_skipped_resources_are_emitted_with_rewritten_ids(result: GenerateResult) -> None:
    _, vnet = _by_name(result, "Microsoft.Network/virtualNetworks", "vnet-hub")
    aks_subnet = vnet["body"]["properties"]["subnets"][1]
    assert aks_subnet["properties"]["routeTable"]["id"] == (
        f"/subscriptions/{TGT}/resourceGroups/MC_rg-aks_aks1_eastus/providers/Microsoft.Network/routeTables/aks-rt"
    )
    assert any(u["reference"].endswith("/routeTables/aks-rt") for u in result.unmapped_references)


def test_renamed_resources_are_reached_by_their_new_host_name(result: GenerateResult) -> None:
    _, vm = _by_name(result, "Microsoft.Compute/virtualMachines", "vm1")
    uri = vm["body"]["properties"]["diagnosticsProfile"]["bootDiagnostics"]["storageUri"]
    assert uri == "https://stcontosoprod001a1b2c3.blob.core.windows.net/"


def test_no_source_subscription_anywhere(result: GenerateResult) -> None:
    text = json.dumps(result.config).lower()
    assert SRC in json.dumps(source_fixture())  # the fixture mentions it in IDs, tags and free text
    assert SRC.lower() not in text
    assert all(SRC not in target.lower() for target in result.name_map.values())
    assert all(target.startswith(f"/subscriptions/{TGT}/") for target in result.name_map.values())
    assert TGT in text


def test_template_sequences_are_escaped(result: GenerateResult) -> None:
    _, st = _by_name(result, "Microsoft.Storage/storageAccounts", "stcontosoprod001a1b2c3")
    assert st["tags"]["deploy-script"] == "echo $${HOME} %%{if x}"


# ---------------------------------------------------------------- names


def test_global_names_and_name_map(result: GenerateResult) -> None:
    _, st = _by_name(result, "Microsoft.Storage/storageAccounts", "stcontosoprod001a1b2c3")
    assert fits_rule(st["name"], registry.STORAGE_NAME)
    _, kv = _by_name(result, "Microsoft.KeyVault/vaults", "kv-contoso-prod-a1b2c3")
    assert fits_rule(kv["name"], registry.KEY_VAULT_NAME)
    src_st = f"{RG}/providers/Microsoft.Storage/storageAccounts/stcontosoprod001".lower()
    assert result.name_map[src_st] == (
        f"/subscriptions/{TGT}/resourceGroups/rg-app/providers/Microsoft.Storage/storageAccounts/stcontosoprod001a1b2c3"
    )
    assert result.name_map[f"{NET}/virtualnetworks/vnet-hub".lower()].endswith("/virtualNetworks/vnet-hub")
    _, pip = _by_name(result, "Microsoft.Network/publicIPAddresses", "pip-vm1")
    label = pip["body"]["properties"]["dnsSettings"]["domainNameLabel"]
    assert label != "vm1-contoso" and label.startswith("vm1-contoso") and fits_rule(label, registry.DNS_LABEL)
    # a different campaign nonce gives different global names, the same nonce the same config
    resources, groups = source_fixture()
    other = generate(resources, groups, SRC, TGT, "zz9988")
    assert other.name_map[src_st] != result.name_map[src_st]
    assert generate(resources, groups, SRC, TGT, NONCE).config == result.config
    assert set(result.name_map) == {k.lower() for k in result.name_map}


# ---------------------------------------------------------------- skipping and refusals


def test_skipped_resources_are_listed_with_reasons(result: GenerateResult) -> None:
    skipped = {s["id"].lower(): s for s in result.skipped}
    assert all(s["reason"] and s["type"] for s in result.skipped)
    watcher = skipped[
        f"/subscriptions/{SRC}/resourceGroups/NetworkWatcherRG/providers/Microsoft.Network/"
        "networkWatchers/NetworkWatcher_eastus".lower()
    ]
    assert "NetworkWatcherRG" in watcher["reason"]
    assert f"/subscriptions/{SRC}/resourcegroups/networkwatcherrg" in skipped
    assert (
        "managed by" in skipped[f"/subscriptions/{SRC}/resourcegroups/mc_rg-aks_aks1_eastus"]["reason"]
        or "AKS" in skipped[f"/subscriptions/{SRC}/resourcegroups/mc_rg-aks_aks1_eastus"]["reason"]
    )
    # a subnet listed inline in its VNet is replicated by the VNet's PUT: mapped, not emitted, not skipped
    subnet = f"{NET}/virtualNetworks/vnet-hub/subnets/snet-app"
    assert subnet.lower() not in skipped
    assert {
        "id": subnet,
        "type": "Microsoft.Network/virtualNetworks/subnets",
        "parent": f"{NET}/virtualNetworks/vnet-hub",
    } in result.inline
    assert (
        result.name_map[subnet.lower()]
        == result.name_map[f"{NET}/virtualNetworks/vnet-hub".lower()] + "/subnets/snet-app"
    )
    assert "deployment" in skipped[f"{RG}/providers/Microsoft.Resources/deployments/dep1".lower()]["reason"]
    # every input is either emitted or skipped: nothing silently dropped
    resources, groups = source_fixture()
    inputs = {r["id"].lower() for r in resources} | {g["id"].lower() for g in groups}
    assert inputs == set(result.name_map) | set(skipped)
    assert not set(result.name_map) & set(skipped)
    # skipped resources never appear as blocks
    assert not any(b["name"] == "NetworkWatcher_eastus" for b in _blocks(result).values())


def test_managed_by_is_skipped_for_non_attachable_types() -> None:
    owned = _res(
        f"{RG}/providers/Microsoft.Network/publicIPAddresses/kubernetes-a1",
        "Microsoft.Network/publicIPAddresses",
        managedBy=f"{RG}/providers/Microsoft.ContainerService/managedClusters/aks1",
        properties={},
    )
    res = generate([owned], [{"id": RG, "name": "rg-app", "location": "eastus"}], SRC, TGT, NONCE)
    assert res.skipped[0]["reason"].startswith("managed by ")
    assert res.resource_count == 1  # the resource group only


@pytest.mark.parametrize("target", [SRC, SRC.upper(), f" {SRC} "])
def test_refuses_source_equal_to_target(target: str) -> None:
    with pytest.raises(ValueError, match="same"):
        generate([], [], SRC, target, NONCE)


@pytest.mark.parametrize(
    "bad_id",
    [
        "subscriptions/x",
        "/subscriptions//resourceGroups/rg",
        f"/subscriptions/{SRC}/resourceGroups/rg/providers",
        f"/subscriptions/{SRC}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks",
        f"/tenants/{TENANT}/providers/Microsoft.Foo/bars/b",
    ],
)
def test_refuses_malformed_ids(bad_id: str) -> None:
    with pytest.raises(ValueError, match="malformed"):
        generate([{"id": bad_id, "type": "Microsoft.Network/virtualNetworks"}], [], SRC, TGT, NONCE)


def test_refuses_resources_outside_the_source_subscription() -> None:
    rid = f"/subscriptions/{EXT}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v"
    with pytest.raises(ValueError, match="not in the source subscription"):
        generate([{"id": rid}], [], SRC, TGT, NONCE)


# ---------------------------------------------------------------- cycles and children


def test_mutual_references_are_broken_with_literal_target_ids() -> None:
    a, b = f"{NET}/virtualNetworks/vnet-a", f"{NET}/virtualNetworks/vnet-b"

    def vnet(me: str, other: str) -> dict:
        return _res(
            me,
            "Microsoft.Network/virtualNetworks",
            properties={
                "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                "virtualNetworkPeerings": [
                    {
                        "id": f"{me}/virtualNetworkPeerings/p",
                        "name": "p",
                        "properties": {"remoteVirtualNetwork": {"id": other}, "peeringState": "Connected"},
                    }
                ],
            },
        )

    lb = f"{NET}/loadBalancers/lb1"
    self_ref = _res(
        lb,
        "Microsoft.Network/loadBalancers",
        properties={
            "frontendIPConfigurations": [{"name": "fe", "properties": {}}],
            "loadBalancingRules": [
                {
                    "name": "r",
                    "properties": {"frontendIPConfiguration": {"id": f"{lb}/frontendIPConfigurations/fe"}},
                }
            ],
        },
    )
    res = generate(
        [vnet(a, b), vnet(b, a), self_ref],
        [{"id": RG, "name": "rg-app", "location": "eastus"}],
        SRC,
        TGT,
        NONCE,
    )
    la, va = _by_name(res, "Microsoft.Network/virtualNetworks", "vnet-a")
    lb_, vb = _by_name(res, "Microsoft.Network/virtualNetworks", "vnet-b")
    remote_a = va["body"]["properties"]["virtualNetworkPeerings"][0]["properties"]["remoteVirtualNetwork"]["id"]
    remote_b = vb["body"]["properties"]["virtualNetworkPeerings"][0]["properties"]["remoteVirtualNetwork"]["id"]
    literal = f"/subscriptions/{TGT}/resourceGroups/rg-app/providers/Microsoft.Network/virtualNetworks/vnet-"
    # exactly one direction stays a reference; the other becomes the literal target ID
    assert (remote_a, remote_b) in [(_ref(lb_), literal + "a"), (literal + "b", _ref(la))]
    _, lbb = _by_name(res, "Microsoft.Network/loadBalancers", "lb1")
    fe = lbb["body"]["properties"]["loadBalancingRules"][0]["properties"]["frontendIPConfiguration"]["id"]
    assert (
        fe == f"/subscriptions/{TGT}/resourceGroups/rg-app/providers/Microsoft.Network/loadBalancers/lb1/"
        "frontendIPConfigurations/fe"
    )
    assert res.unmapped_references == []


def test_break_cycles_keeps_parent_edges() -> None:
    literal = break_cycles({("child", "parent")}, {("parent", "child"), ("x", "y"), ("y", "x")})
    assert ("parent", "child") in literal and len(literal) == 2


def test_child_resources_get_their_parent_as_parent_id() -> None:
    server = f"{RG}/providers/Microsoft.Sql/servers/sql-contoso"
    db = f"{server}/databases/appdb"
    diag = f"{server}/providers/Microsoft.Insights/diagnosticSettings/to-law"
    res = generate(
        [
            _res(
                server,
                "Microsoft.Sql/servers",
                api="2021-11-01",
                properties={
                    "administratorLogin": "sqladmin",
                    "fullyQualifiedDomainName": "sql-contoso.database.windows.net",
                },
            ),
            _res(db, "Microsoft.Sql/servers/databases", api="2021-11-01", properties={"databaseId": "d"}),
            _res(
                diag,
                "Microsoft.Insights/diagnosticSettings",
                location=None,
                api="2021-05-01-preview",
                properties={"logs": []},
            ),
            _res(
                f"/subscriptions/{SRC}/providers/Microsoft.Authorization/roleAssignments/ra1",
                "Microsoft.Authorization/roleAssignments",
                location=None,
                api="2022-04-01",
                properties={
                    "roleDefinitionId": f"/subscriptions/{SRC}/providers/Microsoft.Authorization/"
                    "roleDefinitions/"
                    "acdd72a7-3385-48ef-bd42-f606fba81ae7",
                    "principalId": "p-9",
                    "scope": f"/subscriptions/{SRC}",
                },
            ),
        ],
        [{"id": RG, "name": "rg-app", "location": "eastus"}],
        SRC,
        TGT,
        NONCE,
        principal_map={"P-9": "0f0f0f0f-1111-4222-8333-444444444444"},
    )
    server_label, srv = _by_name(res, "Microsoft.Sql/servers", "sql-contoso-a1b2c3")
    assert "fullyQualifiedDomainName" not in srv["body"]["properties"]
    _, dbb = _by_name(res, "Microsoft.Sql/servers/databases", "appdb")
    assert dbb["parent_id"] == _ref(server_label)
    assert res.name_map[db.lower()].endswith("/servers/sql-contoso-a1b2c3/databases/appdb")
    _, dg = _by_name(res, "Microsoft.Insights/diagnosticSettings", "to-law")
    assert dg["parent_id"] == _ref(server_label) and "location" not in dg
    _, ra = _by_name(res, "Microsoft.Authorization/roleAssignments", "ra1")
    assert ra["parent_id"] == f"/subscriptions/{TGT}"
    assert ra["body"]["properties"]["roleDefinitionId"].startswith(f"/subscriptions/{TGT}/providers/")
    assert "scope" not in ra["body"]["properties"]
    assert ra["body"]["properties"]["principalId"] == "0f0f0f0f-1111-4222-8333-444444444444"


def _role_assignment(principal: str) -> dict:
    return _res(
        f"/subscriptions/{SRC}/providers/Microsoft.Authorization/roleAssignments/ra-{principal[:4]}",
        "Microsoft.authorization/ROLEASSIGNMENTS",
        location=None,
        api="2022-04-01",
        properties={
            "roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/"
            "acdd72a7-3385-48ef-bd42-f606fba81ae7",
            "principalId": principal,
        },
    )


def test_role_assignments_need_the_principal_map() -> None:
    mapped, unmapped = "11111111-2222-4333-8444-555555555555", "99999999-2222-4333-8444-555555555555"
    payloads = [_role_assignment(mapped), _role_assignment(unmapped)]
    without = generate(payloads, [], SRC, TGT, NONCE)
    assert without.resource_count == 0
    assert all("principal map" in s["reason"] for s in without.skipped) and len(without.skipped) == 2
    target_principal = "aaaaaaaa-2222-4333-8444-555555555555"
    with_map = generate(payloads, [], SRC, TGT, NONCE, principal_map={mapped.upper(): target_principal})
    (block,) = _blocks(with_map).values()
    assert block["body"]["properties"]["principalId"] == target_principal
    assert mapped not in json.dumps(with_map.config)
    (skip,) = with_map.skipped
    assert unmapped in skip["reason"] and "not in the principal map" in skip["reason"]


def test_payload_type_disagreeing_with_its_id_is_skipped_with_the_reason() -> None:
    rid = f"{NET}/vpnServerConfigurations/c1/vpnServerConfigurationPolicyGroups/g1"
    res = generate(
        [_res(rid, "Microsoft.Network/vpnServerConfigurations/configurationPolicyGroups")],
        [{"id": RG, "name": "rg-app", "location": "eastus"}],
        SRC,
        TGT,
        NONCE,
    )
    (skip,) = res.skipped
    assert skip["id"] == rid and "disagrees with the type in its id" in skip["reason"]
    assert res.resource_count == 1  # the resource group only


# ---------------------------------------------------------------- files and terraform


def test_write_config_is_sorted_and_stable(result: GenerateResult, tmp_path: Path) -> None:
    main = write_config(result, tmp_path)
    assert main == tmp_path / "main.tf.json"
    text = main.read_text()
    assert json.loads(text) == result.config
    assert text == dump_config(result.config)
    # one resource block a line, in label order (diffs of main.tf.json show resources, not braces)
    labels = sorted(result.config["resource"]["azapi_resource"])
    block_lines = [line for line in text.splitlines() if line.startswith('"') and line.split('"')[1] in labels]
    assert [line.split('"')[1] for line in block_lines] == labels
    assert json.loads((tmp_path / "name_map.json").read_text()) == result.name_map
    write_config(result, tmp_path)
    assert main.read_text() == text


def test_terraform_validate_accepts_generated_config(result: GenerateResult, terraform_validate) -> None:
    report = terraform_validate(result)
    assert report["valid"], report["_output"]
    assert report["error_count"] == 0


def test_generate_scales_to_10k_resources() -> None:
    """10,000 synthetic resources (VNets + NICs referencing subnets) generate in seconds."""
    groups = [
        {"id": f"/subscriptions/{SRC}/resourceGroups/rg-{g}", "name": f"rg-{g}", "location": "eastus"}
        for g in range(50)
    ]
    resources = []
    for i in range(5000):
        rg = f"/subscriptions/{SRC}/resourceGroups/rg-{i % 50}/providers/Microsoft.Network"
        vnet = f"{rg}/virtualNetworks/vnet-{i}"
        resources.append(
            _res(
                vnet,
                "Microsoft.Network/virtualNetworks",
                properties={
                    "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                    "subnets": [
                        {
                            "id": f"{vnet}/subnets/s",
                            "name": "s",
                            "properties": {"addressPrefix": "10.0.0.0/24"},
                        }
                    ],
                },
            )
        )
        resources.append(
            _res(
                f"{rg}/networkInterfaces/nic-{i}",
                "microsoft.network/networkInterfaces",
                properties={"ipConfigurations": [{"name": "c", "properties": {"subnet": {"id": f"{vnet}/subnets/s"}}}]},
            )
        )
    start = time.perf_counter()
    res = generate(resources, groups, SRC, TGT, NONCE)
    elapsed = time.perf_counter() - start
    assert res.resource_count == 10_050 and not res.unmapped_references and not res.skipped
    assert SRC not in json.dumps(res.config)
    assert elapsed < 60, elapsed
    print(f"generate(10,000 resources + 50 groups): {elapsed:.2f}s")


def test_separately_listed_children_are_emitted_when_the_parent_does_not_carry_them_inline() -> None:
    nsg = f"{NET}/networkSecurityGroups/nsg-split"
    rule = _res(
        f"{nsg}/securityRules/allow-ssh",
        "Microsoft.Network/networkSecurityGroups/securityRules",
        location=None,
        properties={
            "priority": 200,
            "access": "Allow",
            "direction": "Inbound",
            "protocol": "Tcp",
            "destinationPortRange": "22",
        },
    )
    res = generate(
        [_res(nsg, "Microsoft.Network/networkSecurityGroups", properties={}), rule],
        [{"id": RG, "name": "rg-app", "location": "eastus"}],
        SRC,
        TGT,
        NONCE,
    )
    nsg_label, _ = _by_name(res, "Microsoft.Network/networkSecurityGroups", "nsg-split")
    _, rule_block = _by_name(res, "Microsoft.Network/networkSecurityGroups/securityRules", "allow-ssh")
    assert rule_block["parent_id"] == _ref(nsg_label) and res.skipped == []


# ---------------------------------------------------------------- against the simulator (independent oracle)


def _seed_payloads() -> tuple[list[dict], list[dict], str, str]:
    """Top-level GET bodies of the simulator's seeded source subscription, as a scanner would read them."""
    sim_model = pytest.importorskip("tenant_replicator.sim.model")
    sim_registry = pytest.importorskip("tenant_replicator.sim.registry")
    seed = pytest.importorskip("tenant_replicator.sim.seed")
    state = seed.seed_state()
    source = seed.SOURCE_SUBSCRIPTION_ID
    resources = []
    for key, _record in sim_model.list_resources(state, f"/subscriptions/{source}/".lower()):
        body = sim_model.render(state, key)
        found = sim_registry.find_type(body["type"])
        body["apiVersion"] = found[1].api_versions[0] if found else None
        body["resourceGroup"] = body["id"].split("/")[4]
        resources.append(body)
    groups = [record["body"] for _, record in sim_model.list_resource_groups(state, source)]
    return resources, groups, source, seed.TARGET_SUBSCRIPTION_ID


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory):
    """The project's ARM simulator in its own process group on a free loopback port (stopped by group)."""
    pytest.importorskip("tenant_replicator.sim.server")
    base = tmp_path_factory.mktemp("sim")
    with devstack.Stack(workdir=base, env=devstack.base_env(base)) as stack:
        devstack.start_simulator(stack)
        yield {"endpoint": stack.arm_endpoint, "ca_file": stack.ca_file}


def _terraform(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> tuple[int, str]:
    """Run terraform in its own process group; on timeout stop the whole group."""
    proc = subprocess.Popen(
        ["terraform", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
        pytest.fail(f"terraform {args[0]} timed out:\n{out[-3000:]}")
    return proc.returncode, out


def _arm_get(sim: dict, path: str, api_version: str) -> tuple[int, dict]:
    context = ssl.create_default_context(cafile=sim["ca_file"])
    url = f"{sim['endpoint'].rstrip('/')}{path}?api-version={api_version}"
    request = urllib.request.Request(url, headers={"Authorization": "Bearer test"})
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, {}


def test_seed_generates_without_source_ids_or_unmapped_references() -> None:
    resources, groups, source, target = _seed_payloads()
    res = generate(resources, groups, source, target, NONCE)
    assert source.lower() not in json.dumps(res.config).lower()
    assert res.unmapped_references == []
    assert res.resource_count + len(res.skipped) == len(resources) + len(groups)
    assert all("createOption" in s["reason"] for s in res.skipped), res.skipped  # only VM-made OS disks


def test_seed_config_applies_to_the_simulator_and_converges(simulator: dict, tmp_path: Path) -> None:
    install = pytest.importorskip("tenant_replicator.tfprovider.install")
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not on PATH")
    resources, groups, source, target = _seed_payloads()
    res = generate(resources, groups, source, target, NONCE)
    workdir = tmp_path / "work"
    write_config(res, workdir)
    env = {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(install.write_cli_config(tmp_path / "provider")),
        "TENANT_REPLICATOR_ARM_ENDPOINT": simulator["endpoint"],
        "TENANT_REPLICATOR_ARM_CA_FILE": simulator["ca_file"],
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
    }
    code, out = _terraform(["apply", "-auto-approve", "-no-color", "-input=false"], workdir, env)
    assert code == 0, out[-4000:]
    assert f"Resources: {res.resource_count} added, 0 changed, 0 destroyed" in out
    # the same config against what was applied: nothing left to do (no read-only drift)
    code, out = _terraform(["plan", "-detailed-exitcode", "-no-color", "-input=false"], workdir, env)
    assert code == 0, out[-4000:]
    # every emitted resource exists in the target under the name the name map promises
    for source_id, target_id in res.name_map.items():
        api = (
            "2021-04-01"
            if "/providers/" not in target_id.lower()
            else next(r["apiVersion"] for r in resources if r["id"].lower() == source_id)
        )
        status, body = _arm_get(simulator, target_id, api)
        assert status == 200, (target_id, status)
        assert body["id"].lower() == target_id.lower()
        assert source.lower() not in json.dumps(body).lower(), target_id


def test_strip_paths_language() -> None:
    from tenant_replicator.iac.rewrite import strip_paths

    body = {
        "properties": {
            "ProvisioningState": "Succeeded",  # keys match case-insensitively
            "lastModifiedAt": "t",
            "lastModifiedBy": "u",
            "lastSeen": "keep",  # glob
            "items": [{"id": "x", "name": "a", "deep": {"etag": "e", "v": 1}}, {"id": "y", "name": "b"}],
            "byKey": {"k1": {"clientId": "c", "keep": 1}, "k2": {"clientId": "d"}},
        },
        "sku": {"etag": "not under properties: kept"},
    }
    strip_paths(
        body,
        (
            "properties.provisioningState",
            "properties.lastModified*",
            "properties.items.id",
            "properties.byKey.*.clientId",
            "properties.**.etag",
        ),
    )
    assert body == {
        "properties": {
            "lastSeen": "keep",
            "items": [{"name": "a", "deep": {"v": 1}}, {"name": "b"}],
            "byKey": {"k1": {"keep": 1}, "k2": {}},
        },
        "sku": {"etag": "not under properties: kept"},
    }


def test_resource_in_an_unlisted_group_keeps_a_rewritten_parent_and_is_reported() -> None:
    rid = f"/subscriptions/{SRC}/resourceGroups/rg-unlisted/providers/Microsoft.Network/routeTables/rt"
    res = generate([_res(rid, "Microsoft.Network/routeTables", properties={})], [], SRC, TGT, NONCE)
    _, rt = _by_name(res, "Microsoft.Network/routeTables", "rt")
    assert rt["parent_id"] == f"/subscriptions/{TGT}/resourceGroups/rg-unlisted"
    assert res.unmapped_references == [
        {
            "id": rid,
            "reference": f"/subscriptions/{SRC}/resourceGroups/rg-unlisted",
            "rewritten": rt["parent_id"],
        }
    ]
