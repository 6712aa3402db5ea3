"""The simulator's data model: pure functions over the state dict (no locking, no I/O).

State layout (also the JSON state file):
    {"schema": 1, "sequence": int,
     "subscriptions": {sub_lower: {subscriptionId, displayName, tenantId, state, ...}},
     "resourceGroups": {rg_key: record}, "resources": {resource_key: record},
     "counters": {"reads": {sub: n}, "writes": {sub: n}}}
    record = {"body": <ARM GET body>, "seq": int, "createdTime": iso, "changedTime": iso}

Child collections that ARM also shows inline (VNet subnets, NSG rules, routes) are stored once,
as their own records; the parent's body is rendered with them on the way out, so the inline view
and the child GET can never disagree.
"""

from __future__ import annotations

import bisect
import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

from tenant_replicator.sim import registry
from tenant_replicator.sim.paths import rg_key

SCHEMA = 1
_UUID_NS = uuid.UUID("6f1d3c0a-2b7e-4c55-9a1e-5d0c7b3e9f21")


def json_copy(value: Any) -> Any:
    """Deep copy of JSON-shaped data, several times faster than `copy.deepcopy` (no memo, no types)."""
    if isinstance(value, dict):
        return {k: json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_copy(v) for v in value]
    return value


def new_state() -> dict:
    return {
        "schema": SCHEMA,
        "sequence": 0,
        "subscriptions": {},
        "resourceGroups": {},
        "resources": KeyedDict(),
        "operations": {},
        "principals": {},
        "deletedVaults": {},
        "counters": {"reads": {}, "writes": {}},
    }


def stable_uuid(*parts: str) -> str:
    """Deterministic GUIDs for server-generated fields, so seeds and re-creations are reproducible."""
    return str(uuid.uuid5(_UUID_NS, "|".join(p.lower() for p in parts)))


def etag_for(key: str, seq: int) -> str:
    return f'W/"{stable_uuid(key, str(seq))}"'


def next_seq(state: dict) -> int:
    state["sequence"] = int(state.get("sequence", 0)) + 1
    return state["sequence"]


# --- subscriptions -------------------------------------------------------------------------------


def add_subscription(state: dict, subscription_id: str, display_name: str, tenant_id: str) -> dict:
    doc = {
        "id": f"/subscriptions/{subscription_id}",
        "authorizationSource": "RoleBased",
        "managedByTenants": [],
        "subscriptionId": subscription_id,
        "tenantId": tenant_id,
        "displayName": display_name,
        "state": "Enabled",
        "subscriptionPolicies": {
            "locationPlacementId": "Public_2014-09-01",
            "quotaId": "EnterpriseAgreement_2014-09-01",
            "spendingLimit": "Off",
        },
    }
    state["subscriptions"][subscription_id.lower()] = doc
    return doc


def get_subscription(state: dict, subscription_id: str) -> dict | None:
    return state["subscriptions"].get(subscription_id.lower())


# --- resource groups -----------------------------------------------------------------------------


def get_resource_group(state: dict, subscription_id: str, name: str) -> dict | None:
    return state["resourceGroups"].get(rg_key(subscription_id, name))


def put_resource_group(state: dict, subscription_id: str, name: str, body: dict, now: str) -> tuple[dict, bool]:
    """Create or update; the stored casing of name and subscription is the first PUT's."""
    key = rg_key(subscription_id, name)
    existing = state["resourceGroups"].get(key)
    sub_doc = get_subscription(state, subscription_id)
    sub_id = sub_doc["subscriptionId"] if sub_doc else subscription_id
    stored_name = existing["body"]["name"] if existing else name
    doc: dict[str, Any] = {
        "id": f"/subscriptions/{sub_id}/resourceGroups/{stored_name}",
        "name": stored_name,
        "type": "Microsoft.Resources/resourceGroups",
        "location": registry.normalize_location(body["location"]),
    }
    if body.get("managedBy"):
        doc["managedBy"] = body["managedBy"]
    if body.get("tags"):
        doc["tags"] = dict(body["tags"])
    doc["properties"] = {"provisioningState": "Succeeded"}
    seq = next_seq(state)
    created = existing is None
    state["resourceGroups"][key] = {
        "body": doc,
        "seq": existing["seq"] if existing else seq,
        "createdTime": existing["createdTime"] if existing else now,
        "changedTime": now,
    }
    return doc, created


