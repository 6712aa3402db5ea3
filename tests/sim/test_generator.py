"""Generated tenants: exact preset sizes, determinism, and references that all resolve."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from tenant_replicator.sim import generator, links, model
from tenant_replicator.sim.seed import SOURCE_SUBSCRIPTION_ID as SRC
from tenant_replicator.sim.seed import TARGET_SUBSCRIPTION_ID as TGT
from tenant_replicator.sim.seed import TENANT_ID


def _top(state: dict, sub: str) -> list[dict]:
    prefix = f"/subscriptions/{sub}/resourcegroups/".lower()
    return [r["body"] for k, r in state["resources"].items() if k.startswith(prefix) and model.is_top_level(k)]


def _groups(state: dict, sub: str) -> list[dict]:
    return [r["body"] for k, r in state["resourceGroups"].items() if k.startswith(f"/subscriptions/{sub}/".lower())]


@pytest.fixture(scope="module")
def seed410() -> dict:
    return generator.generate("seed-410")


def test_seed_410_sizes_types_and_determinism(seed410) -> None:
    source, target = _top(seed410, SRC), _top(seed410, TGT)
    assert len(source) == 410 and len(target) == 158
    types = Counter(r["type"] for r in source)
    assert 35 <= len(types) <= 42, types
    assert generator.generate("seed-410") == seed410
    assert generator.generate(size=410, seed=1) != generator.generate(size=410, seed=2)
    # Children and extension resources come on top of the top-level count, as in Azure.
    assert any("/providers/microsoft.authorization/roleassignments/" in k for k in seed410["resources"])
    assert any("/subnets/" in k for k in seed410["resources"]) and any("/databases/" in k for k in seed410["resources"])


def test_every_reference_resolves(seed410) -> None:
    checked = 0
    for key, record in seed410["resources"].items():
        body = record["body"]
        scanned = {"properties": body.get("properties"), "identity": body.get("identity")}
        for path, resource_id in links.find_ids(scanned, frozenset()):
            target = resource_id.lower()
            if target.startswith(key + "/") or target == key:
                continue
            assert links.resolves(seed410, target), (body["id"], path, resource_id)
            checked += 1
    assert checked > 500


def test_realistic_relations(seed410) -> None:
    source = _top(seed410, SRC)
    by_type: dict[str, list[dict]] = {}
    for body in source:
        by_type.setdefault(body["type"], []).append(body)
    assert "microsoft.insights/dataCollectionRules" in by_type  # the casing ARM really returns
    nic = by_type["Microsoft.Network/networkInterfaces"][0]
    assert "/subnets/" in nic["properties"]["ipConfigurations"][0]["properties"]["subnet"]["id"]
    vm = by_type["Microsoft.Compute/virtualMachines"][0]
    assert vm["properties"]["networkProfile"]["networkInterfaces"][0]["id"].lower() in seed410["resources"]
    pe = by_type["Microsoft.Network/privateEndpoints"][0]["properties"]
    assert "/subnets/snet-pe" in pe["subnet"]["id"]
    assert "storageAccounts" in pe["privateLinkServiceConnections"][0]["properties"]["privateLinkServiceId"]
    groups = {g["name"]: g for g in _groups(seed410, SRC)}
    assert "NetworkWatcherRG" in groups
    node_groups = [g for name, g in groups.items() if name.startswith("MC_")]
    assert node_groups and all("managedClusters" in g["managedBy"] for g in node_groups)
    in_node_group = [r for r in source if "/resourceGroups/MC_" in r["id"]]
    assert in_node_group and all(r.get("managedBy") for r in in_node_group)
    diag = [r["body"] for k, r in seed410["resources"].items() if "/diagnosticsettings/" in k]
    assert diag and all("workspaces" in d["properties"]["workspaceId"] for d in diag)
    principals = seed410["principals"]
    assignments = [r["body"] for k, r in seed410["resources"].items() if "/roleassignments/" in k]
    assert assignments and all(principals[a["properties"]["principalId"]]["tenantId"] == TENANT_ID for a in assignments)
    vault = by_type["Microsoft.KeyVault/vaults"][0]["properties"]
    assert all(p["objectId"] in principals for p in vault["accessPolicies"]) and vault["accessPolicies"]


@pytest.mark.slow
def test_enterprise_preset_and_100k_size() -> None:
    state = generator.generate("enterprise-4466")
    assert len(_top(state, SRC)) == 4466 and len(_groups(state, SRC)) == 247
    started = time.monotonic()
    big = generator.generate(size=100_000)
    assert time.monotonic() - started < 60
    assert len(_top(big, SRC)) == 100_000


def test_server_serves_a_preset(fresh_sim) -> None:
    fresh_sim.start("--preset", "seed-410")
    ids = [r.id for r in fresh_sim.client(SRC).resources.list(top=1000)]
    assert len(ids) == len(set(ids)) == 410
    assert len(list(fresh_sim.client(TGT).resources.list())) == 158
