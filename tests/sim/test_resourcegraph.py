"""Azure Resource Graph through the real azure-mgmt-resourcegraph 8.0.1 client."""

from __future__ import annotations

import time

import pytest
import requests
from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError
from azure.mgmt.resource.resources.models import GenericResource
from azure.mgmt.resourcegraph import ResourceGraphClient
from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

from tenant_replicator.sim import model
from tenant_replicator.sim.resourcegraph import parse_query
from tenant_replicator.sim.seed import SOURCE_SUBSCRIPTION_ID as SRC
from tenant_replicator.sim.seed import TARGET_SUBSCRIPTION_ID as TGT
from tenant_replicator.sim.seed import TENANT_ID, seed_state
from tenant_replicator.sim.wire import ArmError


class StaticCredential:
    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        return AccessToken("sim", int(time.time()) + 3600)


ROW_KEYS = {
    "id",
    "name",
    "type",
    "location",
    "resourceGroup",
    "subscriptionId",
    "tenantId",
    "kind",
    "sku",
    "tags",
    "identity",
    "properties",
    "managedBy",
    "zones",
}


@pytest.fixture
def graph(sim):
    sim.hook("POST", "graph", {"quota": [1000, 5]})  # tests below exercise the quota explicitly
    return ResourceGraphClient(StaticCredential(), base_url=sim.endpoint, connection_verify=sim.ca_file)


def _query(client, text: str, subscriptions=(SRC,), **options):
    return client.resources(
        QueryRequest(subscriptions=list(subscriptions), query=text, options=QueryRequestOptions(**options))
    )


def _expected(sub: str) -> dict[str, dict]:
    state = seed_state()
    prefix = f"/subscriptions/{sub}/resourcegroups/".lower()
    return {
        r["body"]["id"]: r["body"]
        for k, r in state["resources"].items()
        if k.startswith(prefix) and model.is_top_level(k)
    }


def test_resources_query_returns_arg_rows_with_paging(graph) -> None:
    expected = _expected(SRC)
    first = _query(graph, "Resources | order by id asc", top=7)
    assert first.total_records == len(expected) and first.count == 7 and first.result_truncated == "false"
    rows, token = list(first.data), first.skip_token
    while token:
        page = _query(graph, "Resources | order by id asc", skip_token=token)
        rows += page.data
        token = page.skip_token
    assert [r["id"] for r in rows] == sorted(expected, key=str.lower)
    vm = next(r for r in rows if r["type"] == "microsoft.compute/virtualmachines")
    assert set(vm) >= ROW_KEYS and vm["tenantId"] == TENANT_ID and vm["subscriptionId"] == SRC
    assert vm["resourceGroup"] == "rg-app-prod" and vm["properties"] == expected[vm["id"]]["properties"]
    dcr = next(r for r in rows if "datacollectionrules" in r["type"])
    assert dcr["type"] == "microsoft.insights/datacollectionrules"  # ARG lower-cases every type
    vnet = next(r for r in rows if r["name"] == "vnet-hub-prod")
    assert [s["name"] for s in vnet["properties"]["subnets"]] == ["snet-app", "snet-data", "snet-mgmt"]


def test_filters_projection_and_containers(graph) -> None:
    vnets = _query(
        graph,
        f"Resources | where subscriptionId in~ ('{SRC.upper()}') | where type =~ 'Microsoft.Network/virtualNetworks' "
        "| project id, name, type | order by id asc",
        subscriptions=(SRC, TGT),
    )
    assert [r["name"] for r in vnets.data] == ["vnet-hub-prod", "vnet-spoke-prod"]
    assert set(vnets.data[0]) == {"id", "name", "type"}
    both = _query(graph, "Resources | where type =~ 'microsoft.storage/storageaccounts'", subscriptions=(SRC, TGT))
    assert {r["subscriptionId"] for r in both.data} == {SRC, TGT}
    groups = _query(
        graph,
        "ResourceContainers | where type =~ 'microsoft.resources/subscriptions/resourcegroups'",
        subscriptions=(TGT,),
    )
    assert [(g["name"], g["type"]) for g in groups.data] == [
        ("rg-legacy", "microsoft.resources/subscriptions/resourcegroups")
    ]
    assert _query(graph, "Resources | take 3", top=1000).count == 3


def test_unsupported_kql_is_bad_request(graph) -> None:
    for text in ("Resources | summarize count() by type", "AdvisorResources", "Resources | where properties.x == 1"):
        with pytest.raises(HttpResponseError) as bad:
            _query(graph, text)
        assert bad.value.status_code == 400 and bad.value.error.code == "BadRequest"
    with pytest.raises(ArmError, match="string literal"):
        parse_query("Resources | where type =~ unquoted")


