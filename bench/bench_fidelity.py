"""Fidelity report for 100k source vs 100k target resources (goal <= 2 s on 2 cores).

No baseline: the original's count ratio is not a comparable computation (it matched nothing).
"""

from __future__ import annotations

import time

from tenant_replicator.fidelity import compute_fidelity
from tenant_replicator.iac.registry import canonical_type

SRC = "/subscriptions/3f2b8c1e-5d4a-4e7b-9c21-6a8f0d2e4b17/resourceGroups/rg-{g}"
TGT = "/subscriptions/c7e91a04-2b6f-4d38-a5e2-91f4b7c0d863/resourceGroups/rg-{g}"
TYPES = [
    "Microsoft.Network/virtualNetworks",
    "Microsoft.Network/networkInterfaces",
    "Microsoft.Compute/disks",
    "microsoft.insights/dataCollectionRules",
    "Microsoft.Storage/storageAccounts",
]


def corpus(count: int) -> tuple[list[dict], list[dict], dict[str, str]]:
    source, target, name_map = [], [], {}
    for i in range(count):
        kind = TYPES[i % len(TYPES)]
        suffix = f"/providers/{kind}/res{i}"
        properties = {
            "addressSpace": {"addressPrefixes": [f"10.{i % 250}.0.0/16"]},
            "subnet": {"id": SRC.format(g=i % 97) + f"/providers/Microsoft.Network/virtualNetworks/res{i}/subnets/s"},
            "provisioningState": "Succeeded",
        }
        src = {"id": SRC.format(g=i % 97) + suffix, "type": kind, "name": f"res{i}", "properties": properties}
        tgt_id = TGT.format(g=i % 97) + suffix
        source.append(src)
        name_map[src["id"].lower()] = tgt_id
        if i % 50:  # 2 % missing in the target
            target.append({"id": tgt_id, "type": kind, "name": f"res{i}", "properties": properties})
    return source, target, name_map


def run() -> list[dict]:
    source, target, name_map = corpus(100_000)
    started = time.perf_counter()
    report = compute_fidelity(
        source, target, name_map, source_complete=True, target_complete=True, canonical_type=canonical_type
    )
    honest = time.perf_counter() - started
    assert report["matched"] == 98_000, report["matched"]
    return [
        {
            "benchmark": "fidelity 100k vs 100k",
            "metric": "report time",
            "value": honest,
            "unit": "s",
            "note": "goal <= 2 s",
        },
        {"benchmark": "fidelity 100k vs 100k", "metric": "resources/s", "value": 100_000 / honest, "unit": "1/s"},
    ]
