"""The published-example corpus: loaded, generated and validated; every payload accounted for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tenant_replicator.iac.arm_json import check_payload, load_arm_dir, swap_subscription
from tenant_replicator.iac.generate import generate
from tenant_replicator.iac.ids import parse_resource_id
from tenant_replicator.iac.principals import load_principal_map
from tenant_replicator.iac.registry import GENERIC_READ_ONLY, canonical_type, lookup

CORPUS = Path(__file__).resolve().parents[1] / "data" / "arm_corpus"
CORPUS_SUB = "5ce7c0de-a11c-4e5a-9c0d-000000000001"
TARGET = "c7e91a04-2b6f-4d38-a5e2-91f4b7c0d863"
SPECS_PATH = "specification/"


@pytest.fixture(scope="module")
def export():
    return load_arm_dir(CORPUS)


@pytest.fixture(scope="module")
def result(export):
    return generate(export.resources, export.resource_groups, CORPUS_SUB, TARGET, "c0rpus")


def _files() -> list[Path]:
    return sorted(CORPUS.glob("*.json"))


def test_corpus_covers_at_least_60_types_each_file_citing_its_source() -> None:
    types = set()
    sources = (CORPUS / "SOURCES.md").read_text()
    for path in _files():
        doc = json.loads(path.read_text())
        assert doc["_source"].startswith(SPECS_PATH) and "/examples/" in doc["_source"], path.name
        assert f"`{doc['_source']}`" in sources and f"| {path.name} |" in sources, path.name
        types.add(parse_resource_id(doc["id"]).resource_type.lower())
    assert len(types) >= 60, sorted(types)


def test_corpus_is_one_subscription(export) -> None:
    assert export.subscriptions == [CORPUS_SUB]


def test_every_payload_is_loaded_or_reported(export) -> None:
    bodies = sum(1 for _ in _files())
    assert len(export.resources) + len(export.problems) == bodies  # the corpus lists no resource group
    (problem,) = export.problems
    assert problem["file"] == "vpnpolicygroup.json"
    assert "disagrees with the type in its id" in problem["reason"]
    untyped = {n["file"] for n in export.notes if "without type" in n["note"]}
    assert {"subnet.json", "availabilityset.json", "route.json"} <= untyped
    assert all(r["type"] and r["apiVersion"] for r in export.resources)


def test_resource_groups_are_derived_from_ids_with_a_location(export) -> None:
    names = {g["name"] for g in export.resource_groups}
    assert {"rg1", "myResourceGroup", "oiautorest6685", "ArunMonocle"} <= names
    rg1 = next(g for g in export.resource_groups if g["name"] == "rg1")
    assert rg1["location"] and rg1["location"] != "global"


def test_generate_accounts_for_every_corpus_payload(export, result) -> None:
    inputs = {r["id"].lower() for r in export.resources} | {g["id"].lower() for g in export.resource_groups}
    skipped = {s["id"].lower() for s in result.skipped}
    assert inputs == set(result.name_map) | skipped
    assert not set(result.name_map) & skipped
    assert result.resource_count == len(result.name_map) - len(result.inline)
    assert all(s["reason"] for s in result.skipped)


def test_blocks_use_the_payload_api_version_and_canonical_type(export, result) -> None:
    by_id = {r["id"].lower(): r for r in export.resources}
    labels = result.labels
    for label, block in result.config["resource"]["azapi_resource"].items():
        source = by_id.get(labels[label].lower())
        if source is None:  # a resource group
            continue
        arm_type, api = block["type"].split("@")
        assert api == source["apiVersion"], label
        assert arm_type == canonical_type(source["type"])
        if lookup(arm_type).known:  # known types have one casing whatever the payload says
            assert lookup(arm_type.upper()).canonical == arm_type


def test_no_source_subscription_and_no_read_only_fields_in_the_config(result) -> None:
    text = json.dumps(result.config)
    assert CORPUS_SUB not in text.lower()
    for leaked in (
        '"provisioningState"',
        '"primaryEndpoints"',
        '"vaultUri"',
        '"loginServer"',
        '"macAddress"',
        '"defaultHostName"',
        '"fullyQualifiedDomainName"',
        '"immutableId"',
        '"principalId"',
        '"createdAt"',
        '"privateEndpointConnections"',
        '"resourceGuid"',
    ):
        assert leaked not in text, leaked
    assert any(p.endswith("provisioningState") for p in GENERIC_READ_ONLY)


def test_generation_is_deterministic(export, result) -> None:
    again = generate(export.resources, export.resource_groups, CORPUS_SUB, TARGET, "c0rpus")
    assert json.dumps(again.config, sort_keys=True) == json.dumps(result.config, sort_keys=True)


def test_terraform_validate_accepts_the_corpus_config(result, terraform_validate) -> None:
    report = terraform_validate(result)
    assert report["valid"] and report["error_count"] == 0, report["_output"]


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"name": "x", "type": "Microsoft.Network/virtualNetworks"}, "payload without id"),
        ({"id": "", "type": "Microsoft.Network/virtualNetworks"}, "payload without id"),
        ({"id": "/subscriptions/not-a-guid/resourceGroups/rg/providers/A.B/c/d"}, "not an ARM resource id"),
        ({"id": f"/subscriptions/{CORPUS_SUB}/resourceGroups/rg/providers/Microsoft.Network"}, "do not pair"),
        ({"id": f"/subscriptions/{CORPUS_SUB}"}, "subscription id"),
        (
            {"id": f"/subscriptions/{CORPUS_SUB}/resourceGroups/rg/providers/A.B/c/d", "apiVersion": "latest"},
            "unknown api-version",
        ),
        ({"id": f"/subscriptions/{CORPUS_SUB}/resourceGroups/rg/providers/A.B/c/d", "type": 7}, "not a string"),
        ([1, 2], "not a JSON object"),
    ],
)
def test_bad_payloads_are_refused_with_the_reason(body, reason: str) -> None:
    payload, problem, _ = check_payload(body)
    assert payload is None and problem and reason in problem


def test_a_directory_with_bad_files_reports_each_and_keeps_the_rest(tmp_path: Path) -> None:
    good = json.loads((CORPUS / "identity.json").read_text())
    (tmp_path / "a.json").write_text(json.dumps({"value": [good, {"name": "no id"}]}))
    (tmp_path / "b.json").write_text("{ not json")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.json").write_text(json.dumps([good]))
    loaded = load_arm_dir(tmp_path)
    assert [r["id"] for r in loaded.resources] == [good["id"]]
    reasons = sorted((p["file"], p["reason"].split(":")[0]) for p in loaded.problems)
    assert reasons == [
        ("a.json", "payload without id"),
        ("b.json", "unreadable JSON"),
        ("sub/c.json", "duplicate of the payload in a.json"),
    ]
    with pytest.raises(FileNotFoundError):
        load_arm_dir(tmp_path / "missing")


def test_impossible_names_are_skipped_with_the_reason_and_global_names_are_derived() -> None:
    rg = f"/subscriptions/{CORPUS_SUB}/resourceGroups/rg1"
    res = generate(
        [
            {
                "id": f"{rg}/providers/Microsoft.Network/bastionHosts/host:1",
                "type": "Microsoft.Network/bastionHosts",
                "location": "eastus",
            },
            {
                "id": f"{rg}/providers/Microsoft.Network/dnsZones/zone.",
                "type": "Microsoft.Network/dnsZones",
                "location": "global",
            },
            {
                "id": f"{rg}/providers/Microsoft.Storage/storageAccounts/Ünïcode_Name!!",
                "location": "eastus",
                "type": "Microsoft.Storage/storageAccounts",
            },
        ],
        [{"id": rg, "name": "rg1", "location": "eastus"}],
        CORPUS_SUB,
        TARGET,
        "n1",
    )
    reasons = {s["id"].rsplit("/", 1)[-1]: s["reason"] for s in res.skipped}
    assert "contains ':'" in reasons["host:1"] and "ends with '.'" in reasons["zone."]
    storage = next(
        b for b in res.config["resource"]["azapi_resource"].values() if b["type"].startswith("Microsoft.Storage")
    )
    assert storage["name"].isalnum() and storage["name"].islower() and 3 <= len(storage["name"]) <= 24


def test_swap_subscription_rewrites_ids_only() -> None:
    doc = {
        "id": f"/subscriptions/{CORPUS_SUB.upper()}/resourceGroups/rg",
        "tenantId": CORPUS_SUB,
        "refs": [f"https://x/subscriptions/{CORPUS_SUB}/resourceGroups/a?b"],
    }
    out = swap_subscription(doc, CORPUS_SUB, TARGET)
    assert out["id"] == f"/subscriptions/{TARGET}/resourceGroups/rg"
    assert out["tenantId"] == CORPUS_SUB  # a GUID that is not in an id is left alone
    assert out["refs"] == [f"https://x/subscriptions/{TARGET}/resourceGroups/a?b"]


# ---------------------------------------------------------------- principal map


def test_principal_map_from_json_and_hcl(tmp_path: Path) -> None:
    src, dst = "11111111-2222-4333-8444-555555555555", "aaaaaaaa-2222-4333-8444-555555555555"
    (tmp_path / "p.json").write_text(json.dumps({"principals": {src.upper(): dst}}))
    (tmp_path / "p.hcl").write_text(f'principals = {{\n  "{src}" = "{dst}"\n}}\n')
    assert load_principal_map(tmp_path / "p.json") == {src: dst}
    assert load_principal_map(tmp_path / "p.hcl") == {src: dst}
    (tmp_path / "bad.json").write_text(json.dumps({src: "someone"}))
    with pytest.raises(ValueError, match="not a pair of object ids"):
        load_principal_map(tmp_path / "bad.json")
    (tmp_path / "bad.hcl").write_text("principals = {")
    with pytest.raises(ValueError, match="principal map"):
        load_principal_map(tmp_path / "bad.hcl")


def test_generation_leaves_the_garbage_collector_as_it_found_it(export) -> None:
    import gc

    assert gc.isenabled()
    generate(export.resources[:5], export.resource_groups, CORPUS_SUB, TARGET, "n")
    assert gc.isenabled()
    with pytest.raises(ValueError, match="same"):
        generate(export.resources[:5], export.resource_groups, CORPUS_SUB, CORPUS_SUB, "n")
    assert gc.isenabled()
    gc.disable()
    try:
        generate(export.resources[:5], export.resource_groups, CORPUS_SUB, TARGET, "n")
        assert not gc.isenabled()  # a caller that had it off keeps it off
    finally:
        gc.enable()
