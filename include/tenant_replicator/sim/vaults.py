"""Key vault soft delete: a deleted vault keeps its (globally unique) name for its retention period.

Replication that deletes and re-creates a vault, or re-uses a source vault's name, meets
`ConflictError` until the soft-deleted vault is purged (`POST .../deletedVaults/{name}/purge`) or
recovered (`createMode: recover`). Soft-deleted vaults live in `state["deletedVaults"]` by name.
"""

from __future__ import annotations

import datetime as dt

from tenant_replicator.sim.wire import ArmError, Response

VAULTS = "microsoft.keyvault/vaults"


def soft_delete_under(state: dict, key: str, now: str) -> int:
    """Move every vault at or under `key` (a vault, or a whole resource group) to deletedVaults."""
    moved = 0
    for vault_key, record in list(state["resources"].items()):
        body = record["body"]
        if body.get("type", "").lower() != VAULTS or not (vault_key == key or vault_key.startswith(key + "/")):
            continue
        props = body.get("properties") or {}
        if props.get("enableSoftDelete") is False:
            continue
        days = int(props.get("softDeleteRetentionInDays") or 90)
        subscription = body["id"].split("/")[2]
        deleted = dt.datetime.strptime(now[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.UTC)
        state["deletedVaults"][body["name"].lower()] = {
            "id": f"/subscriptions/{subscription}/providers/Microsoft.KeyVault/locations/{body.get('location')}"
            f"/deletedVaults/{body['name']}",
            "name": body["name"],
            "type": "Microsoft.KeyVault/deletedVaults",
            "properties": {
                "vaultId": body["id"],
                "location": body.get("location"),
                "deletionDate": now,
                "scheduledPurgeDate": (deleted + dt.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "tags": body.get("tags") or {},
                "purgeProtectionEnabled": bool(props.get("enablePurgeProtection")),
            },
        }
        moved += 1
    return moved


def check_name_free(state: dict, name: str, subscription: str, body: dict) -> bool:
    """Raise 409 if `name` is soft-deleted; True when this PUT recovers it (same subscription)."""
    deleted = state["deletedVaults"].get(name.lower())
    if deleted is None:
        return False
    create_mode = str((body.get("properties") or {}).get("createMode") or "").lower()
    same_subscription = deleted["properties"]["vaultId"].split("/")[2].lower() == subscription.lower()
    if create_mode == "recover" and same_subscription:
        return True
    raise ArmError(
        409,
        "ConflictError",
        f"A vault with the same name already exists in deleted state. You need to either recover or "
        f"purge existing key vault. Follow this link https://go.microsoft.com/fwlink/?linkid=2149745 for "
        f"more information on soft-deleted vault '{name}'.",
    )


def forget(state: dict, name: str) -> None:
    state["deletedVaults"].pop(name.lower(), None)


def list_deleted(state: dict, subscription: str) -> Response:
    items = [
        v
        for _, v in sorted(state["deletedVaults"].items())
        if v["properties"]["vaultId"].split("/")[2].lower() == subscription.lower()
    ]
    return Response(200, {"value": items})


def get_deleted(state: dict, subscription: str, name: str) -> dict:
    deleted = state["deletedVaults"].get(name.lower())
    if deleted is None or deleted["properties"]["vaultId"].split("/")[2].lower() != subscription.lower():
        raise ArmError(
            404, "ResourceNotFound", f"The Resource 'Microsoft.KeyVault/deletedVaults/{name}' was not found."
        )
    return deleted


def purge(state: dict, subscription: str, name: str) -> Response:
    deleted = get_deleted(state, subscription, name)
    if deleted["properties"]["purgeProtectionEnabled"]:
        raise ArmError(409, "ConflictError", f"Vault '{name}' has purge protection enabled and cannot be purged.")
    forget(state, name)
    return Response(200)
