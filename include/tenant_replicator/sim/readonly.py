"""Server-generated, read-only fields that real resource providers add to a GET body.

A replicator must not copy these into its writes (real azapi rejects read-only properties), and a
fidelity check must not count them as drift; so the simulator produces them the way Azure does:
always, whatever the client sent, and stable across updates.
"""

from __future__ import annotations

from collections.abc import Callable

from tenant_replicator.sim.model import fake_ip, stable_uuid

Enricher = Callable[[dict, dict, "Context"], None]


class Context:
    """What an enricher may know: the resource key and ID, its name, the tenant, when it was created."""

    def __init__(self, key: str, resource_id: str, name: str, tenant_id: str, created: str):
        self.key, self.resource_id, self.name = key, resource_id, name
        self.tenant_id, self.created = tenant_id, created


def _guid(props: dict, prev: dict, ctx: Context, field: str = "resourceGuid") -> None:
    props[field] = prev.get(field) or stable_uuid(ctx.key, field)


def _vnet(props: dict, prev: dict, ctx: Context) -> None:
    _guid(props, prev, ctx)
    props.setdefault("enableDdosProtection", False)


def _public_ip(props: dict, prev: dict, ctx: Context) -> None:
    _guid(props, prev, ctx)
    props["ipAddress"] = prev.get("ipAddress") or fake_ip(ctx.key)
    props.setdefault("publicIPAddressVersion", "IPv4")
    props.setdefault("idleTimeoutInMinutes", 4)


def _nic(props: dict, prev: dict, ctx: Context) -> None:
    _guid(props, prev, ctx)
    for index, config in enumerate(props.get("ipConfigurations") or []):
        if isinstance(config, dict):
            cprops = config.setdefault("properties", {})
            cprops["provisioningState"] = "Succeeded"
            cprops.setdefault("privateIPAddress", f"10.0.1.{int(stable_uuid(ctx.key)[:2], 16) % 200 + index + 4}")
            cprops.setdefault("privateIPAddressVersion", "IPv4")
            if config.get("name"):
                config["id"] = f"{ctx.resource_id}/ipConfigurations/{config['name']}"
                config["type"] = "Microsoft.Network/networkInterfaces/ipConfigurations"


def _storage(props: dict, prev: dict, ctx: Context) -> None:
    name = ctx.name
    props["primaryEndpoints"] = {
        "dfs": f"https://{name}.dfs.core.windows.net/",
        "web": f"https://{name}.z6.web.core.windows.net/",
        "blob": f"https://{name}.blob.core.windows.net/",
        "queue": f"https://{name}.queue.core.windows.net/",
        "table": f"https://{name}.table.core.windows.net/",
        "file": f"https://{name}.file.core.windows.net/",
    }
    props["creationTime"] = prev.get("creationTime") or ctx.created
    props["statusOfPrimary"] = "available"


def _vault(props: dict, prev: dict, ctx: Context) -> None:
    props["vaultUri"] = f"https://{ctx.name}.vault.azure.net/"


def _workspace(props: dict, prev: dict, ctx: Context) -> None:
    _guid(props, prev, ctx, "customerId")
    props["createdDate"] = prev.get("createdDate") or ctx.created


def _registry(props: dict, prev: dict, ctx: Context) -> None:
    props["loginServer"] = f"{ctx.name.lower()}.azurecr.io"
    props["creationDate"] = prev.get("creationDate") or ctx.created


def _site(props: dict, prev: dict, ctx: Context) -> None:
    props["defaultHostName"] = f"{ctx.name.lower()}.azurewebsites.net"
    props["hostNames"] = [props["defaultHostName"]]
    props["state"] = "Running"


def _identity(props: dict, prev: dict, ctx: Context) -> None:
    props["tenantId"] = ctx.tenant_id
    _guid(props, prev, ctx, "principalId")
    _guid(props, prev, ctx, "clientId")


def _vm(props: dict, prev: dict, ctx: Context) -> None:
    _guid(props, prev, ctx, "vmId")
    props["timeCreated"] = prev.get("timeCreated") or ctx.created


