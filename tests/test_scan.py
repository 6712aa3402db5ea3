"""Scanner: pure ID/transform helpers on hand-written ARM payloads, then get -> transform -> load
against the real ARM simulator (HTTPS subprocess) and a real embedded FalkorDB."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tenant_replicator.arm import ids
from tenant_replicator.arm.client import SimulatorCredential, resource_client
from tenant_replicator.graph import open_graph
from tenant_replicator.graph.embedded import EmbeddedFalkorDB
from tenant_replicator.graph.falkor import FalkorGraphStore
from tenant_replicator.scan import (
    ApiVersions,
    error_text,
    latest_scan,
    load,
    newest_api_version,
    read_resource_groups,
    read_resources,
    references,
    resolve_edges,
    resource_row,
    scan_subscription,
    transform,
)
from tenant_replicator.settings import load_settings

SUB = "3f2b8c1e-5d4a-4e7b-9c21-6a8f0d2e4b17"  # the simulator's seeded source
TARGET = "c7e91a04-2b6f-4d38-a5e2-91f4b7c0d863"
OTHER = "11111111-2222-3333-4444-555555555555"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-net"
VNET = f"{RG}/providers/Microsoft.Network/virtualNetworks/vnet-1"
SUBNET = f"{VNET}/subnets/snet-app"
NSG = f"{RG}/providers/Microsoft.Network/networkSecurityGroups/nsg-1"
NIC = f"{RG}/providers/Microsoft.Network/networkInterfaces/nic-1"


# ---------------------------------------------------------------- ids (pure)


def test_parse_resource_id_top_level_child_and_extension() -> None:
    parsed = ids.parse_resource_id(SUBNET)
    assert parsed["subscription"] == SUB and parsed["resource_group"] == "rg-net"
    assert parsed["namespace"] == "Microsoft.Network"
    assert parsed["types"] == ["virtualNetworks", "subnets"] and parsed["names"] == ["vnet-1", "snet-app"]
    assert parsed["type"] == "Microsoft.Network/virtualNetworks/subnets" and parsed["scope"] is None
    role = f"{VNET}/providers/Microsoft.Authorization/roleAssignments/ra-1"
    ext = ids.parse_resource_id(role)
    assert ext["type"] == "Microsoft.Authorization/roleAssignments" and ext["scope"] == VNET
    assert ids.parse_resource_id(RG)["type"] is None
    with pytest.raises(ValueError):
        ids.parse_resource_id("/subscriptions/not-a-guid/resourceGroups/x")


def test_parent_id_walks_up_to_the_subscription() -> None:
    assert ids.parent_id(SUBNET) == VNET
    assert ids.parent_id(VNET) == RG
    assert ids.parent_id(RG) == f"/subscriptions/{SUB}"
    assert ids.parent_id(f"/subscriptions/{SUB}") is None
    assert ids.parent_id(f"{VNET}/providers/Microsoft.Authorization/roleAssignments/ra") == VNET
    assert list(ids.ancestors(SUBNET)) == [SUBNET, VNET]


def test_is_arm_id_and_find_arm_ids_in_any_json() -> None:
    assert ids.is_arm_id(VNET.upper()) and ids.is_arm_id(RG + "/")
    assert not ids.is_arm_id("vnet-1") and not ids.is_arm_id(None)
    payload = {
        "properties": {
            "ipConfigurations": [{"properties": {"subnet": {"id": SUBNET.lower()}}}],
            "link": f"https://portal.azure.com/#resource{NSG}/overview",
            "note": "no id here /subscriptions/xyz/resourceGroups/a",
            "nested": [[{"x": f"{VNET}/"}]],
        },
        f"{OTHER}": "keys are not references",
    }
    found = ids.find_arm_ids(payload)
    assert found == {SUBNET.lower(), NSG + "/overview", VNET}
    assert ids.same_id(SUBNET.lower(), SUBNET + "/")


# ---------------------------------------------------------------- transform (pure)


def _nic_payload() -> dict[str, Any]:
    return {
        "id": NIC,
        "name": "nic-1",
        "type": "Microsoft.Network/networkInterfaces",
        "location": "westeurope",
        "tags": {"env": "prod"},
        "etag": 'W/"abc"',
        "kind": "Regular",
        "properties": {
            "ipConfigurations": [{"id": f"{NIC}/ipConfigurations/ipconfig1", "properties": {"subnet": {"id": SUBNET}}}],
            "networkSecurityGroup": {"id": NSG.upper()},
        },
    }


def test_newest_api_version_prefers_stable() -> None:
    assert newest_api_version(["2023-01-01", "2024-05-01", "2024-07-01-preview"]) == "2024-05-01"
    assert newest_api_version(["2023-01-01-preview", "2024-02-01-preview"]) == "2024-02-01-preview"
    assert newest_api_version([]) is None


def test_references_skip_self_and_own_children() -> None:
    refs = references(_nic_payload())
    assert refs == sorted([SUBNET.lower(), NSG.lower()])


def test_resource_row_keeps_the_whole_body() -> None:
    payload = _nic_payload()
    row = resource_row(payload, "2024-05-01", SUB.upper(), "scan-x", "2026-01-01T00:00:00+00:00")
    assert json.loads(row["properties"]) == payload  # sku/kind/tags/etag kept, nothing dropped
    assert json.loads(row["tags"]) == {"env": "prod"}
    assert row["id_lower"] == NIC.lower() and row["type_lower"] == "microsoft.network/networkinterfaces"
    assert row["subscription_id"] == SUB and row["resource_group"] == "rg-net"
    assert row["rg_id_lower"] == RG.lower() and row["api_version"] == "2024-05-01"
    assert row["scan_id"] == "scan-x"


def test_resolve_edges_uses_the_longest_existing_prefix() -> None:
    row = resource_row(_nic_payload(), "v", SUB, "s", "t")
    existing = {VNET.lower(), NSG.lower(), NIC.lower()}
    edges = resolve_edges([row], existing.__contains__)
    assert edges == [{"src": NIC.lower(), "dst": NSG.lower()}, {"src": NIC.lower(), "dst": VNET.lower()}]
    assert resolve_edges([row], {NIC.lower()}.__contains__) == []  # unknown targets are not invented


def test_api_versions_cached_per_namespace_and_case_insensitive() -> None:
    class FakeProviders:
        calls = 0

        def get(self, namespace: str) -> Any:
            FakeProviders.calls += 1
            rt = type("RT", (), {"resource_type": "virtualNetworks", "api_versions": ["2024-05-01", "2023-09-01"]})
            return type("P", (), {"resource_types": [rt]})

    client = type("C", (), {"providers": FakeProviders()})()
    versions = ApiVersions(client)
    assert versions.for_type("microsoft.network/VIRTUALNETWORKS") == "2024-05-01"
    assert versions.for_type("Microsoft.Network/virtualNetworks") == "2024-05-01"
    assert FakeProviders.calls == 1
    with pytest.raises(LookupError):
        versions.for_type("Microsoft.Network/unknownThings")


def test_error_text_is_short() -> None:
    assert error_text(ValueError("boom\nsecond line")) == "ValueError: boom"


def test_simulator_credential_token() -> None:
    cred = SimulatorCredential()
    assert cred.get_token("https://management.azure.com/.default").expires_on > time.time() + 3600
    assert cred.get_token_info("scope").token == "simulator"


# ---------------------------------------------------------------- real simulator + FalkorDB


def _start_simulator(workdir: Path, *extra: str) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    ready = workdir / "ready.json"
    proc = subprocess.Popen(  # noqa: S603 - fixed argv
        [
            sys.executable, "-m", "tenant_replicator.sim.server", "--port", "0",
            "--state-file", str(workdir / "state.json"), "--tls-dir", str(workdir / "tls"),
            "--ready-file", str(ready), "--log-level", "WARNING", *extra,
        ],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=open(workdir / "sim.log", "ab"),  # noqa: SIM115 - closed with the process
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if ready.exists():
            try:
                return proc, json.loads(ready.read_text())
            except ValueError:
                pass
        if proc.poll() is not None:
            raise RuntimeError(f"simulator exited: {(workdir / 'sim.log').read_text()[-2000:]}")
        time.sleep(0.05)
    _stop(proc)
    raise RuntimeError("simulator did not become ready")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    proc, info = _start_simulator(Path(tmp_path_factory.mktemp("sim")))
    try:
        yield info
    finally:
        _stop(proc)


def _sim_call(info: dict[str, Any], method: str, path: str, body: dict | None = None) -> Any:
    ctx = ssl.create_default_context(cafile=info["ca_file"])
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(info["endpoint"] + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:  # noqa: S310 - loopback https
        return json.loads(resp.read() or b"null")


@pytest.fixture
def sim(simulator: dict[str, Any]) -> dict[str, Any]:
    """The module's simulator, reseeded and without armed faults for each test."""
    _sim_call(simulator, "POST", "/_sim/reset")
    return simulator


