"""Fidelity is 1:1 matching through the name map, never a ratio of counts."""

from tenant_replicator.fidelity import compute_fidelity, map_source_id

SRC = "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg"
TGT = "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg"


def resource(base: str, kind: str, name: str, **properties) -> dict:
    return {"id": f"{base}/providers/{kind}/{name}", "type": kind, "name": name, "properties": properties}


def test_preexisting_target_resources_never_inflate_fidelity():
    source = [resource(SRC, "Microsoft.Network/virtualNetworks", f"v{i}") for i in range(4)]
    target = [resource(TGT, "Microsoft.Network/virtualNetworks", f"other{i}") for i in range(10)]
    target.append(resource(TGT, "Microsoft.Network/virtualNetworks", "v0"))
    name_map = {s["id"].lower(): s["id"].replace(SRC, TGT) for s in source}

    report = compute_fidelity(source, target, name_map, source_complete=True, target_complete=True)

    assert report["matched"] == 1
    assert report["overall_percent"] == 25.0
    assert report["preexisting_target"] == 10
    assert {u["reason"] for u in report["unmatched"]} == {"missing in target after apply"}


def test_type_is_matched_case_insensitively_and_keyed_canonically():
    source = [resource(SRC, "microsoft.insights/dataCollectionRules", "dcr1")]
    target = [resource(TGT, "Microsoft.Insights/dataCollectionRules", "dcr1")]
    name_map = {source[0]["id"].lower(): target[0]["id"]}
    report = compute_fidelity(
        source,
        target,
        name_map,
        source_complete=True,
        target_complete=True,
        canonical_type=lambda t: "Microsoft.Insights/dataCollectionRules",
    )
    assert report["overall_percent"] == 100.0
    assert report["per_type"] == {
        "Microsoft.Insights/dataCollectionRules": {"source": 1, "matched": 1, "percent": 100.0}
    }


def test_one_target_cannot_match_two_sources_and_percent_is_capped():
    source = [
        resource(SRC, "Microsoft.Storage/storageAccounts", "a"),
        resource(SRC, "Microsoft.Storage/storageAccounts", "b"),
    ]
    target = [resource(TGT, "Microsoft.Storage/storageAccounts", "a")]
    both_to_a = {s["id"].lower(): target[0]["id"] for s in source}
    report = compute_fidelity(source, target, both_to_a, source_complete=True, target_complete=True)
    assert report["matched"] == 1 and report["overall_percent"] == 50.0


def test_unmatched_reasons_and_out_of_scope():
    source = [resource(SRC, "Microsoft.Web/sites", n) for n in ("failed", "skipped", "never")]
    ids = [s["id"] for s in source]
    report = compute_fidelity(
        source,
        [],
        {ids[0].lower(): ids[0].replace(SRC, TGT)},
        source_complete=True,
        target_complete=False,
        out_of_scope={ids[1]: "managedBy set (platform-managed)"},
        failure_reasons={ids[0]: "409 Conflict"},
    )
    reasons = {u["id"]: u["reason"] for u in report["unmatched"]}
    assert reasons == {ids[0]: "apply failed: 409 Conflict", ids[2]: "not generated"}
    assert report["source_total"] == 2
    assert report["out_of_scope"][0]["reason"].startswith("managedBy")
    assert report["scan"] == {"source_complete": True, "target_complete": False}


def test_property_score_maps_references_through_the_name_map():
    nsg_src = f"{SRC}/providers/Microsoft.Network/networkSecurityGroups/nsg"
    nsg_tgt = f"{TGT}/providers/Microsoft.Network/networkSecurityGroups/nsg"
    source = [
        resource(
            SRC,
            "Microsoft.Network/virtualNetworks",
            "v",
            subnets=[
                {"name": "s1", "properties": {"networkSecurityGroup": {"id": nsg_src}, "addressPrefix": "10.0.0.0/24"}}
            ],
        )
    ]
    good = [
        resource(
            TGT,
            "Microsoft.Network/virtualNetworks",
            "v",
            provisioningState="Succeeded",
            subnets=[
                {
                    "name": "s1",
                    "properties": {"networkSecurityGroup": {"id": nsg_tgt.upper()}, "addressPrefix": "10.0.0.0/24"},
                }
            ],
        )
    ]
    name_map = {source[0]["id"].lower(): good[0]["id"], nsg_src.lower(): nsg_tgt}
    report = compute_fidelity(source, good, name_map, source_complete=True, target_complete=True)
    assert report["property_score_percent"] == 100.0

    drifted = [dict(good[0], properties={"subnets": [{"name": "s1", "properties": {"addressPrefix": "10.9.0.0/24"}}]})]
    report = compute_fidelity(source, drifted, name_map, source_complete=True, target_complete=True)
    assert report["property_score_percent"] == round(100 * 1 / 3, 1)  # name equal; nsg id and prefix differ


def test_map_source_id_uses_longest_prefix():
    vnet = f"{SRC}/providers/Microsoft.Network/virtualNetworks/v"
    mapped = map_source_id(f"{vnet}/subnets/S1", {vnet.lower(): vnet.replace(SRC, TGT)})
    assert mapped == f"{TGT}/providers/Microsoft.Network/virtualNetworks/v/subnets/s1".lower()
    assert map_source_id("not an id", {}) == "not an id"
