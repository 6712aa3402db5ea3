"""Fault injection (random by seed, one-shot rules, env file), eventual consistency and counters."""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest
import requests
from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError
from azure.core.pipeline.policies import RetryPolicy
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.resource.resources.models import GenericResource, ResourceGroup

from tenant_replicator.sim.faults import Chaos, parse_config
from tenant_replicator.sim.seed import SOURCE_SUBSCRIPTION_ID as SRC
from tenant_replicator.sim.seed import TARGET_SUBSCRIPTION_ID as TGT


class StaticCredential:
    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        return AccessToken("sim", int(time.time()) + 3600)


AUTH = {"Authorization": "Bearer t"}


def _get(sim, path: str, api: str = "2025-04-01") -> requests.Response:
    return requests.get(
        f"{sim.endpoint}{path}", params={"api-version": api}, headers=AUTH, verify=sim.ca_file, timeout=10
    )


def test_draws_are_deterministic_by_seed_and_match_the_rates() -> None:
    config = parse_config({"seed": 11, "rates": {"429": 0.1, "500": 0.05, "503": 0.05, "drop": 0.02}})
    paths = [f"/subscriptions/s/resourceGroups/rg/providers/x/y/n{i}" for i in range(4000)]
    first = [Chaos(config).decide("GET", p).kind for p in paths]
    chaos = Chaos(config)
    # Same draws in reverse order: a draw depends on (seed, method, path, n), not on arrival order.
    assert [chaos.decide("GET", p).kind for p in reversed(paths)][::-1] == first
    counts = Counter(first)
    assert abs(counts["429"] / len(paths) - 0.1) < 0.02 and abs(counts["500"] / len(paths) - 0.05) < 0.015
    assert counts["drop"] > 0 and counts[None] > 0.7 * len(paths)
    other = [Chaos(parse_config({"seed": 12, "rates": {"429": 0.1}})).decide("GET", p).kind for p in paths]
    assert other != [k if k == "429" else None for k in first]
    with pytest.raises(ValueError):
        parse_config({"rates": {"418": 0.1}})
    with pytest.raises(ValueError):
        parse_config({"rates": {"429": 0.8, "500": 0.5}})


def test_random_faults_at_runtime_with_retry_after_and_counters(sim) -> None:
    sim.hook("POST", "faults", {"random": {"seed": 3, "rates": {"429": 0.3, "503": 0.2}, "retry_after": 2}})
    try:
        statuses = Counter()
        for _ in range(60):
            response = _get(sim, f"/subscriptions/{SRC}/resourcegroups")
            statuses[response.status_code] += 1
            if response.status_code in (429, 503):
                assert response.headers["Retry-After"] == "2"
                assert response.json()["error"]["code"] in (
                    "TooManyRequests",
                    "ServiceUnavailable",
                    "InternalServerError",
                )
        assert statuses[429] and statuses[503] and statuses[200]
        stats = sim.hook("GET", "stats")["requests"]
        assert stats["by_status"]["429"] == statuses[429] and stats["by_status"]["503"] == statuses[503]
        assert stats["by_method"]["GET"] >= 60 and stats["by_subscription"][SRC] >= 60
        assert stats["by_type"]["microsoft.resources/resourcegroups"] >= 60
    finally:
        sim.hook("DELETE", "faults")
    assert _get(sim, f"/subscriptions/{SRC}/resourcegroups").status_code == 200


def test_sdk_retries_through_injected_faults(sim) -> None:
    """The SDK's retry policy absorbs 429/503 and dropped connections; every GET ends 200."""
    sim.hook("POST", "faults", {"random": {"seed": 5, "rates": {"429": 0.15, "503": 0.1, "drop": 0.05}}})
    client = ResourceManagementClient(
        StaticCredential(),
        SRC,
        base_url=sim.endpoint,
        connection_verify=sim.ca_file,
        retry_policy=RetryPolicy(retry_total=10, retry_backoff_factor=0.01, retry_backoff_max=0.05),
    )
    try:
        groups = [client.resource_groups.get("rg-app-prod").name for _ in range(30)]
    finally:
        sim.hook("DELETE", "faults")
    assert groups == ["rg-app-prod"] * 30
    by_status = sim.hook("GET", "stats")["requests"]["by_status"]
    assert by_status.get("429", 0) + by_status.get("503", 0) > 0
    assert by_status.get("-1", 0) > 0  # dropped connections are counted too


