"""HCL overrides: each feature changes exactly what it names; every mistake names file, line and key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tenant_replicator.iac.generate import generate
from tenant_replicator.iac.overrides import OverridesError, load_overrides, parse_overrides

SRC = "9b00bc5e-1f2a-4c3d-8e4f-5a6b7c8d9e0f"
TGT = "c190c55a-0a1b-4c2d-9e3f-4a5b6c7d8e9f"
PRINCIPAL_SRC = "11111111-1111-4111-8111-111111111111"
PRINCIPAL_TGT = "22222222-2222-4222-8222-222222222222"


def _rg(name: str) -> dict:
    return {"id": f"/subscriptions/{SRC}/resourceGroups/{name}", "name": name, "location": "West Europe"}


def _res(rg: str, rtype: str, name: str, **extra: object) -> dict:
    return {
        "id": f"/subscriptions/{SRC}/resourceGroups/{rg}/providers/{rtype}/{name}",
        "name": name,
        "type": rtype,
        "location": "westeurope",
        "apiVersion": "2023-05-01",
        **extra,
    }


def _inputs() -> tuple[list[dict], list[dict]]:
    storage = _res(
        "rg-app",
        "Microsoft.Storage/storageAccounts",
        "stapp01",
        properties={"minimumTlsVersion": "TLS1_0"},
        sku={"name": "Standard_LRS"},
    )
    legacy = _res("rg-legacy", "Microsoft.Network/virtualNetworks", "vnet-old", properties={"addressSpace": {}})
    insights = _res("rg-app", "Microsoft.Insights/components", "appi", properties={"Application_Type": "web"})
    role = {
        "id": f"/subscriptions/{SRC}/providers/Microsoft.Authorization/roleAssignments/ra1",
        "type": "Microsoft.Authorization/roleAssignments",
        "apiVersion": "2022-04-01",
        "properties": {"principalId": PRINCIPAL_SRC, "roleDefinitionId": "/providers/x/roleDefinitions/r"},
    }
    return [storage, legacy, insights, role], [_rg("rg-app"), _rg("rg-legacy")]


OVERRIDES = f'''
exclude {{
  resource_groups = ["RG-LEGACY*"]
}}
exclude {{
  types = ["microsoft.insights/*"]
}}
patch "Microsoft.Storage/storageAccounts" {{
  body = {{ properties = {{ minimumTlsVersion = "TLS1_2", note = "$${{not a ref}}" }} }}
}}
location_map = {{ "West Europe" = "northeurope" }}
name_map = {{
  "/subscriptions/{SRC}/resourceGroups/rg-app/providers/Microsoft.Storage/storageAccounts/stapp01" = "stappdr01"
}}
principals = {{ "{PRINCIPAL_SRC}" = "{PRINCIPAL_TGT}" }}
'''


def test_every_override_is_applied_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "overrides.hcl"
    path.write_text(OVERRIDES)
    overrides = load_overrides(path)
    resources, groups = _inputs()
    res = generate(resources, groups, SRC, TGT, "n1", overrides=overrides)
    skipped = {s["id"].rsplit("/", 1)[-1]: s["reason"] for s in res.skipped}
    assert set(skipped) == {"rg-legacy", "vnet-old", "appi"}  # excluded: reported, never silently dropped
    assert "RG-LEGACY*" in skipped["vnet-old"] and str(path) in skipped["vnet-old"]
    assert "microsoft.insights/*" in skipped["appi"]
    blocks = res.config["resource"]["azapi_resource"]
    storage = next(b for b in blocks.values() if b["type"].startswith("Microsoft.Storage/"))
    assert storage["name"] == "stappdr01"  # the user's name, not the nonce-derived one
    assert storage["body"]["properties"] == {"minimumTlsVersion": "TLS1_2", "note": "$${not a ref}"}
    assert storage["body"]["sku"] == {"name": "Standard_LRS"}  # deep merge keeps the rest
    assert storage["location"] == "northeurope"  # "westeurope" and "West Europe" are one region
    rg = next(b for b in blocks.values() if b["type"].startswith("Microsoft.Resources/"))
    assert rg["location"] == "northeurope"
    role = next(b for b in blocks.values() if b["type"].startswith("Microsoft.Authorization/"))
    assert role["body"]["properties"]["principalId"] == PRINCIPAL_TGT
    assert res.name_map[resources[0]["id"].lower()].endswith("/storageAccounts/stappdr01")
    assert res.resource_count + len(res.skipped) == len(resources) + len(groups)


def test_location_map_folds_spelling_and_include_keeps_only_what_matches() -> None:
    overrides = parse_overrides(
        'location_map = { WestEurope = "swedencentral" }\ninclude { types = ["Microsoft.Storage/*"] }'
    )
    resources, groups = _inputs()
    res = generate(resources, groups, SRC, TGT, "n1", overrides=overrides)
    blocks = res.config["resource"]["azapi_resource"]
    assert {b["location"] for b in blocks.values() if "location" in b} == {"swedencentral"}
    kept = sorted(b["type"].split("@")[0] for b in blocks.values())
    assert kept == ["Microsoft.Resources/resourceGroups"] * 2 + ["Microsoft.Storage/storageAccounts"]
    reasons = {s["id"].rsplit("/", 1)[-1]: s["reason"] for s in res.skipped}
    assert set(reasons) == {"vnet-old", "appi", "ra1"} and all("not included" in r for r in reasons.values())


def test_a_name_override_breaking_the_type_rule_is_an_error_naming_the_key() -> None:
    resources, groups = _inputs()
    bad = parse_overrides(f'name_map = {{ "{resources[0]["id"]}" = "Not_Valid!" }}')
    with pytest.raises(ValueError, match=r"name_map\[.*stapp01.*breaks the naming rule of Microsoft.Storage"):
        generate(resources, groups, SRC, TGT, "n1", overrides=bad)
    unused = parse_overrides(f'name_map = {{ "/subscriptions/{SRC}/resourceGroups/x" = "y" }}')
    res = generate(resources, groups, SRC, TGT, "n1", overrides=unused)
    assert res.notes == [f"name_map override for /subscriptions/{SRC}/resourcegroups/x matches no emitted resource"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("exclude {\n  types = [\n", r"overrides.hcl:\d+: not valid HCL"),
        ("\n\nbogus = 1\n", r"overrides.hcl:3: unknown key 'bogus'"),
        ('exclude {\n  kinds = ["x"]\n}\n', r"overrides.hcl:2: exclude.kinds: unknown key"),
        ("exclude {\n  types = 3\n}\n", r"overrides.hcl:2: exclude.types must be a list of strings"),
        ('\npatch "storage" {\n  body = {}\n}\n', r"overrides.hcl:2: patch \"storage\": the label must be an ARM type"),
        ('patch "A.B/c" {\n  body = "x"\n}\n', r"overrides.hcl:2: patch \"A.B/c\".body must be an object"),
        ('patch "A.B/c" {\n  bodyy = {}\n}\n', r"overrides.hcl:2: patch \"A.B/c\".bodyy: unknown key"),
        ("location_map = { a = 1 }\n", r"overrides.hcl:1: location_map must be an object of string = string"),
        ('name_map = { "rg" = "x" }\n', r"overrides.hcl:1: name_map key 'rg' must be a source resource id"),
        ('\nprincipals = { "a" = "b" }\n', r"overrides.hcl:2: principals: principal map entry"),
    ],
)
def test_invalid_overrides_name_file_line_and_key(text: str, message: str) -> None:
    with pytest.raises(OverridesError, match=message):
        parse_overrides(text, "overrides.hcl")


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(OverridesError, match="cannot read overrides"):
        load_overrides(tmp_path / "nope.hcl")


def test_patch_null_removes_a_key_and_lists_replace() -> None:
    from tenant_replicator.iac.overrides import deep_merge

    body = {"properties": {"a": 1, "b": [1, 2], "c": {"d": 1, "e": 2}}}
    deep_merge(body, {"properties": {"a": None, "b": [3], "c": {"e": 5}}})
    assert json.dumps(body, sort_keys=True) == json.dumps({"properties": {"b": [3], "c": {"d": 1, "e": 5}}})