@pytest.fixture(scope="module")
def falkordb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedFalkorDB]:
    with EmbeddedFalkorDB(Path(tmp_path_factory.mktemp("falkordb"))) as server:
        yield server


@pytest.fixture
def store(falkordb: EmbeddedFalkorDB) -> Iterator[FalkorGraphStore]:
    graph = open_graph(falkordb.uri, f"scan_{uuid.uuid4().hex[:8]}")
    assert isinstance(graph, FalkorGraphStore)
    try:
        yield graph
    finally:
        graph.delete_graph()
        graph.close()


def _settings(info: dict[str, Any]) -> Any:
    return load_settings(
        {"TENANT_REPLICATOR_ARM_ENDPOINT": info["endpoint"], "TENANT_REPLICATOR_ARM_CA_FILE": info["ca_file"]}
    )


def _listed(info: dict[str, Any], sub: str) -> dict[str, str]:
    """id_lower -> type of what the simulator lists, read independently of the scanner."""
    client = resource_client(_settings(info), sub)
    try:
        return {r.id.lower(): r.type for r in client.resources.list()}
    finally:
        client.close()


def test_scan_source_loads_every_listed_resource_with_full_bodies(sim: dict, store: FalkorGraphStore) -> None:
    settings = _settings(sim)
    assert settings.simulator_mode
    report = scan_subscription(settings, store, SUB, "scan-1")
    listed = _listed(sim, SUB)
    assert len(listed) >= 30
    assert report["complete"] is True and report["errors"] == []
    assert report["resources"] == len(listed) and report["resource_groups"] >= 1

    resources = read_resources(store, SUB)
    assert {r["id"].lower() for r in resources} == set(listed)
    client = resource_client(settings, SUB)
    try:
        for body in resources[:10]:  # the stored JSON is the full GET body at the recorded api-version
            direct = client.resources.get_by_id(body["id"], api_version=body["apiVersion"]).as_dict()
            stored = {k: v for k, v in body.items() if k not in {"apiVersion", "resourceGroup"}}
            assert stored == direct
            assert body["resourceGroup"].lower() == ids.parse_resource_id(body["id"])["resource_group"].lower()
    finally:
        client.close()

    groups = read_resource_groups(store, SUB)
    assert {g["name"].lower() for g in groups} == {r["resourceGroup"].lower() for r in resources}
    assert all(isinstance(g["tags"], dict) for g in groups)
    scan = latest_scan(store, SUB)
    assert scan is not None and scan["scan_id"] == "scan-1" and scan["complete"] is True
    assert scan["resource_count"] == len(listed) and scan["errors"] == 0 and scan["at"]
    rows = store.query("MATCH (r:Resource)-[:IN]->(g:ResourceGroup)-[:IN]->(s:Subscription) RETURN count(r) AS n")
    assert rows == [{"n": len(listed)}]


