"""The ARM simulator driven by the real Azure SDK (azure-mgmt-resource) over loopback HTTPS."""

from __future__ import annotations

import math
import ssl
from collections import Counter

import pytest
import requests
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.resource.resources.models import GenericResource, ResourceGroup, ResourceGroupPatchable
from cryptography import x509

from tenant_replicator.sim import model, registry
from tenant_replicator.sim.seed import (
    SOURCE_SUBSCRIPTION_ID,
    TARGET_SUBSCRIPTION_ID,
    TENANT_ID,
    seed_state,
)

NET = "2024-05-01"
SRC, TGT = SOURCE_SUBSCRIPTION_ID, TARGET_SUBSCRIPTION_ID


def _top_level(state: dict, subscription: str) -> list[dict]:
    prefix = f"/subscriptions/{subscription}/resourcegroups/".lower()
    return [r["body"] for k, r in state["resources"].items() if k.startswith(prefix) and model.is_top_level(k)]


def _vnet_id(sub: str, rg: str, name: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/virtualNetworks/{name}"


def _api_version(client, resource_type: str) -> str:
    """Newest stable api-version the simulator registers for a type, found the way a scanner would."""
    namespace, _, type_path = resource_type.partition("/")
    provider = client.providers.get(namespace)
    spec = next(t for t in provider.resource_types if t.resource_type.lower() == type_path.lower())
    return max(v for v in spec.api_versions if "preview" not in v)


def _error_code(exc: HttpResponseError) -> str:
    return exc.error.code if exc.error else ""


# --- seed ----------------------------------------------------------------------------------------


def test_seed_is_deterministic_and_realistic() -> None:
    state = seed_state()
    assert state == seed_state()
    source = _top_level(state, SRC)
    types = Counter(r["type"] for r in source)
    assert len(source) >= 30
    assert len(types) >= 10
    assert "microsoft.insights/dataCollectionRules" in types  # the casing real ARM sometimes returns
    assert sum(1 for r in source if r.get("tags")) >= 2
    for body in source:
        assert registry.find_type(body["type"]) is not None, body["type"]
        assert body["properties"]["provisioningState"] == "Succeeded"
    # Cross-references by full ARM ID: the DCR points at the workspace, the VM at its NIC and disk.
    ids = {r["id"].lower() for r in source}
    dcr = next(r for r in source if r["type"].lower() == "microsoft.insights/datacollectionrules")
    assert dcr["properties"]["destinations"]["logAnalytics"][0]["workspaceResourceId"].lower() in ids
    vm = next(r for r in source if r["type"] == "Microsoft.Compute/virtualMachines")
    assert vm["properties"]["networkProfile"]["networkInterfaces"][0]["id"].lower() in ids
    assert vm["properties"]["storageProfile"]["osDisk"]["managedDisk"]["id"].lower() in ids
    assert "adminPassword" not in vm["properties"]["osProfile"]
    storage = next(r for r in source if r["type"] == "Microsoft.Storage/storageAccounts")
    assert storage["properties"]["primaryEndpoints"]["blob"].startswith(f"https://{storage['name']}.blob.")
    vault = next(r for r in source if r["type"] == "Microsoft.KeyVault/vaults")
    assert vault["properties"]["tenantId"] == TENANT_ID and vault["properties"]["vaultUri"]
    # The target has resources of its own, in a group the source does not have.
    target = _top_level(state, TGT)
    assert len(target) == 3 and all("/resourceGroups/rg-legacy/" in r["id"] for r in target)
    assert not {r["name"] for r in target} & {r["name"] for r in source}


# --- listing -------------------------------------------------------------------------------------


def test_list_resources_pages_with_next_link(sim) -> None:
    expected = {r["id"] for r in _top_level(seed_state(), SRC)}
    client = sim.client(SRC)
    sim.hook("POST", "stats/reset")
    paged = [r.id for r in client.resources.list(top=4)]
    reads = sim.hook("GET", "stats")["reads"][SRC]
    assert reads == math.ceil(len(expected) / 4)  # one request per page: nextLink was followed
    assert len(paged) == len(set(paged)) == len(expected)
    assert set(paged) == expected
    assert {r.id for r in client.resources.list()} == expected
    # List items omit properties (like ARM) unless expanded.
    first = next(iter(client.resources.list(top=1)))
    assert first.properties is None
    expanded = next(iter(client.resources.list(top=1, expand="properties,createdTime")))
    assert expanded.properties["provisioningState"] == "Succeeded" and expanded.created_time is not None


def test_list_resources_filters_by_type_case_insensitively(sim) -> None:
    seeded = [r["id"] for r in _top_level(seed_state(), SRC) if r["type"] == "Microsoft.Network/virtualNetworks"]
    got = [r.id for r in sim.client(SRC).resources.list(filter="resourceType eq 'microsoft.network/VIRTUALNETWORKS'")]
    assert sorted(got) == sorted(seeded) and len(got) >= 2
    in_group = list(sim.client(TGT).resources.list_by_resource_group("RG-LEGACY"))
    assert {r.name for r in in_group} == {r["name"] for r in _top_level(seed_state(), TGT)}


def test_resource_groups_list_create_and_casing(sim) -> None:
    client = sim.client(TGT)
    before = {g.name for g in client.resource_groups.list()}
    assert before == {"rg-legacy"}
    created = client.resource_groups.create_or_update(
        "rg-Replica-01", ResourceGroup(location="North Europe", tags={"iteration": "1"})
    )
    assert created.location == "northeurope" and created.properties.provisioning_state == "Succeeded"
    # ARM paths are case-insensitive; the stored casing is the first PUT's.
    again = client.resource_groups.create_or_update("RG-REPLICA-01", ResourceGroup(location="northeurope"))
    assert again.name == "rg-Replica-01"
    assert client.resource_groups.get("rg-replica-01").id.endswith("/resourceGroups/rg-Replica-01")
    patched = client.resource_groups.update("rg-replica-01", ResourceGroupPatchable(tags={"owner": "dr"}))
    assert patched.tags == {"owner": "dr"}
    assert {g.name for g in client.resource_groups.list(top=1)} == before | {"rg-Replica-01"}
    with pytest.raises(HttpResponseError) as moved:
        client.resource_groups.create_or_update("rg-replica-01", ResourceGroup(location="westeurope"))
    assert _error_code(moved.value) == "InvalidResourceGroupLocation"


# --- resources by ID -----------------------------------------------------------------------------


def test_resource_lifecycle_by_id_with_inline_children(sim) -> None:
    client = sim.client(TGT)
    client.resource_groups.create_or_update("rg-net-dr", ResourceGroup(location="northeurope"))
    vnet_id = _vnet_id(TGT, "rg-net-dr", "vnet-dr")
    body = GenericResource(
        location="North Europe",
        tags={"env": "dr"},
        properties={
            "addressSpace": {"addressPrefixes": ["10.20.0.0/16"]},
            "subnets": [{"name": "snet-a", "properties": {"addressPrefix": "10.20.1.0/24"}}],
        },
    )
    vnet = client.resources.begin_create_or_update_by_id(vnet_id, body, api_version=NET).result()
    assert vnet.id == vnet_id and vnet.type == "Microsoft.Network/virtualNetworks"
    assert vnet.location == "northeurope" and vnet.tags == {"env": "dr"}
    assert vnet.properties["provisioningState"] == "Succeeded" and vnet.properties["resourceGuid"]
    assert vnet.properties["subnets"][0]["id"] == f"{vnet_id}/subnets/snet-a"

    inline = client.resources.get_by_id(f"{vnet_id.upper()}/SUBNETS/SNET-A", api_version=NET)
    assert inline.id == f"{vnet_id}/subnets/snet-a" and inline.properties["addressPrefix"] == "10.20.1.0/24"

    client.resources.begin_create_or_update_by_id(
        f"{vnet_id}/subnets/snet-b",
        GenericResource(properties={"addressPrefix": "10.20.2.0/24"}),
        api_version=NET,
    ).result()
    names = [s["name"] for s in client.resources.get_by_id(vnet_id, api_version=NET).properties["subnets"]]
    assert names == ["snet-a", "snet-b"]

    patched = client.resources.begin_update_by_id(
        vnet_id, GenericResource(tags={"env": "dr", "tier": "1"}), api_version=NET
    ).result()
    assert patched.tags == {"env": "dr", "tier": "1"} and len(patched.properties["subnets"]) == 2

    assert client.resources.check_existence_by_id(vnet_id, api_version=NET)
    client.resources.begin_delete_by_id(vnet_id, api_version=NET).result()
    assert not client.resources.check_existence_by_id(vnet_id, api_version=NET)
    with pytest.raises(ResourceNotFoundError) as gone:
        client.resources.get_by_id(f"{vnet_id}/subnets/snet-b", api_version=NET)
    assert _error_code(gone.value) == "ResourceNotFound"


def test_put_returns_201_then_200_and_dcr_keeps_arm_casing(sim) -> None:
    headers = {"Authorization": "Bearer sim"}
    dcr = f"/subscriptions/{TGT}/resourceGroups/rg-legacy/providers/Microsoft.Insights/dataCollectionRules/dcr-test"
    url = f"{sim.endpoint}{dcr}?api-version=2022-06-01"
    body = {"location": "northeurope", "properties": {"dataFlows": []}}
    first = requests.put(url, json=body, headers=headers, verify=sim.ca_file, timeout=10)
    second = requests.put(url, json=body, headers=headers, verify=sim.ca_file, timeout=10)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["type"] == "microsoft.insights/dataCollectionRules"
    assert first.json()["properties"]["immutableId"] == second.json()["properties"]["immutableId"]


def test_resource_group_delete_cascades(sim) -> None:
    client = sim.client(TGT)
    legacy = [(r.id, _api_version(client, r.type)) for r in client.resources.list_by_resource_group("rg-legacy")]
    assert len(legacy) == 3
    for resource_id, version in legacy:
        assert client.resources.check_existence_by_id(resource_id, api_version=version)
    client.resource_groups.begin_delete("rg-legacy").result()
    assert list(client.resources.list()) == []
    for resource_id, version in legacy:
        assert not client.resources.check_existence_by_id(resource_id, api_version=version)


# --- errors --------------------------------------------------------------------------------------


def test_arm_errors_use_the_error_envelope(sim) -> None:
    client = sim.client(TGT)
    orphan = f"{_vnet_id(TGT, 'rg-legacy', 'vnet-missing')}/subnets/s1"
    with pytest.raises(ResourceNotFoundError) as parent:
        client.resources.begin_create_or_update_by_id(
            orphan, GenericResource(properties={"addressPrefix": "10.0.0.0/24"}), api_version=NET
        ).result()
    assert _error_code(parent.value) == "ParentResourceNotFound"

    vnet_body = GenericResource(
        location="northeurope", properties={"addressSpace": {"addressPrefixes": ["10.9.0.0/16"]}}
    )
    with pytest.raises(HttpResponseError) as version:
        client.resources.begin_create_or_update_by_id(
            _vnet_id(TGT, "rg-legacy", "v"), vnet_body, api_version="2099-01-01"
        ).result()
    assert version.value.status_code == 400 and _error_code(version.value) == "NoRegisteredProviderFound"

    with pytest.raises(HttpResponseError) as bad_type:
        client.resources.get_by_id(
            f"/subscriptions/{TGT}/resourceGroups/rg-legacy/providers/Microsoft.Network/virtualNetwork/v",
            api_version=NET,
        )
    assert bad_type.value.status_code == 400 and _error_code(bad_type.value) == "InvalidResourceType"

    with pytest.raises(ResourceNotFoundError) as no_group:
        client.resources.begin_create_or_update_by_id(
            _vnet_id(TGT, "rg-nope", "v"), vnet_body, api_version=NET
        ).result()
    assert _error_code(no_group.value) == "ResourceGroupNotFound"

    with pytest.raises(ResourceNotFoundError) as missing:
        client.resources.get_by_id(_vnet_id(TGT, "rg-legacy", "nope"), api_version=NET)
    assert _error_code(missing.value) == "ResourceNotFound"


def test_http_level_errors(sim) -> None:
    url = f"{sim.endpoint}/subscriptions/{TGT}/resourcegroups"
    no_auth = requests.get(f"{url}?api-version=2025-04-01", verify=sim.ca_file, timeout=10)
    assert no_auth.status_code == 401 and no_auth.json()["error"]["code"] == "AuthenticationFailed"
    auth = {"Authorization": "Bearer anything"}
    no_version = requests.get(url, headers=auth, verify=sim.ca_file, timeout=10)
    assert no_version.status_code == 400 and no_version.json()["error"]["code"] == "MissingApiVersionParameter"
    not_json = requests.put(
        f"{url}/rg-legacy/providers/Microsoft.Network/virtualNetworks/v?api-version={NET}",
        data=b"{not json",
        headers=auth,
        verify=sim.ca_file,
        timeout=10,
    )
    assert not_json.status_code == 400 and not_json.json()["error"]["code"] == "InvalidRequestContent"
    unknown_sub = requests.get(
        f"{sim.endpoint}/subscriptions/00000000-0000-0000-0000-000000000000/resources?api-version=2025-04-01",
        headers=auth,
        verify=sim.ca_file,
        timeout=10,
    )
    assert unknown_sub.status_code == 404 and unknown_sub.json()["error"]["code"] == "SubscriptionNotFound"


def test_globally_unique_names_conflict_across_subscriptions(sim) -> None:
    source_account = next(r for r in _top_level(seed_state(), SRC) if r["type"] == "Microsoft.Storage/storageAccounts")
    target_id = (
        f"/subscriptions/{TGT}/resourceGroups/rg-legacy/providers/Microsoft.Storage/storageAccounts/"
        f"{source_account['name']}"
    )
    body = GenericResource(location="northeurope", kind="StorageV2", sku={"name": "Standard_LRS"})
    with pytest.raises(HttpResponseError) as taken:
        sim.client(TGT).resources.begin_create_or_update_by_id(target_id, body, api_version="2023-05-01").result()
    assert taken.value.status_code == 409 and _error_code(taken.value) == "StorageAccountAlreadyTaken"


def test_injected_throttling_carries_retry_after(sim) -> None:
    sim.hook(
        "POST",
        "faults",
        {"faults": [{"method": "GET", "path_contains": "/resources", "status": 429, "retry_after": 2, "times": 1}]},
    )
    url = f"{sim.endpoint}/subscriptions/{SRC}/resources?api-version=2025-04-01"
    auth = {"Authorization": "Bearer x"}
    throttled = requests.get(url, headers=auth, verify=sim.ca_file, timeout=10)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "2"
    assert throttled.json()["error"]["code"] == "TooManyRequests"
    assert requests.get(url, headers=auth, verify=sim.ca_file, timeout=10).status_code == 200


# --- providers -----------------------------------------------------------------------------------


def test_providers_report_registered_types_and_versions(sim) -> None:
    client = sim.client(SRC)
    network = client.providers.get("microsoft.network")
    assert network.namespace == "Microsoft.Network" and network.registration_state == "Registered"
    vnets = next(t for t in network.resource_types if t.resource_type == "virtualNetworks")
    assert NET in vnets.api_versions and any("preview" in v for v in vnets.api_versions)
    namespaces = {p.namespace for p in client.providers.list()}
    seeded_namespaces = {registry.find_type(r["type"])[0].namespace for r in _top_level(seed_state(), SRC)}
    assert seeded_namespaces <= namespaces
    with pytest.raises(ResourceNotFoundError):
        client.providers.get("Microsoft.DoesNotExist")


# --- counters, TLS, persistence ------------------------------------------------------------------


def test_stats_count_writes_per_subscription(sim) -> None:
    client = sim.client(TGT)
    before = sim.hook("GET", "stats")
    client.resource_groups.create_or_update("rg-count", ResourceGroup(location="northeurope"))
    for index in range(3):
        client.resources.begin_create_or_update_by_id(
            _vnet_id(TGT, "rg-count", f"v{index}"),
            GenericResource(location="northeurope", properties={"addressSpace": {"addressPrefixes": ["10.1.0.0/16"]}}),
            api_version=NET,
        ).result()
    client.resources.begin_delete_by_id(_vnet_id(TGT, "rg-count", "v0"), api_version=NET).result()
    after = sim.hook("GET", "stats")
    assert after["writes"].get(TGT, 0) - before["writes"].get(TGT, 0) == 5
    assert after["writes"].get(SRC, 0) == before["writes"].get(SRC, 0)


def test_tls_certificate_covers_loopback_and_needs_the_ca(sim) -> None:
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{sim.endpoint}/_sim/stats", timeout=10)  # system trust store: refused
    host, port = sim.endpoint.removeprefix("https://").rsplit(":", 1)
    pem = ssl.get_server_certificate((host, int(port)), ca_certs=sim.ca_file)
    san = (
        x509.load_pem_x509_certificate(pem.encode())
        .extensions.get_extension_for_class(x509.SubjectAlternativeName)
        .value
    )
    assert {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} >= {"127.0.0.1", "::1"}
    assert "localhost" in san.get_values_for_type(x509.DNSName)


def test_state_survives_restart_and_reset_reseeds(fresh_sim) -> None:
    sim = fresh_sim.start()
    client = sim.client(TGT)
    client.resource_groups.create_or_update("rg-keep", ResourceGroup(location="northeurope"))
    kept = _vnet_id(TGT, "rg-keep", "vnet-keep")
    client.resources.begin_create_or_update_by_id(
        kept,
        GenericResource(location="northeurope", properties={"addressSpace": {"addressPrefixes": ["10.3.0.0/16"]}}),
        api_version=NET,
    ).result()
    ca_before = open(sim.ca_file, "rb").read()
    assert sim.stop() == 0
    assert not sim.ready_file.exists()  # a stale endpoint is never advertised

    sim.start()
    assert open(sim.ca_file, "rb").read() == ca_before  # clients configured once keep working
    got = sim.client(TGT).resources.get_by_id(kept, api_version=NET)
    assert got.id == kept and got.properties["addressSpace"]["addressPrefixes"] == ["10.3.0.0/16"]
    assert sim.hook("GET", "stats")["writes"][TGT] == 2  # counters persisted too
    assert sim.stop() == 0

    sim.start("--reset")
    with pytest.raises(ResourceNotFoundError):
        sim.client(TGT).resources.get_by_id(kept, api_version=NET)


def test_acknowledged_writes_survive_sigkill(fresh_sim) -> None:
    sim = fresh_sim.start()
    client = sim.client(TGT)
    client.resource_groups.create_or_update("rg-crash", ResourceGroup(location="northeurope"))
    ids = [_vnet_id(TGT, "rg-crash", f"vnet-{i}") for i in range(3)]
    for resource_id in ids:
        client.resources.begin_create_or_update_by_id(
            resource_id, GenericResource(location="northeurope", properties={}), api_version=NET
        ).result()
    client.resources.begin_delete_by_id(ids[0], api_version=NET).result()
    sim.kill()  # SIGKILL: no shutdown flush, only the journal

    sim.start()
    client = sim.client(TGT)
    assert not client.resources.check_existence_by_id(ids[0], api_version=NET)
    assert all(client.resources.check_existence_by_id(i, api_version=NET) for i in ids[1:])


def test_torn_journal_line_is_ignored(tmp_path) -> None:
    from tenant_replicator.sim.store import Store

    store = Store(tmp_path / "state.json", seed_state)
    with store.lock:
        store.state["resourceGroups"].pop(next(iter(store.state["resourceGroups"])))
        store.commit()
    with open(store.journal_file, "a", encoding="utf-8") as journal:
        journal.write('{"changes": {"resources": [["/x", {"bo')  # killed mid-append
    reloaded = Store(tmp_path / "state.json", seed_state)
    assert len(reloaded.state["resourceGroups"]) == len(seed_state()["resourceGroups"]) - 1
    assert not reloaded.journal_file.exists()  # folded into the snapshot on load


def test_throttling_answers_429_with_retry_after(sim) -> None:
    url = f"{sim.endpoint}/subscriptions/{SRC}/resourcegroups?api-version=2025-04-01"
    auth = {"Authorization": "Bearer x"}
    first = requests.get(url, headers=auth, verify=sim.ca_file, timeout=10)
    assert int(first.headers["x-ms-ratelimit-remaining-subscription-reads"]) > 0  # informative by default
    sim.hook("POST", "throttle", {"enforce": True, "limits": {"reads": [3, 0.5]}})
    try:
        codes = [requests.get(url, headers=auth, verify=sim.ca_file, timeout=10) for _ in range(5)]
        assert [r.status_code for r in codes[:3]] == [200, 200, 200]
        throttled = codes[3]
        assert throttled.status_code == 429 and throttled.json()["error"]["code"] == "TooManyRequests"
        assert int(throttled.headers["Retry-After"]) >= 1
        # Target subscription has its own bucket.
        other = f"{sim.endpoint}/subscriptions/{TGT}/resourcegroups?api-version=2025-04-01"
        assert requests.get(other, headers=auth, verify=sim.ca_file, timeout=10).status_code == 200
        # ...and so does another principal on the same subscription.
        someone_else = {"Authorization": "Bearer y"}
        assert requests.get(url, headers=someone_else, verify=sim.ca_file, timeout=10).status_code == 200
    finally:
        sim.hook("POST", "throttle", {"enforce": False})


def test_scale_seed_adds_deterministic_synthetic_resources() -> None:
    base = len(_top_level(seed_state(), SRC))
    scaled = seed_state(scale=250)
    resources = _top_level(scaled, SRC)
    assert len(resources) == base + 250
    assert scaled == seed_state(scale=250)
    assert len({r["name"] for r in resources if r["type"] == "Microsoft.Storage/storageAccounts"}) == sum(
        1 for r in resources if r["type"] == "Microsoft.Storage/storageAccounts"
    )


def test_child_collection_and_type_lists(sim) -> None:
    headers = {"Authorization": "Bearer x"}
    vnet = _vnet_id(SRC, "rg-network-prod", "vnet-hub-prod")
    subnets = requests.get(
        f"{sim.endpoint}{vnet}/subnets?api-version={NET}", headers=headers, verify=sim.ca_file, timeout=10
    ).json()["value"]
    inline = sim.client(SRC).resources.get_by_id(vnet, api_version=NET).properties["subnets"]
    assert sorted(s["id"] for s in subnets) == sorted(s["id"] for s in inline) and len(inline) == 3
    all_vnets = requests.get(
        f"{sim.endpoint}/subscriptions/{SRC}/providers/Microsoft.Network/virtualNetworks?api-version={NET}",
        headers=headers,
        verify=sim.ca_file,
        timeout=10,
    ).json()["value"]
    assert {v["name"] for v in all_vnets} == {
        r["name"] for r in _top_level(seed_state(), SRC) if r["type"] == "Microsoft.Network/virtualNetworks"
    }
