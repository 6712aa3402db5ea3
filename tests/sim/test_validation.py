"""Validation that real replication trips over, driven through the real azure-mgmt-resource SDK."""

from __future__ import annotations

import uuid

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.mgmt.resource.resources.models import GenericResource, ResourceGroup

from tenant_replicator.sim.seed import OTHER_TENANT_ID, SOURCE_SUBSCRIPTION_ID, TARGET_SUBSCRIPTION_ID, TENANT_ID

SRC, TGT = SOURCE_SUBSCRIPTION_ID, TARGET_SUBSCRIPTION_ID
NET, RA, KV = "2024-05-01", "2022-04-01", "2023-07-01"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
SRC_SUBNET = (
    f"/subscriptions/{SRC}/resourceGroups/rg-network-prod/providers/Microsoft.Network/virtualNetworks/"
    "vnet-hub-prod/subnets/snet-app"
)


def _code(exc: pytest.ExceptionInfo) -> str:
    return exc.value.error.code if exc.value.error else ""


def _put(client, resource_id: str, body: dict, api_version: str):
    return client.resources.begin_create_or_update_by_id(
        resource_id, GenericResource(**body), api_version=api_version
    ).result(timeout=15)


def _rg(sub: str, rg: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}"


@pytest.fixture
def tgt(sim):
    client = sim.client(TGT)
    client.resource_groups.create_or_update("rg-val", ResourceGroup(location="northeurope"))
    return client


def _nic(subnet_id: str) -> dict:
    return {
        "location": "northeurope",
        "properties": {"ipConfigurations": [{"name": "ipconfig1", "properties": {"subnet": {"id": subnet_id}}}]},
    }


