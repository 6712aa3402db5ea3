"""Graph load into embedded FalkorDB: resources/s and edges/s for 10k and 100k synthetic resources.

Bodies are realistic ARM GET payloads (~1 KB: NSGs, VNets with subnets, NICs, storage accounts)
whose references give one DEPENDS_ON edge per resource. Each size runs in its own process so its
peak RSS is its own. Measured: transform (bodies -> rows), load (rows -> graph, fresh), reload
(same rows again: the diff touches only scan_id). Baseline, same run and same 100k rows into a
second graph of the same server: the MERGE loader (one MERGE per node with its IN edge in the
same statement, MERGE edges, the falkordb client's parameter encoding).

Evaluated and not adopted (measured on 100k, same run, machine loaded by other work):
GRAPH.BULK (the falkordb-bulk-loader binary format) loaded nodes + edges 2.3x faster than the
Cypher loader, but it only creates a *new* graph key (`BEGIN` refuses an existing one), and the
scanner's graph holds every subscription (and the indexes) in one key, so it could serve only the
very first scan into an empty server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SUB = "3f2b8c1e-5d4a-4e7b-9c21-6a8f0d2e4b17"
SIZES = (10_000, 100_000)


def payloads(n: int, per_group: int = 1000) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """n ARM GET bodies in groups of `per_group`; every resource but the NSGs references another."""
    out = []
    for i in range(n):
        g = i // per_group
        rg = f"/subscriptions/{SUB}/resourceGroups/rg-{g:04d}"
        net = f"{rg}/providers/Microsoft.Network"
        slot = i % 4
        extra: dict[str, Any] = {}
        if slot == 0:
            arm_type, name = "Microsoft.Network/networkSecurityGroups", f"nsg-{i}"
            props: dict[str, Any] = {
                "securityRules": [
                    {"name": f"r{k}", "properties": {"priority": 100 + k, "access": "Allow", "direction": "Inbound",
                                                     "protocol": "Tcp", "sourceAddressPrefix": "10.0.0.0/8",
                                                     "destinationPortRange": str(443 + k)}}
                    for k in range(3)
                ],
                "provisioningState": "Succeeded",
            }  # fmt: skip
        elif slot == 1:
            arm_type, name = "Microsoft.Network/virtualNetworks", f"vnet-{i}"
            props = {
                "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                "subnets": [
                    {"name": f"snet-{k}", "id": f"{net}/virtualNetworks/vnet-{i}/subnets/snet-{k}",
                     "properties": {"addressPrefix": f"10.0.{k}.0/24",
                                    "networkSecurityGroup": {"id": f"{net}/networkSecurityGroups/nsg-{i - 1}"}}}
                    for k in range(2)
                ],
            }  # fmt: skip
        elif slot == 2:
            arm_type, name = "Microsoft.Network/networkInterfaces", f"nic-{i}"
            props = {
                "ipConfigurations": [
                    {"name": "ipconfig1", "id": f"{net}/networkInterfaces/nic-{i}/ipConfigurations/ipconfig1",
                     "properties": {"privateIPAllocationMethod": "Dynamic",
                                    "subnet": {"id": f"{net}/virtualNetworks/vnet-{i - 1}/subnets/snet-0"}}}
                ],
                "networkSecurityGroup": {"id": f"{net}/networkSecurityGroups/nsg-{i - 2}"},
            }  # fmt: skip
        else:
            arm_type, name = "Microsoft.Storage/storageAccounts", f"st{i}"
            extra = {"sku": {"name": "Standard_LRS"}, "kind": "StorageV2"}
            props = {
                "minimumTlsVersion": "TLS1_2",
                "networkAcls": {"defaultAction": "Deny", "virtualNetworkRules": [
                    {"id": f"{net}/virtualNetworks/vnet-{i - 2}/subnets/snet-1", "action": "Allow"}]},
                "primaryEndpoints": {"blob": f"https://st{i}.blob.core.windows.net/"},
            }  # fmt: skip
        out.append({"id": f"{rg}/providers/{arm_type}/{name}", "name": name, "type": arm_type,
                    "location": "westeurope", "tags": {"env": "bench", "costCenter": str(g)},
                    "properties": props, **extra})  # fmt: skip
    groups = [{"name": f"rg-{g:04d}", "location": "westeurope"} for g in range((n + per_group - 1) // per_group)]
    return groups, out


BASELINE_RESOURCES = """UNWIND $rows AS row
MERGE (r:Resource {id_lower: row.id_lower})
SET r.id = row.id, r.type = row.type, r.type_lower = row.type_lower, r.name = row.name,
    r.location = row.location, r.subscription_id = row.subscription_id,
    r.resource_group = row.resource_group, r.api_version = row.api_version,
    r.properties = row.properties, r.tags = row.tags, r.scan_id = row.scan_id, r.scanned_at = row.scanned_at
