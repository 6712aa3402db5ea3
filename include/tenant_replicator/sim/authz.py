"""Azure AD and RBAC as far as replication meets them: a directory of principals per tenant,
built-in role definitions, and role assignments as extension resources on any scope.

A role assignment copied from another tenant names a principal this tenant does not know: ARM
answers 400 `PrincipalNotFound`, and so does the simulator. Managed identities become principals
of their subscription's tenant when they are created, as Azure AD service principals do.
"""

from __future__ import annotations

from typing import Any

from tenant_replicator.sim import model
from tenant_replicator.sim.wire import ArmError

BUILTIN_ROLES: dict[str, str] = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": "Reader",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
    "4d97b98b-1d4f-4787-a291-c67834d212e7": "Network Contributor",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1": "Storage Blob Data Reader",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
    "00482a5a-887f-4fb3-b363-3b7fe8e74483": "Key Vault Administrator",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
    "43d0d8ad-25c7-4714-9337-8ba259a9fe05": "Monitoring Reader",
    "7f951dda-4ed3-4680-a7ca-43fe172d538d": "AcrPull",
    "9980e02c-c2be-4d73-94e8-173b1dc7cf3c": "Virtual Machine Contributor",
    "de139f84-1756-47ae-9be6-808fbbe84772": "Website Contributor",
}
ROLE_ASSIGNMENTS = "microsoft.authorization/roleassignments"


def add_principal(state: dict, tenant_id: str, principal_id: str, kind: str, display_name: str) -> None:
    state.setdefault("principals", {})[principal_id.lower()] = {
        "id": principal_id,
        "tenantId": tenant_id,
        "principalType": kind,
        "displayName": display_name,
    }


def seed_directory(state: dict, tenant_id: str, label: str, users: int = 4, groups: int = 2, apps: int = 2) -> list:
    """Deterministic users, groups and service principals for a tenant; returns their IDs."""
    ids = []
    for kind, count in (("User", users), ("Group", groups), ("ServicePrincipal", apps)):
        for index in range(count):
            principal = model.stable_uuid(tenant_id, kind, str(index))
            add_principal(state, tenant_id, principal, kind, f"{label} {kind.lower()} {index + 1}")
            ids.append(principal)
    return ids


def register_identities(state: dict, doc: dict, tenant_id: str) -> None:
    """A created managed identity (user- or system-assigned) is a service principal of the tenant."""
    full_type = str(doc.get("type", "")).lower()
    props = doc.get("properties") or {}
    if full_type == "microsoft.managedidentity/userassignedidentities" and props.get("principalId"):
        add_principal(state, tenant_id, props["principalId"], "ServicePrincipal", doc["name"])
    identity = doc.get("identity") or {}
    if isinstance(identity, dict) and identity.get("principalId"):
        add_principal(state, tenant_id, identity["principalId"], "ServicePrincipal", doc["name"])


def require_principal(state: dict, tenant_id: str, principal_id: Any, where: str) -> dict:
    principal = state.get("principals", {}).get(str(principal_id).lower())
    if principal is None or principal["tenantId"].lower() != tenant_id.lower():
        raise ArmError(
            400,
            "PrincipalNotFound",
            f"Principal {principal_id} does not exist in the directory {tenant_id}. Check that you have "
            f"the correct principal ID. If you are creating this principal and then immediately "
            f"assigning a role, this error might be related to a replication delay. ({where})",
        )
    return principal


def role_definition_doc(role_guid: str, scope: str = "") -> dict:
    return {
        "id": f"{scope}/providers/Microsoft.Authorization/roleDefinitions/{role_guid}",
        "name": role_guid,
        "type": "Microsoft.Authorization/roleDefinitions",
        "properties": {
            "roleName": BUILTIN_ROLES[role_guid],
            "type": "BuiltInRole",
            "description": f"Built-in role {BUILTIN_ROLES[role_guid]}",
            "assignableScopes": ["/"],
            "permissions": [{"actions": ["*"], "notActions": [], "dataActions": [], "notDataActions": []}],
        },
    }


def role_assignment_body(
    state: dict,
    key: str,
    scope_id: str,
    name: str,
    body: dict,
    tenant_id: str,
    now: str,
    check_duplicates: bool = True,
) -> dict:
    """Validate a role assignment PUT and return the stored body."""
    props = body.get("properties")
    if not isinstance(props, dict):
        raise ArmError(400, "InvalidRoleAssignmentRequest", "The request body must contain 'properties'.")
    role_id = str(props.get("roleDefinitionId") or "")
    role_guid = role_id.rstrip("/").rsplit("/", 1)[-1].lower()
    if "/providers/microsoft.authorization/roledefinitions/" not in role_id.lower() or role_guid not in BUILTIN_ROLES:
        raise ArmError(
            400, "RoleDefinitionDoesNotExist", f"The specified role definition with ID '{role_guid}' does not exist."
        )
    principal = require_principal(state, tenant_id, props.get("principalId"), f"roleAssignments/{name}")
    for other_key, record in state["resources"].items() if check_duplicates else ():
        other = record["body"].get("properties") or {}
        if (
            other_key != key
            and record["body"].get("type", "").lower() == ROLE_ASSIGNMENTS
            and str(other.get("scope", "")).lower() == scope_id.lower()
            and str(other.get("principalId", "")).lower() == str(props["principalId"]).lower()
            and str(other.get("roleDefinitionId", "")).rsplit("/", 1)[-1].lower() == role_guid
        ):
            raise ArmError(409, "RoleAssignmentExists", "The role assignment already exists.")
    previous = (state["resources"].get(key) or {}).get("body", {}).get("properties", {})
    return {
        "id": f"{scope_id}/providers/Microsoft.Authorization/roleAssignments/{name}",
        "name": name,
        "type": "Microsoft.Authorization/roleAssignments",
        "properties": {
            "roleDefinitionId": role_id,
            "principalId": props["principalId"],
            "principalType": props.get("principalType") or principal["principalType"],
            "scope": scope_id,
            "condition": props.get("condition"),
            "conditionVersion": props.get("conditionVersion"),
            "description": props.get("description"),
            "createdOn": previous.get("createdOn") or now,
            "updatedOn": now,
            "createdBy": previous.get("createdBy") or model.stable_uuid("sim-deployer"),
            "updatedBy": model.stable_uuid("sim-deployer"),
            "delegatedManagedIdentityResourceId": None,
        },
    }


def check_access_policies(state: dict, tenant_id: str, body: dict) -> None:
    """Key vault access policies name principals (objectId) of the vault's tenant."""
    props = body.get("properties") or {}
    for index, policy in enumerate(props.get("accessPolicies") or []):
        if isinstance(policy, dict) and policy.get("objectId"):
            policy_tenant = str(policy.get("tenantId") or tenant_id)
            require_principal(state, policy_tenant, policy["objectId"], f"properties.accessPolicies[{index}]")
            if policy_tenant.lower() != tenant_id.lower():
                require_principal(state, tenant_id, policy["objectId"], f"properties.accessPolicies[{index}]")