def _list(sim, path: str, api_version: str) -> list[dict]:
    response = requests.get(
        f"{sim.endpoint}{path}",
        params={"api-version": api_version},
        headers={"Authorization": "Bearer t"},
        verify=sim.ca_file,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["value"]


def _principals(sim, tenant: str) -> list[dict]:
    return [p for p in sim.hook("GET", "principals")["value"] if p["tenantId"] == tenant]


# --- LinkedInvalidPropertyId ---------------------------------------------------------------------


def test_reference_to_a_missing_resource_is_linked_invalid_property_id(sim, tgt) -> None:
    nic = f"{_rg(TGT, 'rg-val')}/providers/Microsoft.Network/networkInterfaces/nic-val"
    # A subnet ID rewritten into a subscription where nothing exists.
    ghost = SRC_SUBNET.replace(SRC, str(uuid.UUID(int=7)))
    with pytest.raises(HttpResponseError) as missing:
        _put(tgt, nic, _nic(ghost), NET)
    assert missing.value.status_code == 400 and _code(missing) == "LinkedInvalidPropertyId"
    assert "ipConfigurations[0].properties.subnet.id" in missing.value.error.message
    # Same name, missing subnet in an existing VNet of the source subscription.
    with pytest.raises(HttpResponseError) as missing_child:
        _put(tgt, nic, _nic(SRC_SUBNET.replace("snet-app", "snet-nope")), NET)
    assert _code(missing_child) == "LinkedInvalidPropertyId"
    # A reference to an existing resource in another subscription is fine (as in Azure).
    created = _put(tgt, nic, _nic(SRC_SUBNET), NET)
    assert created.properties["ipConfigurations"][0]["properties"]["subnet"]["id"] == SRC_SUBNET
    assert not tgt.resources.check_existence_by_id(f"{nic}-x", api_version=NET)


def test_reference_to_a_deleted_nsg_is_rejected(sim, tgt) -> None:
    nsg = f"{_rg(TGT, 'rg-val')}/providers/Microsoft.Network/networkSecurityGroups/nsg-gone"
    _put(tgt, nsg, {"location": "northeurope", "properties": {}}, NET)
    tgt.resources.begin_delete_by_id(nsg, api_version=NET).result()
    vnet = f"{_rg(TGT, 'rg-val')}/providers/Microsoft.Network/virtualNetworks/vnet-val"
    body = {
        "location": "northeurope",
        "properties": {
            "addressSpace": {"addressPrefixes": ["10.9.0.0/16"]},
            "subnets": [
                {"name": "a", "properties": {"addressPrefix": "10.9.1.0/24", "networkSecurityGroup": {"id": nsg}}}
            ],
        },
    }
    with pytest.raises(HttpResponseError) as gone:
        _put(tgt, vnet, body, NET)
    assert _code(gone) == "LinkedInvalidPropertyId"
    _put(tgt, nsg, {"location": "northeurope", "properties": {}}, NET)
    assert _put(tgt, vnet, body, NET).properties["subnets"][0]["properties"]["networkSecurityGroup"]["id"] == nsg


def test_read_only_back_references_and_sub_resources_are_not_validated(sim, tgt) -> None:
    nsg = f"{_rg(TGT, 'rg-val')}/providers/Microsoft.Network/networkSecurityGroups/nsg-echo"
    echoed = {
        "location": "northeurope",
        "properties": {"subnets": [{"id": SRC_SUBNET.replace("snet-app", "missing")}]},  # read-only echo
    }
    assert _put(tgt, nsg, echoed, NET).name == "nsg-echo"
    # An ID of an unregistered sub-resource resolves through its parent (the NIC exists).
    nic_ip = (
        f"/subscriptions/{SRC}/resourceGroups/rg-app-prod/providers/Microsoft.Network/networkInterfaces/"
        "nic-vm-app-01/ipConfigurations/ipconfig1"
    )
    lb = f"{_rg(TGT, 'rg-val')}/providers/Microsoft.Network/loadBalancers/lb-val"
    assert _put(tgt, lb, {"location": "northeurope", "properties": {"note": {"id": nic_ip}}}, NET).name == "lb-val"
    with pytest.raises(HttpResponseError) as missing_parent:
        _put(tgt, lb, {"location": "northeurope", "properties": {"note": {"id": nic_ip.replace("-01/", "-99/")}}}, NET)
    assert _code(missing_parent) == "LinkedInvalidPropertyId"


def test_location_not_allowed_for_the_type(sim, tgt) -> None:
    zone = f"{_rg(TGT, 'rg-val')}/providers/Microsoft.Network/privateDnsZones/val.internal"
    with pytest.raises(HttpResponseError) as regional:
        _put(tgt, zone, {"location": "northeurope"}, "2020-06-01")
    assert regional.value.status_code == 400 and _code(regional) == "LocationNotAvailableForResourceType"
    vm = f"{_rg(TGT, 'rg-val')}/providers/Microsoft.Compute/virtualMachines/vm-global"
    with pytest.raises(HttpResponseError) as global_vm:
        _put(tgt, vm, {"location": "global"}, "2024-07-01")
    assert _code(global_vm) == "LocationNotAvailableForResourceType"
    assert _put(tgt, zone, {"location": "global"}, "2020-06-01").location == "global"


# --- principals and role assignments -------------------------------------------------------------


def test_role_assignments_are_extension_resources_with_known_principals(sim, tgt) -> None:
    contoso, fabrikam = _principals(sim, TENANT_ID), _principals(sim, OTHER_TENANT_ID)
    assert contoso and fabrikam
    role = f"/subscriptions/{TGT}/providers/Microsoft.Authorization/roleDefinitions/{READER}"
    nsg = f"{_rg(TGT, 'rg-val')}/providers/Microsoft.Network/networkSecurityGroups/nsg-ra"
    _put(tgt, nsg, {"location": "northeurope", "properties": {}}, NET)

    def assignment(scope: str, principal: str, name: str | None = None) -> tuple[str, dict]:
        ra_id = f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name or uuid.uuid4()}"
        return ra_id, {"properties": {"roleDefinitionId": role, "principalId": principal}}

    for scope in (nsg, _rg(TGT, "rg-val"), f"/subscriptions/{TGT}"):
        ra_id, body = assignment(scope, contoso[0]["id"])
        created = _put(tgt, ra_id, body, RA)
        assert created.type == "Microsoft.Authorization/roleAssignments" and created.id == ra_id
        assert created.properties["scope"] == scope and created.properties["principalType"] == "User"
        assert tgt.resources.get_by_id(ra_id, api_version=RA).properties["principalId"] == contoso[0]["id"]
    # Unknown in the tenant: a random object ID, and a principal of another tenant.
    for principal in (str(uuid.uuid4()), fabrikam[0]["id"]):
        ra_id, body = assignment(nsg, principal)
        with pytest.raises(HttpResponseError) as unknown:
            _put(tgt, ra_id, body, RA)
        assert unknown.value.status_code == 400 and _code(unknown) == "PrincipalNotFound"
    # Same principal + role + scope under another name: 409; a made-up role definition: 400.
    ra_id, body = assignment(nsg, contoso[0]["id"])
    with pytest.raises(HttpResponseError) as duplicate:
        _put(tgt, ra_id, body, RA)
    assert _code(duplicate) == "RoleAssignmentExists"
    body["properties"]["roleDefinitionId"] = role.replace(READER, str(uuid.uuid4()))
    with pytest.raises(HttpResponseError) as no_role:
        _put(tgt, ra_id, body, RA)
    assert _code(no_role) == "RoleDefinitionDoesNotExist"
    # Role assignments are not resources in listings; they list under the subscription.
    assert not [r for r in tgt.resources.list() if "roleAssignments" in r.type]
    listed = _list(sim, f"/subscriptions/{TGT}/providers/Microsoft.Authorization/roleAssignments", RA)
    assert len(listed) == 3
    # Deleting the scope removes what was assigned on it.
    tgt.resources.begin_delete_by_id(nsg, api_version=NET).result()
    listed = _list(sim, f"/subscriptions/{TGT}/providers/Microsoft.Authorization/roleAssignments", RA)
    assert len(listed) == 2