WITH r, row
MATCH (g:ResourceGroup {id_lower: row.rg_id_lower})
MERGE (r)-[:IN]->(g)"""
BASELINE_EDGES = """UNWIND $rows AS row
MATCH (r:Resource {id_lower: row.src})
MATCH (d:Resource {id_lower: row.dst})
MERGE (r)-[:DEPENDS_ON]->(d)"""


def baseline_load(store: Any, groups: list, rows: list) -> None:
    """The previous loader's statements, sent through the falkordb client's own encoder, 2,000 a batch."""
    from tenant_replicator.scan.load import UPSERT_GROUPS, UPSERT_SUBSCRIPTION
    from tenant_replicator.scan.transform import resolve_edges

    graph = store._graph  # noqa: SLF001 - the client's own query path is the baseline
    store.query(UPSERT_SUBSCRIPTION, {"sub": SUB})
    store.write(UPSERT_GROUPS, groups)
    for start in range(0, len(rows), 2000):
        graph.query(BASELINE_RESOURCES, {"rows": [{k: v for k, v in r.items() if k != "depends_on"}
                                                  for r in rows[start : start + 2000]]})  # fmt: skip
    known = {r["id_lower"] for r in rows}
    edges = resolve_edges(rows, known.__contains__)
    for start in range(0, len(edges), 2000):
        graph.query(BASELINE_EDGES, {"rows": edges[start : start + 2000]})


def measure(n: int, with_baseline: bool) -> dict[str, Any]:
    """One size in this process: transform, fresh load, unchanged reload (and the baseline)."""
    import psutil

    from tenant_replicator.graph import ensure_indexes, open_graph
    from tenant_replicator.graph.embedded import EmbeddedFalkorDB
    from tenant_replicator.scan import load, transform

    groups, bodies = payloads(n)
    out: dict[str, Any] = {"n": n}
    with tempfile.TemporaryDirectory() as tmp, EmbeddedFalkorDB(Path(tmp)) as db:
        store = open_graph(db.uri, "bench")
        ensure_indexes(store)
        started = time.perf_counter()
        group_rows, rows = transform(groups, [(b, "2024-05-01") for b in bodies], SUB, "scan-1", "now")
        out["transform_s"] = time.perf_counter() - started
        server = psutil.Process(db.pid)
        cpu0, own0 = server.cpu_times(), time.process_time()
        started = time.perf_counter()
        counts = load(store, SUB, group_rows, rows)
        out["load_s"] = time.perf_counter() - started
        cpu1 = server.cpu_times()
        # CPU seconds hold still when other work loads the machine, wall time does not
        out["server_cpu_s"] = cpu1.user + cpu1.system - cpu0.user - cpu0.system
        out["client_cpu_s"] = time.process_time() - own0
        out["edges"] = counts["depends_on"]
        group_rows, rows = transform(groups, [(b, "2024-05-01") for b in bodies], SUB, "scan-2", "now")
        started = time.perf_counter()
        again = load(store, SUB, group_rows, rows)
        out["reload_s"] = time.perf_counter() - started
        out["reload_unchanged"] = again["unchanged"]
        if with_baseline:
            base = open_graph(db.uri, "baseline")
            ensure_indexes(base)
            started = time.perf_counter()
            baseline_load(base, group_rows, rows)
            out["baseline_s"] = time.perf_counter() - started
    from peak_rss import peak_rss_mb  # bench/ is this child's sys.path[0]

    out["peak_rss_mb"] = peak_rss_mb()
    return out


def run() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for n in SIZES:
        proc = subprocess.run(  # noqa: S603 - this file, fixed argv
            [sys.executable, __file__, str(n), "baseline" if n == SIZES[-1] else ""],
            capture_output=True, text=True, check=True, timeout=280,
        )  # fmt: skip
        m = json.loads(proc.stdout.strip().splitlines()[-1])
        bench, note = f"graph_load_{n // 1000}k", f"2 cores shared; load avg {os.getloadavg()[0]:.1f}"
        rate = n / m["load_s"]
        row = {"benchmark": bench, "metric": "load resources/s (rows -> graph, with edges)", "value": rate,
               "unit": "resources/s", "note": note}  # fmt: skip
        if "baseline_s" in m:
            row |= {"baseline": n / m["baseline_s"], "ratio": m["baseline_s"] / m["load_s"]}
            row["note"] += "; baseline: MERGE loader (MERGE+IN per statement, client encoder), same rows, same run"
        rows.append(row)
        rows += [
            {"benchmark": bench, "metric": "load edges/s", "value": m["edges"] / m["load_s"], "unit": "edges/s"},
            {"benchmark": bench, "metric": "load CPU seconds (server / client)", "unit": "s",
             "value": m["server_cpu_s"], "note": f"server {m['server_cpu_s']:.2f} s, client {m['client_cpu_s']:.2f} s "
                                                 "(they overlap: the wall time is at least the larger one)"},
            {"benchmark": bench, "metric": "transform+load resources/s", "unit": "resources/s",
             "value": n / (m["transform_s"] + m["load_s"]), "note": "bodies -> rows -> graph"},
            {"benchmark": bench, "metric": "rescan load resources/s (unchanged)", "unit": "resources/s",
             "value": n / m["reload_s"], "note": f"{m['reload_unchanged']} unchanged rows only touched"},
            {"benchmark": bench, "metric": "peak RSS", "value": m["peak_rss_mb"], "unit": "MiB"},
        ]  # fmt: skip
    return rows


if __name__ == "__main__":
    if len(sys.argv) > 1:
        print(json.dumps(measure(int(sys.argv[1]), len(sys.argv) > 2 and sys.argv[2] == "baseline")))
    else:
        for r in run():
            print(r)