def test_listing_follows_next_link(sim: dict, store: FalkorGraphStore) -> None:
    pages: list[str] = []

    def count_pages(request: Any) -> None:
        if "/resources?" in request.http_request.url:
            pages.append(request.http_request.url)

    client = resource_client(_settings(sim), SUB, raw_request_hook=count_pages)
    try:
        report = scan_subscription(_settings(sim), store, SUB, "paged", client=client, page_size=5, max_workers=3)
    finally:
        client.close()
    listed = _listed(sim, SUB)
    assert -(-len(listed) // 5) <= len(pages) <= len(listed) // 5 + 1  # one request a page
    assert report["complete"] and {r["id"].lower() for r in read_resources(store, SUB)} == set(listed)


def test_depends_on_edges_follow_references(sim: dict, store: FalkorGraphStore) -> None:
    scan_subscription(_settings(sim), store, SUB, "scan-1")
    nics = [r for r in read_resources(store, SUB) if r["type"].lower() == "microsoft.network/networkinterfaces"]
    assert nics
    for nic in nics:
        # every subnet reference becomes an edge to the VNet that holds the subnet
        subnets = {
            ids.parent_id(i).lower()
            for i in ids.find_arm_ids(nic)
            if (ids.resource_type_of(i) or "").lower() == "microsoft.network/virtualnetworks/subnets"
        }
        assert subnets
        linked = store.query(
            "MATCH (n:Resource {id_lower: $id})-[:DEPENDS_ON]->(d:Resource) RETURN d.id_lower AS id",
            {"id": nic["id"].lower()},
        )
        assert subnets <= {row["id"] for row in linked}
    # no edge points at a node the references do not justify
    for edge in store.query("MATCH (a:Resource)-[:DEPENDS_ON]->(b:Resource) RETURN a.properties AS p, b.id_lower AS b"):
        refs = {c.lower() for i in ids.find_arm_ids(json.loads(edge["p"])) for c in ids.ancestors(i)}
        assert edge["b"] in refs


def test_rescan_after_delete_removes_the_node(sim: dict, store: FalkorGraphStore) -> None:
    settings = _settings(sim)
    scan_subscription(settings, store, SUB, "scan-1")
    victim = next(r for r in read_resources(store, SUB) if r["type"].lower() == "microsoft.network/publicipaddresses")
    client = resource_client(settings, SUB)
    try:
        client.resources.begin_delete_by_id(victim["id"], api_version=victim["apiVersion"]).result()
    finally:
        client.close()
    assert victim["id"].lower() not in _listed(sim, SUB)

    report = scan_subscription(settings, store, SUB, "scan-2")
    assert report["complete"] is True and report["removed"]["Resource"] == 1
    remaining = {r["id"].lower() for r in read_resources(store, SUB)}
    assert victim["id"].lower() not in remaining and remaining == set(_listed(sim, SUB))
    assert store.query("MATCH (r:Resource) WHERE r.scan_id <> 'scan-2' RETURN count(r) AS n") == [{"n": 0}]


def test_failing_get_makes_the_scan_incomplete_and_skips_cleanup(sim: dict, store: FalkorGraphStore) -> None:
    settings = _settings(sim)
    scan_subscription(settings, store, SUB, "scan-1")
    before = {r["id"].lower(): r for r in read_resources(store, SUB)}
    deleted, failing = [r for r in before.values() if r["type"].lower() == "microsoft.storage/storageaccounts"][:2]
    client = resource_client(settings, SUB)
    try:
        client.resources.begin_delete_by_id(deleted["id"], api_version=deleted["apiVersion"]).result()
    finally:
        client.close()
    path = "/" + "/".join(failing["id"].split("/")[-2:])  # ".../storageAccounts/<name>"
    fault = {"method": "GET", "path_contains": path, "status": 500, "times": 100}
    _sim_call(sim, "POST", "/_sim/faults", {"faults": [fault]})

    quick = resource_client(settings, SUB, retry_total=2, retry_backoff_factor=0.01)
    try:
        report = scan_subscription(settings, store, SUB, "scan-2", client=quick)
    finally:
        quick.close()
    assert report["complete"] is False
    assert [e["id"].lower() for e in report["errors"]] == [failing["id"].lower()]
    assert "500" in report["errors"][0]["error"]
    after = {r["id"].lower() for r in read_resources(store, SUB)}
    assert deleted["id"].lower() in after  # stale cleanup did not run on an incomplete scan
    assert failing["id"].lower() in after  # the failed resource keeps its previous body
    assert latest_scan(store, SUB)["complete"] is False


def test_resource_deleted_between_list_and_get_is_vanished_not_an_error(sim: dict, store: FalkorGraphStore) -> None:
    settings = _settings(sim)
    scan_subscription(settings, store, SUB, "scan-1")
    gone = next(r for r in read_resources(store, SUB) if r["type"].lower() == "microsoft.keyvault/vaults")
    path = "/" + "/".join(gone["id"].split("/")[-2:])
    fault = {"method": "GET", "path_contains": path, "status": 404, "code": "ResourceNotFound", "times": 10}
    _sim_call(sim, "POST", "/_sim/faults", {"faults": [fault]})
    report = scan_subscription(settings, store, SUB, "scan-2")
    assert report["complete"] is True and report["errors"] == []
    assert [v.lower() for v in report["vanished"]] == [gone["id"].lower()]
    assert gone["id"].lower() not in {r["id"].lower() for r in read_resources(store, SUB)}


def test_throttling_is_retried_after_retry_after(sim: dict, store: FalkorGraphStore) -> None:
    fault = {
        "method": "GET",
        "path_contains": "/providers/Microsoft.",
        "status": 429,
        "retry_after": 1,
        "times": 2,
    }
    _sim_call(sim, "POST", "/_sim/faults", {"faults": [fault]})
    started = time.monotonic()
    report = scan_subscription(_settings(sim), store, SUB, "scan-1")
    assert report["complete"] is True and report["errors"] == []
    assert time.monotonic() - started >= 1.0  # waited as told, did not hammer
    assert report["resources"] == len(_listed(sim, SUB))


def test_simulator_dying_mid_scan(tmp_path: Path, store: FalkorGraphStore) -> None:
    proc, info = _start_simulator(tmp_path)
    try:
        settings = _settings(info)
        first = scan_subscription(settings, store, SUB, "scan-1")
        assert first["complete"]

        def kill_after_listing(request: Any) -> None:
            url = request.http_request.url
            if "/resources?" not in url and "/resourcegroups?" not in url.lower():
                _stop(proc)  # the server dies once listing is over: every GET now fails

        client = resource_client(
            settings, SUB, retry_total=1, retry_backoff_factor=0.01, raw_request_hook=kill_after_listing
        )
        try:
            report = scan_subscription(settings, store, SUB, "scan-2", client=client)
        finally:
            client.close()
    finally:
        _stop(proc)
    assert report["complete"] is False and report["listed"] == first["resources"]
    assert len(report["errors"]) == first["resources"]
    assert len(read_resources(store, SUB)) == first["resources"]  # nothing deleted
    assert latest_scan(store, SUB)["scan_id"] == "scan-2" and not latest_scan(store, SUB)["complete"]


def test_unreachable_arm_records_a_listing_error(tmp_path: Path, store: FalkorGraphStore) -> None:
    proc, info = _start_simulator(tmp_path)
    _stop(proc)
    settings = _settings(info)
    client = resource_client(settings, TARGET, retry_total=0)
    try:
        report = scan_subscription(settings, store, TARGET, "scan-x", client=client)
    finally:
        client.close()
    assert report["complete"] is False and report["resources"] == 0
    assert report["errors"][0]["error"].startswith("list:")
    assert latest_scan(store, TARGET)["complete"] is False


def test_load_is_idempotent_and_links_across_scans(store: FalkorGraphStore) -> None:
    """Two subscriptions: a reference into another subscription links once that one is in the graph."""
    other_vnet = f"/subscriptions/{OTHER}/resourceGroups/rg-hub/providers/Microsoft.Network/virtualNetworks/hub"
    nic = _nic_payload()
    nic["properties"]["ipConfigurations"][0]["properties"]["subnet"]["id"] = f"{other_vnet}/subnets/a"
    hub = {"id": other_vnet, "name": "hub", "type": "Microsoft.Network/virtualNetworks", "location": "x"}
    groups, rows = transform([{"name": "rg-hub"}], [(hub, "2024-05-01")], OTHER, "s0", "t")
    load(store, OTHER, groups, rows)
    groups, rows = transform([{"name": "rg-net"}], [(nic, "2024-05-01")], SUB, "s1", "t")
    first = load(store, SUB, groups, rows)
    second = load(store, SUB, groups, rows)
    for counts in (first, second):
        assert {k: counts[k] for k in ("resource_groups", "resources", "depends_on")} == {
            "resource_groups": 1,
            "resources": 1,
            "depends_on": 1,
        }
    assert (first["created"], second["created"], second["unchanged"]) == (1, 0, 1)  # rescan: no rewrite
    got = store.query("MATCH (a:Resource)-[e:DEPENDS_ON]->(b:Resource) RETURN a.name AS a, b.name AS b")
    assert got == [{"a": "nic-1", "b": "hub"}]
    assert store.query("MATCH (n) RETURN count(n) AS n") == [{"n": 6}]  # 2 subs, 2 groups, 2 resources


# ---------------------------------------------------------------- scale: pacing, bad input, transform speed-ups


def test_fast_ancestors_match_the_reference_helper() -> None:
    from tenant_replicator.scan import ancestors

    role = f"{VNET}/providers/Microsoft.Authorization/roleAssignments/ra-1"
    sub_level = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/rd"
    for ref in (SUBNET, VNET, NIC + "/ipConfigurations/ipconfig1", role, sub_level, RG, f"/subscriptions/{SUB}"):
        assert ancestors(ref) == list(ids.ancestors(ref)), ref


def test_references_from_text_include_identity_keys_and_skip_escapes() -> None:
    identity = f"{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-1"
    payload = _nic_payload() | {"identity": {"type": "UserAssigned", "userAssignedIdentities": {identity: {}}}}
    payload["properties"]["note"] = f"see {NSG}\nnext line"
    refs = references(payload)
    assert identity.lower() in refs and NSG.lower() in refs
    assert not any("\\" in r or "next" in r for r in refs)


def test_duplicate_ids_differing_in_casing_are_one_resource() -> None:
    from tenant_replicator.scan import dedupe

    upper = _nic_payload() | {"id": NIC.upper()}
    _, rows = transform([], [(_nic_payload(), "v"), (upper, "v")], SUB, "s", "t")
    assert [r["id"] for r in rows] == [NIC]
    unique, duplicates = dedupe(
        [resource_row(_nic_payload(), "v", SUB, "s", "t"), resource_row(upper, "v", SUB, "s", "t")]
    )
    assert len(unique) == 1 and duplicates == [NIC.upper()]


class _FakeResponse:
    def __init__(self, status: int, content: bytes, reason: str = "OK") -> None:
        self.status_code, self.content, self.reason, self.headers = status, content, reason, {}

    def json(self) -> Any:
        return json.loads(self.content)

    def text(self) -> str:
        return self.content.decode()


def test_malformed_resource_json_is_an_error_naming_the_resource() -> None:
    from tenant_replicator.scan import fetch_resources

    bodies = {"nic-1": b"{not json", "vnet-1": b"[1, 2]", "nsg-1": b'{"name": "no id"}'}

    class Client:
        def send_request(self, request: Any) -> _FakeResponse:
            if "/providers/Microsoft.Network?" in request.url:
                doc = {"namespace": "Microsoft.Network", "resourceTypes": [
                    {"resourceType": t, "apiVersions": ["2024-05-01"]}
                    for t in ("networkInterfaces", "virtualNetworks", "networkSecurityGroups")]}  # fmt: skip
                return _FakeResponse(200, json.dumps(doc).encode())
            return _FakeResponse(200, bodies[request.url.split("?")[0].rsplit("/", 1)[-1]])

    summaries = [{"id": i, "type": ids.resource_type_of(i)} for i in (NIC, VNET, NSG)]
    fetched, errors, vanished = fetch_resources(Client(), summaries, 2, subscription_id=SUB)
    assert fetched == [] and vanished == []
    assert {e["id"] for e in errors} == {NIC, VNET, NSG}
    assert all("Malformed" in e["error"] for e in errors), errors


def test_pacer_waits_for_tokens_and_obeys_retry_after() -> None:
    from tenant_replicator.arm.pacing import Pacer

    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    pacer = Pacer(capacity=10, rate=5, reserve=2, clock=lambda: now[0], sleep=sleep)
    waits = [pacer.acquire() for _ in range(8)]
    assert waits == [0.0] * 8  # the burst, minus the reserve
    assert pacer.acquire() == pytest.approx(0.2, abs=0.01)  # then one token per 1/rate
    pacer.observe(200, {"x-ms-ratelimit-remaining-subscription-reads": "0"})  # the server knows better
    assert pacer.acquire() == pytest.approx(0.6, abs=0.01)
    pacer.observe(429, {"Retry-After": "3"})
    assert pacer.acquire() >= 3.0 and pacer.stats.throttled == 1 and pacer.stats.waits == 3


def test_scan_paces_under_the_read_budget_and_reports_progress(sim: dict, store: FalkorGraphStore) -> None:
    """Throttling enforced with a small bucket: the scan loses nothing and barely meets a 429."""
    from tenant_replicator.arm.pacing import Pacer

    _sim_call(sim, "POST", "/_sim/throttle", {"enforce": True, "limits": {"reads": [20, 20]}})
    events: list[dict[str, Any]] = []
    try:
        report = scan_subscription(
            _settings(sim), store, SUB, "scan-paced", progress=events.append, pacer=Pacer(capacity=20, rate=20)
        )
    finally:
        _sim_call(sim, "POST", "/_sim/throttle", {"enforce": False})
    assert report["complete"] is True and report["errors"] == []
    assert report["resources"] == len(_listed(sim, SUB))
    assert report["throttling"]["throttled"] <= 2, report["throttling"]  # paced, not hammering
    assert report["throttling"]["waits"] > 0
    final = [e for e in events if e["phase"] == "get"][-1]
    assert final["done"] == final["total"] == report["listed"] and final["rate_per_s"] > 0


def test_unknown_subscription_is_a_clear_listing_error(sim: dict, store: FalkorGraphStore) -> None:
    report = scan_subscription(_settings(sim), store, OTHER, "scan-404")
    assert report["complete"] is False and report["resources"] == 0
    assert len(report["errors"]) == 1 and OTHER in report["errors"][0]["error"]
    assert "not found" in report["errors"][0]["error"] and "404" in report["errors"][0]["error"]


def test_forbidden_listing_names_the_subscription(sim: dict, store: FalkorGraphStore) -> None:
    fault = {"method": "GET", "path_contains": f"/subscriptions/{SUB}/resourcegroups", "status": 403,
             "code": "AuthorizationFailed", "times": 5}  # fmt: skip
    _sim_call(sim, "POST", "/_sim/faults", {"faults": [fault]})
    report = scan_subscription(_settings(sim), store, SUB, "scan-403")
    assert report["complete"] is False
    assert "no permission" in report["errors"][0]["error"] and SUB in report["errors"][0]["error"]
    assert "403" in report["errors"][0]["error"]


def test_incomplete_scan_never_overwrites_the_last_complete_one(sim: dict, store: FalkorGraphStore) -> None:
    settings = _settings(sim)
    first = scan_subscription(settings, store, SUB, "scan-ok")
    before = read_resources(store, SUB)
    victim = before[0]
    # change a resource and forbid another: the incomplete scan must not write either
    path = "/" + "/".join(victim["id"].split("/")[-2:])
    fault = {"method": "GET", "path_contains": path, "status": 403, "code": "AuthorizationFailed", "times": 10}
    _sim_call(sim, "POST", "/_sim/faults", {"faults": [fault]})
    report = scan_subscription(settings, store, SUB, "scan-partial")
    assert report["complete"] is False and report["loaded"] is False
    assert report["kept_previous_complete_scan"] == "scan-ok"
    assert [e["id"].lower() for e in report["errors"]] == [victim["id"].lower()]
    assert "403" in report["errors"][0]["error"]
    assert read_resources(store, SUB) == before  # the complete scan's data, untouched
    scan = latest_scan(store, SUB)
    assert scan["scan_id"] == "scan-partial" and scan["complete"] is False
    assert scan["last_complete_scan_id"] == "scan-ok" and first["complete"]


def test_quota_pacer_waits_out_the_reset() -> None:
    from tenant_replicator.arm.pacing import QuotaPacer, parse_resets_after

    now = [0.0]
    pacer = QuotaPacer(clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert pacer.acquire() == 0.0
    pacer.observe(200, {"x-ms-user-quota-remaining": "0", "x-ms-user-quota-resets-after": "00:00:04.5"})
    assert pacer.acquire() == pytest.approx(4.5)
    assert parse_resets_after("01:02:03") == 3723 and parse_resets_after("junk") is None


def test_resource_graph_scan_matches_the_arm_scan(sim: dict, falkordb: EmbeddedFalkorDB) -> None:
    """ARG discovers and supplies bodies (ARM GET only for `ARM_BODY_TYPES`): same resources, same
    bodies except what ARG never returns (etag), ARM's type casing restored; fewer requests."""
    from tenant_replicator.scan.resource_graph import ARM_BODY_TYPES

    settings = _settings(sim)
    stores = [open_graph(falkordb.uri, f"arg_{uuid.uuid4().hex[:8]}") for _ in range(2)]
    try:
        arm = scan_subscription(settings, stores[0], SUB, "scan-arm")
        arg = scan_subscription(settings, stores[1], SUB, "scan-arg", use_resource_graph=True)
        assert arm["complete"] and arg["complete"] and arg["errors"] == [] and arg["source"] == "resource-graph"
        by_arm = {r["id"].lower(): r for r in read_resources(stores[0], SUB)}
        by_arg = {r["id"].lower(): r for r in read_resources(stores[1], SUB)}
        assert set(by_arg) == set(by_arm) and len(by_arm) == arm["listed"]
        assert any(r["type"].lower() in ARM_BODY_TYPES for r in by_arm.values())
        for key, ours in by_arg.items():
            theirs = {k: v for k, v in by_arm[key].items() if k != "etag"}
            assert ours["type"].lower() == theirs.pop("type").lower()
            assert {k: v for k, v in ours.items() if k not in ("type", "etag")} == theirs, key
        assert {g["id"].lower() for g in read_resource_groups(stores[1], SUB)} == {
            g["id"].lower() for g in read_resource_groups(stores[0], SUB)
        }
        assert arg["requests"] < arm["requests"]
    finally:
        for store in stores:
            store.delete_graph()
            store.close()


@pytest.fixture(scope="module")
def bolt_falkordb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedFalkorDB]:
    from tenant_replicator.graph.embedded import free_bolt_port

    with EmbeddedFalkorDB(Path(tmp_path_factory.mktemp("bolt")), bolt_port=free_bolt_port()) as server:
        yield server


def test_full_scan_through_an_airflow_neo4j_connection_over_bolt(
    sim: dict, bolt_falkordb: EmbeddedFalkorDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The production path (Airflow `neo4j` connection -> Neo4jHook -> neo4j driver -> Neo4jGraphStore)
    runs the whole scan load against a real Bolt server (FalkorDB's), one row a batch (its Bolt
    endpoint crashes on parameters over ~4.4 KB), and the graph matches the native-protocol scan."""
    from tenant_replicator.graph.connection import open_graph_from_connection
    from tenant_replicator.graph.neo4j_store import Neo4jGraphStore

    conn = {"conn_type": "neo4j", "host": "127.0.0.1", "port": bolt_falkordb.bolt_port}
    monkeypatch.setenv("AIRFLOW_CONN_GRAPH_BOLT", json.dumps(conn))
    bolt = open_graph_from_connection("graph_bolt", batch_size=1)
    native = open_graph(bolt_falkordb.uri, "falkordb")  # the one graph FalkorDB's Bolt endpoint serves
    other = open_graph(bolt_falkordb.uri, f"native_{uuid.uuid4().hex[:8]}")
    try:
        assert isinstance(bolt, Neo4jGraphStore)
        report = scan_subscription(_settings(sim), bolt, SUB, "scan-bolt")
        reference = scan_subscription(_settings(sim), other, SUB, "scan-native")
        assert report["complete"] and report["errors"] == []
        assert (report["resources"], report["depends_on"]) == (reference["resources"], reference["depends_on"])
        query = "MATCH (r:Resource {subscription_id: $sub}) RETURN r.id_lower AS id, r.properties AS p"
        via_bolt = {r["id"]: r["p"] for r in native.query(query, {"sub": SUB})}
        expected = {r["id"]: r["p"] for r in other.query(query, {"sub": SUB})}
        assert set(via_bolt) == set(expected)
        # FalkorDB's Bolt endpoint interprets backslash escapes inside string parameters (real Neo4j
        # does not): bodies without a backslash must arrive byte for byte
        clean = [i for i, text in expected.items() if "\\" not in text]
        assert clean and all(via_bolt[i] == expected[i] for i in clean)
        assert latest_scan(bolt, SUB)["complete"] is True
    finally:
        native.delete_graph()
        for store in (bolt, native, other):
            store.close()


def test_missing_graph_connection_is_named() -> None:
    from tenant_replicator.graph import GraphUnavailable
    from tenant_replicator.graph.connection import open_graph_from_connection

    with pytest.raises(GraphUnavailable, match="no_such_graph_conn"):
        open_graph_from_connection("no_such_graph_conn")


@pytest.mark.parametrize("conn_type", ["neo4j", "redis"])
def test_unreachable_graph_connection_is_named(conn_type: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from tenant_replicator.devstack import free_port
    from tenant_replicator.graph import GraphUnavailable
    from tenant_replicator.graph.connection import open_graph_from_connection

    conn = {"conn_type": conn_type, "host": "127.0.0.1", "port": free_port(), "password": "s3cret-pw"}
    monkeypatch.setenv("AIRFLOW_CONN_GRAPH_DOWN", json.dumps(conn))
    with pytest.raises(GraphUnavailable, match="graph_down") as caught:
        open_graph_from_connection("graph_down")
    assert "s3cret-pw" not in str(caught.value)


# ---------------------------------------------------------------- ARM collections instead of GETs


def test_plan_collections_groups_by_collection_and_keeps_small_groups_single() -> None:
    from tenant_replicator.scan.collections import collection_scope, plan_collections

    rg = f"/subscriptions/{SUB}/resourceGroups/rg-a/providers"
    vms = [{"id": f"{rg}/Microsoft.Compute/virtualMachines/vm{i}", "type": "Microsoft.Compute/virtualMachines"}
           for i in range(3)]  # fmt: skip
    vault = {"id": f"{rg}/Microsoft.KeyVault/vaults/kv1", "type": "Microsoft.KeyVault/vaults"}
    subnets = [{"id": f"{VNET}/subnets/s{i}", "type": "Microsoft.Network/virtualNetworks/subnets"} for i in range(2)]
    diag = "Microsoft.Insights/diagnosticSettings"
    ext = {"id": f"{VNET}/providers/{diag}/d", "type": diag}
    groups, singles = plan_collections([*vms, vault, *subnets, ext], SUB)
    assert groups == {
        (f"/subscriptions/{SUB}/providers/Microsoft.Compute/virtualMachines", "Microsoft.Compute/virtualMachines"): vms,
        (f"{VNET}/subnets", "Microsoft.Network/virtualNetworks/subnets"): subnets,
    }
    # one vault: a GET is cheaper than listing every vault; an extension resource has no collection here
    assert sorted(singles, key=str) == sorted([vault, ext], key=str)
    assert collection_scope(ext["id"], ext["type"], SUB) is None
    assert collection_scope("/subscriptions/x", "Microsoft.Compute/virtualMachines", SUB) is None


@pytest.fixture(scope="module")
def generated_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A generated 400-resource tenant: dozens of VMs, sites and vaults, the types ARG cannot stand for."""
    proc, info = _start_simulator(Path(tmp_path_factory.mktemp("gen-sim")), "--size", "400")
    try:
        yield info
    finally:
        _stop(proc)


def test_resource_graph_scan_reads_arm_only_types_through_collections(
    generated_sim: dict, falkordb: EmbeddedFalkorDB
) -> None:
    """The bodies ARG lacks come from subscription collections (1,000 a read), not one GET each:
    same resources and bodies as the ARM scan, and fewer requests than there are such resources."""
    from tenant_replicator.scan.resource_graph import ARM_BODY_TYPES

    _sim_call(generated_sim, "POST", "/_sim/reset")
    settings = _settings(generated_sim)
    stores = [open_graph(falkordb.uri, f"col_{uuid.uuid4().hex[:8]}") for _ in range(2)]
    try:
        arm = scan_subscription(settings, stores[0], SUB, "scan-arm")
        arg = scan_subscription(settings, stores[1], SUB, "scan-arg", use_resource_graph=True)
        assert arm["complete"] and arg["complete"] and arg["errors"] == []
        by_arm = {r["id"].lower(): r for r in read_resources(stores[0], SUB)}
        by_arg = {r["id"].lower(): r for r in read_resources(stores[1], SUB)}
        assert set(by_arg) == set(by_arm) and len(by_arm) >= 400
        arm_only = [k for k, r in by_arm.items() if r["type"].lower() in ARM_BODY_TYPES]
        assert len(arm_only) > 20
        for key in arm_only:  # the collection body is the GET body (ARG's row would have been scrubbed)
            assert by_arg[key] == by_arm[key], key
        stats = arg["arm_collections"]
        assert stats["collections"] >= 2 and stats["failed_collections"] == 0
        assert stats["pages"] + stats["single_gets"] < len(arm_only) // 2
        assert arg["requests"] < len(arm_only)
    finally:
        for store in stores:
            store.delete_graph()
            store.close()


def test_failed_collection_falls_back_to_single_gets(
    generated_sim: dict, store: FalkorGraphStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A collection that fails costs single GETs for its resources only; the others page (nextLink)."""
    from tenant_replicator.scan import collections

    monkeypatch.setattr(collections, "COLLECTION_PAGE", 5)
    _sim_call(generated_sim, "POST", "/_sim/reset")
    path = f"/subscriptions/{SUB}/providers/microsoft.compute/virtualmachines"
    fault = {"method": "GET", "path_contains": path, "status": 403, "code": "AuthorizationFailed", "times": 1}
    _sim_call(generated_sim, "POST", "/_sim/faults", {"faults": [fault]})
    report = scan_subscription(_settings(generated_sim), store, SUB, "scan-fallback", use_resource_graph=True)
    assert report["complete"] and report["errors"] == []
    stats = report["arm_collections"]
    assert stats["failed_collections"] == 1 and stats["pages"] > 2 * (stats["collections"] - 1)  # 5 a page
    vms = [r for r in read_resources(store, SUB) if r["type"].lower() == "microsoft.compute/virtualmachines"]
    assert report["arm_collections"]["single_gets"] >= len(vms) > 0
    assert all(vm["properties"] for vm in vms)


# ---------------------------------------------------------------- bad input, Resource Graph path and the graph


def test_unknown_subscription_through_resource_graph_is_a_listing_error_not_an_empty_scan(
    sim: dict, store: FalkorGraphStore
) -> None:
    """ARG answers a subscription it does not know with zero rows; the scan must not call that complete."""
    report = scan_subscription(_settings(sim), store, OTHER, "scan-arg-404", use_resource_graph=True)
    assert report["complete"] is False and report["resources"] == 0 and report["loaded"] is False
    assert len(report["errors"]) == 1 and OTHER in report["errors"][0]["error"]
    assert "not found" in report["errors"][0]["error"] and "404" in report["errors"][0]["error"]


def test_forbidden_subscription_through_resource_graph_keeps_the_complete_scan(
    sim: dict, store: FalkorGraphStore
) -> None:
    settings = _settings(sim)
    assert scan_subscription(settings, store, SUB, "scan-ok", use_resource_graph=True)["complete"]
    before = read_resources(store, SUB)
    fault = {"method": "GET", "path_contains": f"/subscriptions/{SUB}", "status": 403, "code": "AuthorizationFailed",
             "times": 1}  # fmt: skip
    _sim_call(sim, "POST", "/_sim/faults", {"faults": [fault]})
    report = scan_subscription(settings, store, SUB, "scan-403", use_resource_graph=True)
    assert report["complete"] is False and "no permission" in report["errors"][0]["error"]
    assert read_resources(store, SUB) == before
    scan = latest_scan(store, SUB)
    assert scan["scan_id"] == "scan-403" and scan["last_complete_scan_id"] == "scan-ok"


def test_id_casing_changed_between_scans_stays_one_node(store: FalkorGraphStore) -> None:
    """ARM IDs are case-insensitive and ARM does return them with different casing over time."""
    from tenant_replicator.scan import load

    for scan_id, payload in (("s1", _nic_payload()), ("s2", _nic_payload() | {"id": NIC.upper()})):
        groups, rows = transform([{"name": "rg-net"}], [(payload, "v")], SUB, scan_id, "t")
        load(store, SUB, groups, rows)
    nodes = store.query("MATCH (r:Resource) RETURN r.id AS id, r.scan_id AS scan")
    assert nodes == [{"id": NIC.upper(), "scan": "s2"}]
    assert store.query("MATCH (:Resource)-[e:IN]->(:ResourceGroup) RETURN count(e) AS n") == [{"n": 1}]


def test_graph_going_away_mid_scan_is_graph_unavailable(sim: dict, tmp_path: Path) -> None:
    from tenant_replicator.graph import GraphUnavailable

    with EmbeddedFalkorDB(tmp_path / "graph") as server:
        store = open_graph(server.uri, "doomed")
    try:  # the server is stopped now: the scan reads ARM, then cannot write
        with pytest.raises(GraphUnavailable, match="stopped answering"):
            scan_subscription(_settings(sim), store, SUB, "scan-nograph")
    finally:
        store.close()