def _disk(props: dict, prev: dict, ctx: Context) -> None:
    _guid(props, prev, ctx, "uniqueId")
    props["timeCreated"] = prev.get("timeCreated") or ctx.created
    props.setdefault("diskState", prev.get("diskState") or "Unattached")


def _dcr(props: dict, prev: dict, ctx: Context) -> None:
    props["immutableId"] = prev.get("immutableId") or "dcr-" + stable_uuid(ctx.key, "immutableId").replace("-", "")


def _private_dns(props: dict, prev: dict, ctx: Context) -> None:
    props.setdefault("numberOfRecordSets", 1)
    props.setdefault("maxNumberOfRecordSets", 25000)
    props.setdefault("numberOfVirtualNetworkLinks", 0)


ENRICHERS: dict[str, Enricher] = {
    "microsoft.network/virtualnetworks": _vnet,
    "microsoft.network/networksecuritygroups": _guid,
    "microsoft.network/routetables": _guid,
    "microsoft.network/publicipaddresses": _public_ip,
    "microsoft.network/networkinterfaces": _nic,
    "microsoft.storage/storageaccounts": _storage,
    "microsoft.keyvault/vaults": _vault,
    "microsoft.operationalinsights/workspaces": _workspace,
    "microsoft.containerregistry/registries": _registry,
    "microsoft.web/sites": _site,
    "microsoft.managedidentity/userassignedidentities": _identity,
    "microsoft.compute/virtualmachines": _vm,
    "microsoft.compute/disks": _disk,
    "microsoft.insights/datacollectionrules": _dcr,
    "microsoft.network/privatednszones": _private_dns,
}


# Write-only properties: accepted on PUT, never returned on GET (passwords, secret values), as in Azure.
WRITE_ONLY: dict[str, tuple[str, ...]] = {
    "microsoft.compute/virtualmachines": ("osProfile.adminPassword",),
    "microsoft.compute/virtualmachinescalesets": ("virtualMachineProfile.osProfile.adminPassword",),
    "microsoft.sql/servers": ("administratorLoginPassword",),
    "microsoft.dbforpostgresql/flexibleservers": ("administratorLoginPassword",),
    "microsoft.dbformysql/flexibleservers": ("administratorLoginPassword",),
    "microsoft.containerservice/managedclusters": ("windowsProfile.adminPassword",),
    "microsoft.keyvault/vaults/secrets": ("value",),
    "microsoft.automation/automationaccounts/credentials": ("password",),
}


def drop_write_only(full_type: str, props: dict) -> None:
    """Forget write-only properties before the body is stored (so no GET, journal or snapshot has them)."""
    for path in WRITE_ONLY.get(full_type.lower(), ()):
        *parents, leaf = path.split(".")
        node = props
        for seg in parents:
            node = node.get(seg) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(leaf, None)


def enrich(full_type: str, body: dict, previous: dict | None, ctx: Context) -> dict:
    """Add the read-only fields for `full_type` to `body['properties']` (in place; returns body)."""
    props = body.setdefault("properties", {})
    drop_write_only(full_type, props)
    if not isinstance(props, dict):
        props = body["properties"] = {}
    prev_props = (previous or {}).get("properties") or {}
    enricher = ENRICHERS.get(full_type.lower())
    if enricher:
        enricher(props, prev_props, ctx)
    props["provisioningState"] = "Succeeded"
    return body


def enrich_identity(body: dict, ctx: Context) -> dict:
    """Managed identities get principal/client IDs from Azure AD, never from the client."""
    identity = body.get("identity")
    if not isinstance(identity, dict):
        return body
    kind = str(identity.get("type", "")).lower()
    if "systemassigned" in kind:
        identity["principalId"] = stable_uuid(ctx.key, "systemAssigned.principalId")
        identity["tenantId"] = ctx.tenant_id
    users = identity.get("userAssignedIdentities")
    if isinstance(users, dict):
        for uid in list(users):
            users[uid] = {
                "principalId": stable_uuid(uid, "principalId"),
                "clientId": stable_uuid(uid, "clientId"),
            }
    return body