def test_secrets_are_scrubbed(sim, graph) -> None:
    vm = f"/subscriptions/{TGT}/resourceGroups/rg-legacy/providers/Microsoft.Compute/virtualMachines/vm-secret"
    body = {"osProfile": {"computerName": "x", "adminUsername": "u", "adminPassword": "Hunter2!Hunter2!"}}
    sim.hook("POST", "lro", {"seconds": 0})
    try:
        sim.client(TGT).resources.begin_create_or_update_by_id(
            vm, GenericResource(location="northeurope", properties=body), api_version="2024-07-01"
        ).result()
    finally:
        sim.hook("POST", "lro", {"seconds": 0.3})
    row = next(r for r in _query(graph, "Resources", subscriptions=(TGT,)).data if r["name"] == "vm-secret")
    assert row["properties"]["osProfile"] == {"computerName": "x", "adminUsername": "u"}


def test_graph_lags_arm_writes(sim, graph) -> None:
    sim.hook("POST", "graph", {"lag_s": 1.0, "quota": [1000, 5]})
    nsg = f"/subscriptions/{TGT}/resourceGroups/rg-legacy/providers/Microsoft.Network/networkSecurityGroups/nsg-lag"
    try:
        sim.client(TGT).resources.begin_create_or_update_by_id(
            nsg, GenericResource(location="northeurope"), api_version="2024-05-01"
        ).result()
        written = time.monotonic()
        names = lambda: {r["name"] for r in _query(graph, "Resources", subscriptions=(TGT,)).data}  # noqa: E731
        assert "nsg-lag" not in names()
        while "nsg-lag" not in names():
            assert time.monotonic() - written < 5
            time.sleep(0.1)
        assert time.monotonic() - written >= 0.9
    finally:
        sim.hook("POST", "graph", {"lag_s": 0})


def test_per_user_quota_headers_and_429(sim) -> None:
    sim.hook("POST", "graph", {"quota": [3, 2]})
    url = f"{sim.endpoint}/providers/Microsoft.ResourceGraph/resources"
    seen = []
    for _ in range(4):
        response = requests.post(
            url,
            params={"api-version": "2022-10-01"},
            json={"subscriptions": [SRC], "query": "Resources | take 1"},
            headers={"Authorization": "Bearer user-a"},
            verify=sim.ca_file,
            timeout=10,
        )
        seen.append((response.status_code, response.headers["x-ms-user-quota-remaining"]))
        assert response.headers["x-ms-user-quota-resets-after"].startswith("00:00:0")
    assert seen == [(200, "2"), (200, "1"), (200, "0"), (429, "0")]
    assert int(response.headers["Retry-After"]) >= 1
    other = requests.post(
        url,
        params={"api-version": "2021-03-01"},
        json={"subscriptions": [SRC], "query": "Resources | take 1"},
        headers={"Authorization": "Bearer user-b"},
        verify=sim.ca_file,
        timeout=10,
    )
    assert other.status_code == 200  # the quota is per user
    time.sleep(2.1)
    again = requests.post(
        url,
        params={"api-version": "2022-10-01"},
        json={"subscriptions": [SRC], "query": "Resources | take 1"},
        headers={"Authorization": "Bearer user-a"},
        verify=sim.ca_file,
        timeout=10,
    )
    assert again.status_code == 200


def test_a_query_result_is_computed_once_and_every_write_invalidates_it(sim, graph) -> None:
    """Pages 2..N of a big result reuse page 1's matching (100k resources: ~2 s a page otherwise);
    a create or a delete between two queries is seen by the next one."""
    from tenant_replicator.sim.resourcegraph import MatchCache

    state = seed_state()
    plan = parse_query("Resources | order by id asc")
    cache = MatchCache()
    first = cache.rows(state, {SRC.lower()}, plan, "q")
    assert cache.rows(state, {SRC.lower()}, plan, "q") is first  # the same list: not recomputed
    assert len(first) == len(_expected(SRC))

    text = "Resources | where type =~ 'microsoft.network/networksecuritygroups'"
    before = _query(graph, text, subscriptions=(TGT,)).total_records
    nsg = f"/subscriptions/{TGT}/resourceGroups/rg-legacy/providers/Microsoft.Network/networkSecurityGroups/nsg-cache"
    client = sim.client(TGT)
    client.resources.begin_create_or_update_by_id(
        nsg, GenericResource(location="northeurope"), api_version="2024-05-01"
    ).result()
    assert _query(graph, text, subscriptions=(TGT,)).total_records == before + 1
    client.resources.begin_delete_by_id(nsg, api_version="2024-05-01").result()
    assert _query(graph, text, subscriptions=(TGT,)).total_records == before