def test_a_new_managed_identity_is_a_principal(sim, tgt) -> None:
    uai = _put(
        tgt,
        f"{_rg(TGT, 'rg-val')}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-val",
        {"location": "northeurope"},
        "2023-01-31",
    )
    role = f"/providers/Microsoft.Authorization/roleDefinitions/{READER}"
    ra_id = f"{_rg(TGT, 'rg-val')}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
    created = _put(
        tgt, ra_id, {"properties": {"roleDefinitionId": role, "principalId": uai.properties["principalId"]}}, RA
    )
    assert created.properties["principalType"] == "ServicePrincipal"


def test_key_vault_access_policies_need_known_principals(sim, tgt) -> None:
    vault = f"{_rg(TGT, 'rg-val')}/providers/Microsoft.KeyVault/vaults/kv-val-policies"

    def body(object_id: str) -> dict:
        return {
            "location": "northeurope",
            "properties": {
                "tenantId": TENANT_ID,
                "sku": {"family": "A", "name": "standard"},
                "accessPolicies": [{"tenantId": TENANT_ID, "objectId": object_id, "permissions": {"secrets": ["get"]}}],
            },
        }

    with pytest.raises(HttpResponseError) as unknown:
        _put(tgt, vault, body(_principals(sim, OTHER_TENANT_ID)[0]["id"]), KV)
    assert _code(unknown) == "PrincipalNotFound"
    assert _put(tgt, vault, body(_principals(sim, TENANT_ID)[1]["id"]), KV).properties["vaultUri"]


# --- soft-deleted key vaults ---------------------------------------------------------------------


def test_soft_deleted_vault_blocks_its_name_until_purged(sim, tgt) -> None:
    name = "kv-val-softdel"
    vault = f"{_rg(TGT, 'rg-val')}/providers/Microsoft.KeyVault/vaults/{name}"
    body = {
        "location": "northeurope",
        "properties": {"tenantId": TENANT_ID, "sku": {"family": "A", "name": "standard"}},
    }
    _put(tgt, vault, body, KV)
    tgt.resources.begin_delete_by_id(vault, api_version=KV).result()
    deleted_list = _list(sim, f"/subscriptions/{TGT}/providers/Microsoft.KeyVault/deletedVaults", KV)
    assert [v["name"] for v in deleted_list] == [name]
    # Same name, even in another subscription or group: ConflictError mentioning the deleted state.
    src = sim.client(SRC)
    elsewhere = f"{_rg(SRC, 'rg-app-prod')}/providers/Microsoft.KeyVault/vaults/{name}"
    for client, target in ((tgt, vault), (src, elsewhere)):
        with pytest.raises(HttpResponseError) as blocked:
            _put(client, target, body, KV)
        assert blocked.value.status_code == 409 and _code(blocked) == "ConflictError"
        assert "deleted state" in blocked.value.error.message
    deleted = f"/subscriptions/{TGT}/providers/Microsoft.KeyVault/locations/northeurope/deletedVaults/{name}"
    assert tgt.resources.get_by_id(deleted, api_version=KV).properties["vaultId"] == vault
    purge = requests.post(
        f"{sim.endpoint}{deleted}/purge",
        params={"api-version": KV},
        headers={"Authorization": "Bearer t"},
        verify=sim.ca_file,
        timeout=10,
    )
    assert purge.status_code == 200
    assert _put(tgt, vault, body, KV).name == name


def test_soft_deleted_vault_can_be_recovered_in_its_subscription(sim, tgt) -> None:
    vault = f"{_rg(TGT, 'rg-val')}/providers/Microsoft.KeyVault/vaults/kv-val-recover"
    body = {
        "location": "northeurope",
        "properties": {"tenantId": TENANT_ID, "sku": {"family": "A", "name": "standard"}},
    }
    _put(tgt, vault, body, KV)
    tgt.resource_groups.begin_delete("rg-val").result()  # deleting the group soft-deletes its vaults
    tgt.resource_groups.create_or_update("rg-val", ResourceGroup(location="northeurope"))
    recover = {**body, "properties": {**body["properties"], "createMode": "recover"}}
    assert _put(tgt, vault, recover, KV).name == "kv-val-recover"
    assert not _list(sim, f"/subscriptions/{TGT}/providers/Microsoft.KeyVault/deletedVaults", KV)