def delete_resource_group(state: dict, subscription_id: str, name: str) -> bool:
    key = rg_key(subscription_id, name)
    if state["resourceGroups"].pop(key, None) is None:
        return False
    delete_tree(state, key)
    return True


def list_resource_groups(state: dict, subscription_id: str) -> list[tuple[str, dict]]:
    prefix = f"/subscriptions/{subscription_id.lower()}/resourcegroups/"
    return sorted((k, r) for k, r in state["resourceGroups"].items() if k.startswith(prefix))


# --- resources -----------------------------------------------------------------------------------


def is_top_level(key: str) -> bool:
    """`.../providers/{ns}/{type}/{name}` with exactly one type/name pair, not an extension resource."""
    head, _, tail = key.rpartition("/providers/")
    if tail.count("/") != 2 or "/providers/" in head:
        return False
    return tail.rsplit("/", 1)[0] not in registry.EXTENSION_TYPES


class KeyedDict(dict):
    """A dict that keeps its keys sorted (and its top-level resource keys apart), built on first use
    and then maintained per insert/delete, so prefix listings are O(log n + k) at 100k resources."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._sorted: list[str] | None = None
        self._top: list[str] | None = None

    def _index(self) -> tuple[list[str], list[str]]:
        if self._sorted is None or self._top is None:
            self._sorted = sorted(self)
            self._top = [k for k in self._sorted if is_top_level(k)]
        return self._sorted, self._top

    def __setitem__(self, key: str, value: Any) -> None:
        if self._sorted is not None and key not in self:
            bisect.insort(self._sorted, key)
            if self._top is not None and is_top_level(key):
                bisect.insort(self._top, key)
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._forget(key)

    def pop(self, key: str, *default: Any) -> Any:
        present = key in self
        value = super().pop(key, *default)
        if present:
            self._forget(key)
        return value

    def _forget(self, key: str) -> None:
        for keys in (self._sorted, self._top):
            if keys is not None:
                index = bisect.bisect_left(keys, key)
                if index < len(keys) and keys[index] == key:
                    del keys[index]

    def clear(self) -> None:
        super().clear()
        self._sorted = self._top = None

    def popitem(self) -> tuple[str, Any]:
        key, value = super().popitem()
        self._forget(key)
        return key, value

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def keys_with_prefix(self, prefix: str, top_level_only: bool = False) -> list[str]:
        sorted_keys, top = self._index()
        keys = top if top_level_only else sorted_keys
        lo = bisect.bisect_left(keys, prefix)
        hi = bisect.bisect_left(keys, prefix[:-1] + chr(ord(prefix[-1]) + 1)) if prefix else len(keys)
        return keys[lo:hi]


def _keys_with_prefix(resources: dict, prefix: str, top_level_only: bool = False) -> list[str]:
    if isinstance(resources, KeyedDict):
        return resources.keys_with_prefix(prefix, top_level_only)
    return sorted(k for k in resources if k.startswith(prefix) and (not top_level_only or is_top_level(k)))


def list_resources(
    state: dict, prefix: str, top_level_only: bool = True, after: str | None = None
) -> Iterator[tuple[str, dict]]:
    """(key, record) under `prefix` in key order, lazily, starting after key `after` (keyset paging)."""
    resources = state["resources"]
    keys = _keys_with_prefix(resources, prefix, top_level_only)
    start = bisect.bisect_right(keys, after) if after else 0
    return ((keys[i], resources[keys[i]]) for i in range(start, len(keys)))


def direct_children(state: dict, parent_key: str, child_type: str) -> list[tuple[str, dict]]:
    prefix = f"{parent_key}/{child_type.lower()}/"
    resources = state["resources"]
    items = [(k, resources[k]) for k in _keys_with_prefix(resources, prefix) if "/" not in k[len(prefix) :]]
    return sorted(items, key=lambda kv: kv[1]["seq"])


def delete_tree(state: dict, key: str) -> int:
    """Remove a resource (or everything under a resource group) and all its children."""
    resources = state["resources"]
    doomed = _keys_with_prefix(resources, key + "/") + ([key] if key in resources else [])
    for k in doomed:
        del resources[k]
    return len(doomed)


def render(state: dict, key: str) -> dict:
    """The GET body of a stored resource, inline children included."""
    record = state["resources"][key]
    body = json_copy(record["body"])
    found = registry.find_type(_type_path_of(body))
    if found:
        for child_type in found[1].inline_children:
            children = direct_children(state, key, child_type)
            body.setdefault("properties", {})[child_type] = [json_copy(r["body"]) for _, r in children]
    return body


def _type_path_of(body: dict) -> str:
    return str(body.get("type", ""))


def store_resource(state: dict, key: str, body: dict, now: str, owned: bool = False) -> bool:
    """Store one resource body (already server-shaped); split out inline children. True if created.
    `owned`: the caller hands over a body nobody else holds, so it is stored without copying."""
    existing = state["resources"].get(key)
    seq = next_seq(state)
    body = body if owned else json_copy(body)
    found = registry.find_type(_type_path_of(body))
    inline: dict[str, list[dict]] = {}
    if found:
        props = body.get("properties") or {}
        for child_type in found[1].inline_children:
            if isinstance(props.get(child_type), list):
                inline[child_type] = props.pop(child_type)
    if found and found[0].namespace == "Microsoft.Network":
        body["etag"] = etag_for(key, seq)
    state["resources"][key] = {
        "body": body,
        "seq": existing["seq"] if existing else seq,
        "createdTime": existing["createdTime"] if existing else now,
        "changedTime": now,
    }
    for child_type, items in inline.items():
        _replace_inline_children(state, key, body, child_type, items, now, replace=existing is not None)
    return existing is None


def _replace_inline_children(
    state: dict, parent_key: str, parent: dict, child_type: str, items: list[dict], now: str, replace: bool = True
) -> None:
    """An inline list in a parent PUT is the whole truth about that child collection (a new parent has
    no old children to remove: skipping that scan keeps bulk seeding linear)."""
    wanted: dict[str, dict] = {}
    for item in items:
        if isinstance(item, dict) and item.get("name"):
            wanted[f"{parent_key}/{child_type.lower()}/{str(item['name']).lower()}"] = item
    for old_key, _ in direct_children(state, parent_key, child_type) if replace else ():
        if old_key not in wanted:
            delete_tree(state, old_key)
    found = registry.find_type(f"{parent['type']}/{child_type}")
    child_type_name = registry.returned_type(*found) if found else f"{parent['type']}/{child_type}"
    for child_key, item in wanted.items():
        previous = state["resources"].get(child_key)
        name = previous["body"]["name"] if previous else str(item["name"])
        child = {
            "name": name,
            "id": f"{parent['id']}/{child_type}/{name}",
            "type": child_type_name,
            "properties": dict(item.get("properties") or {}),
        }
        child["properties"]["provisioningState"] = "Succeeded"
        store_resource(state, child_key, child, now)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (what ARM PATCH means for tags, sku and properties)."""
    if not isinstance(patch, dict):
        return json_copy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


def fake_ip(key: str) -> str:
    digest = hashlib.sha256(key.encode()).digest()
    return f"20.{digest[0] % 250 + 1}.{digest[1]}.{digest[2] % 250 + 2}"