def test_dropped_connection_closes_without_a_response(sim) -> None:
    sim.hook("POST", "faults", {"faults": [{"method": "GET", "path_contains": "rg-legacy", "drop": True}]})
    with pytest.raises(requests.ConnectionError):
        _get(sim, f"/subscriptions/{TGT}/resourceGroups/rg-legacy")
    assert _get(sim, f"/subscriptions/{TGT}/resourceGroups/rg-legacy").status_code == 200
    sim.hook("POST", "faults", {"faults": [{"method": "GET", "path_contains": "rg-legacy", "drop": True}]})
    with pytest.raises((ServiceRequestError, ServiceResponseError)):
        ResourceManagementClient(
            StaticCredential(), TGT, base_url=sim.endpoint, connection_verify=sim.ca_file, retry_total=0
        ).resource_groups.get("rg-legacy")


def test_added_latency(sim) -> None:
    sim.hook("POST", "faults", {"random": {"seed": 1, "latency_ms": [150, 200]}})
    try:
        started = time.monotonic()
        assert _get(sim, f"/subscriptions/{SRC}/resourcegroups").status_code == 200
        assert time.monotonic() - started >= 0.15
    finally:
        sim.hook("DELETE", "faults")
    started = time.monotonic()
    _get(sim, f"/subscriptions/{SRC}/resourcegroups")
    assert time.monotonic() - started < 0.15


def test_random_async_failures(sim) -> None:
    sim.hook("POST", "faults", {"random": {"seed": 2, "rates": {"async_failed": 1.0}}})
    client = sim.client(TGT)
    vm = f"/subscriptions/{TGT}/resourceGroups/rg-legacy/providers/Microsoft.Compute/virtualMachines/vm-chaos"
    try:
        with pytest.raises(HttpResponseError) as failed:
            client.resources.begin_create_or_update_by_id(
                vm, GenericResource(location="northeurope"), api_version="2024-07-01"
            ).result(timeout=10)
        assert failed.value.error.code == "InternalOperationError"
    finally:
        sim.hook("DELETE", "faults")
    assert client.resources.get_by_id(vm, api_version="2024-07-01").properties["provisioningState"] == "Failed"


def test_eventual_consistency_lists_new_resources_late(sim) -> None:
    sim.hook("POST", "faults", {"random": {"list_delay_s": 1.0}})
    client = sim.client(TGT)
    client.resource_groups.create_or_update("rg-ec", ResourceGroup(location="northeurope"))
    nsg = f"/subscriptions/{TGT}/resourceGroups/rg-ec/providers/Microsoft.Network/networkSecurityGroups/nsg-ec"
    try:
        client.resources.begin_create_or_update_by_id(
            nsg, GenericResource(location="northeurope"), api_version="2024-05-01"
        ).result()
        created = time.monotonic()
        assert client.resources.get_by_id(nsg, api_version="2024-05-01").id == nsg  # readable by ID at once
        assert nsg not in {r.id for r in client.resources.list()}
        while nsg not in {r.id for r in client.resources.list_by_resource_group("rg-ec")}:
            assert time.monotonic() - created < 5
            time.sleep(0.1)
        assert time.monotonic() - created >= 0.8
    finally:
        sim.hook("DELETE", "faults")


def test_fault_file_from_environment(fresh_sim, tmp_path, monkeypatch) -> None:
    config = tmp_path / "faults.json"
    config.write_text(json.dumps({"seed": 9, "rates": {"500": 1.0}, "methods": ["PUT"]}))
    monkeypatch.setenv("TENANT_REPLICATOR_SIM_FAULTS", str(config))
    fresh_sim.start()
    assert _get(fresh_sim, f"/subscriptions/{TGT}/resourceGroups/rg-legacy").status_code == 200
    put = requests.put(
        f"{fresh_sim.endpoint}/subscriptions/{TGT}/resourceGroups/rg-x",
        params={"api-version": "2024-03-01"},
        json={"location": "northeurope"},
        headers=AUTH,
        verify=fresh_sim.ca_file,
        timeout=10,
    )
    assert put.status_code == 500 and put.json()["error"]["code"] == "InternalServerError"
    assert fresh_sim.hook("GET", "faults")["random"]["rates"] == {"500": 1.0}
