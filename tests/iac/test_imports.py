"""Adoption imports from the generator share imports.tf.json with crash adoption: one block per address."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tenant_replicator.iac.generate import generate, write_imports
from tenant_replicator.terraform import imports as tf_imports

SRC = "9b00bc5e-1f2a-4c3d-8e4f-5a6b7c8d9e0f"
TGT = "c190c55a-0a1b-4c2d-9e3f-4a5b6c7d8e9f"


def _inputs() -> tuple[list[dict], list[dict]]:
    rg = f"/subscriptions/{SRC}/resourceGroups/rg-a"
    vnet = {
        "id": f"{rg}/providers/Microsoft.Network/virtualNetworks/vnet1",
        "type": "Microsoft.Network/virtualNetworks",
        "apiVersion": "2023-09-01",
        "location": "westeurope",
        "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}},
    }
    identity = {
        "id": f"{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1",
        "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
        "apiVersion": "2023-01-31",
        "location": "westeurope",
    }
    return [vnet, identity], [{"id": rg, "name": "rg-a", "location": "westeurope"}]


def test_matching_target_ids_become_imports_and_nothing_else() -> None:
    resources, groups = _inputs()
    target_vnet = {"id": f"/subscriptions/{TGT}/resourceGroups/RG-A/providers/Microsoft.Network/virtualNetworks/VNET1"}
    unrelated = {"id": f"/subscriptions/{TGT}/resourceGroups/rg-b/providers/Microsoft.Network/virtualNetworks/vnet1"}
    res = generate(resources, groups, SRC, TGT, "n", target_resources=[target_vnet, unrelated])
    label = next(k for k in res.labels if k.startswith("virtualnetworks_"))
    # the target's own spelling of the id, with the configured api-version (azapi's import id)
    assert res.imports == {f"azapi_resource.{label}": target_vnet["id"] + "?api-version=2023-09-01"}
    assert generate(resources, groups, SRC, TGT, "n").imports is None  # no target given: imports left alone
    with pytest.raises(ValueError, match="resource without an id"):
        generate(resources, groups, SRC, TGT, "n", target_resources=[{"name": "no id"}])


def test_one_block_per_address_and_crash_adoption_wins(tmp_path: Path) -> None:
    # crash adoption (terraform.imports) already wants A (and B, which we never generate)
    tf_imports.write_imports(tmp_path, {"azapi_resource.a": "/x/a?api-version=1", "azapi_resource.b": "/x/b"})
    merged = write_imports(tmp_path, {"azapi_resource.a": "/other/a", "azapi_resource.c": "/x/c"})
    assert merged == {"azapi_resource.a": "/x/a?api-version=1", "azapi_resource.b": "/x/b", "azapi_resource.c": "/x/c"}
    blocks = json.loads((tmp_path / "imports.tf.json").read_text())["import"]
    assert sorted(b["to"] for b in blocks) == ["azapi_resource.a", "azapi_resource.b", "azapi_resource.c"]
    # next generation no longer matches anything: our C goes, crash adoption's A and B stay
    assert write_imports(tmp_path, {}) == {"azapi_resource.a": "/x/a?api-version=1", "azapi_resource.b": "/x/b"}
    assert tf_imports.read_imports(tmp_path) == {"azapi_resource.a": "/x/a?api-version=1", "azapi_resource.b": "/x/b"}
