"""`rehearse`: the corpus replicated from the simulator's source into its target, measured by fidelity.

Runs the real thing: a private simulator and FalkorDB (devstack, own process groups, stopped by
group), the stand-in azapi provider under real terraform, the scanner and the fidelity report.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tenant_replicator.cli import main
from tenant_replicator.iac.arm_json import load_arm_dir
from tenant_replicator.iac.registry import canonical_type
from tenant_replicator.rehearse import rehearse, render_text, seed_order
from tenant_replicator.sim import registry as sim_registry

CORPUS = Path(__file__).resolve().parent / "data" / "arm_corpus"
CORPUS_SUB = "5ce7c0de-a11c-4e5a-9c0d-000000000001"

pytestmark = pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on PATH")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return rehearse(CORPUS, tmp_path_factory.mktemp("rehearse"))


def _served(arm_type: str, api: str) -> bool:
    """The simulator's own answer (its provider registry), independent of the rehearsal's reading."""
    found = sim_registry.find_type(arm_type)
    return found is not None and api in found[1].api_versions


def test_every_rehearsed_type_reaches_100_percent_and_the_target_converges(report: dict) -> None:
    fidelity = report["fidelity"]
    assert report["terraform"]["validate"] == "valid"
    assert report["terraform"]["apply"]["ok"], report["terraform"]["apply"]["failed"]
    assert report["terraform"]["replan_changes"] is False
    assert fidelity["scan"] == {"source_complete": True, "target_complete": True}
    assert fidelity["per_type"], "nothing was rehearsed"
    assert {t: row["percent"] for t, row in fidelity["per_type"].items() if row["percent"] != 100.0} == {}
    assert fidelity["unmatched"] == []
    assert report["ok"] is True
    assert len(fidelity["per_type"]) >= 30  # the claimed, rehearsable part of the 62-type corpus


def test_every_payload_is_rehearsed_or_listed_with_a_reason(report: dict) -> None:
    export = load_arm_dir(CORPUS)
    total = len(export.resources) + len(export.problems)
    rehearsed = report["fidelity"]["source_total"] + len(report["fidelity"]["out_of_scope"])
    refused = [r for r in report["seed"]["not_rehearsed"] if r["type"] != "Microsoft.Resources/resourceGroups"]
    assert rehearsed + len(refused) + len(report["export"]["problems"]) == total
    assert all(r["reason"] for r in refused + report["export"]["problems"] + report["fidelity"]["out_of_scope"])


def test_types_not_claimed_or_not_rehearsed_are_listed_with_the_reason(report: dict) -> None:
    types = report["types"]
    rehearsed = set(types["rehearsed"])
    assert not rehearsed & set(types["not_rehearsed"])
    assert not rehearsed & set(types["not_claimed_by_generator"])
    # the generator's deliberate skips of the corpus: a role assignment without a principal map and an
    # automation credential (its secret is never returned) -- both are reported, not silently dropped
    for entry in report["generate"]["skipped"]:
        assert entry["reason"], entry
    assert all(reasons for reasons in types["not_rehearsed"].values())


def test_simulator_limits_are_reported_as_such_and_match_the_simulators_registry(report: dict) -> None:
    refused = report["seed"]["not_rehearsed"]
    unserved = {
        f"{r['type']}@{r['api_version']}"
        for r in refused
        if r["code"] in ("InvalidResourceType", "NoRegisteredProviderFound")
    }
    assert set(report["types"]["simulator_missing"]) >= unserved
    for entry in refused:
        if entry["code"] in ("InvalidResourceType", "NoRegisteredProviderFound"):
            assert not _served(entry["type"], entry["api_version"]), entry
            assert entry["limit"] == "simulator" and "simulator does not serve" in entry["reason"]
    # conversely: a type@api-version the simulator serves is never blamed on the simulator
    for payload in load_arm_dir(CORPUS).resources:
        if _served(payload["type"], payload["apiVersion"]):
            served = f"{canonical_type(payload['type'])}@{payload['apiVersion']}"
            assert served not in report["types"]["simulator_missing"], served


def test_text_report_shows_the_table_and_the_reasons(report: dict) -> None:
    text = render_text(report)
    assert "fidelity 100.0%" in text
    assert "Microsoft.Network/virtualNetworks" in text and "not rehearsed" in text
    assert "vpnpolicygroup.json" in text  # the payload whose type disagrees with its id


def test_seed_order_puts_parents_and_references_first() -> None:
    sub = "/subscriptions/" + CORPUS_SUB + "/resourceGroups/rg/providers/Microsoft.Network"
    nic = {
        "id": f"{sub}/networkInterfaces/a-nic",
        "properties": {"subnet": {"id": f"{sub}/virtualNetworks/z/subnets/s"}},
    }
    subnet = {"id": f"{sub}/virtualNetworks/z/subnets/s"}
    vnet = {"id": f"{sub}/virtualNetworks/z"}
    ordered = [r["id"].rsplit("/", 1)[-1] for r in seed_order([nic, subnet, vnet])]
    assert ordered == ["z", "s", "a-nic"]
    # a reference cycle still yields every resource once
    a = {"id": f"{sub}/a/x", "properties": {"peer": f"{sub}/b/y"}}
    b = {"id": f"{sub}/b/y", "properties": {"peer": f"{sub}/a/x"}}
    assert sorted(r["id"] for r in seed_order([a, b])) == sorted([a["id"], b["id"]])


def test_cli_rehearse_json_on_a_small_export_with_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    export = tmp_path / "export"
    export.mkdir()
    for name in ("vnet.json", "identity.json", "workspace.json"):
        shutil.copy(CORPUS / name, export / name)
    (export / "unknown-type.json").write_text(
        json.dumps(
            {
                "id": f"/subscriptions/{CORPUS_SUB}/resourceGroups/rg1/providers/Contoso.Widgets/widgets/w1",
                "location": "eastus",
                "apiVersion": "2024-01-01",
                "properties": {"size": 3},
            }
        )
    )
    (export / "no-id.json").write_text(json.dumps({"name": "orphan", "type": "Microsoft.Network/virtualNetworks"}))
    (export / "bad-api.json").write_text(
        json.dumps(
            {
                "id": f"/subscriptions/{CORPUS_SUB}/resourceGroups/rg1/providers/Microsoft.Network/routeTables/rt",
                "apiVersion": "yesterday",
                "location": "eastus",
            }
        )
    )
    code = main(["rehearse", "--from-arm-json", str(export), "--workdir", str(tmp_path / "work"), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report["fidelity"]
    assert report["fidelity"]["overall_percent"] == 100.0 and report["fidelity"]["source_total"] == 3
    problems = {p["file"]: p["reason"] for p in report["export"]["problems"]}
    assert problems["no-id.json"] == "payload without id"
    assert "unknown api-version 'yesterday'" in problems["bad-api.json"]
    (widget,) = [r for r in report["seed"]["not_rehearsed"] if "widgets" in r["id"]]
    assert widget["limit"] == "simulator" and "Contoso.Widgets/widgets@2024-01-01" in widget["reason"]
    assert report["types"]["simulator_missing"] == ["Contoso.Widgets/widgets@2024-01-01"]
    assert canonical_type("microsoft.network/VIRTUALNETWORKS") in report["types"]["rehearsed"]


def test_cli_rehearse_refuses_an_export_without_usable_payloads(tmp_path: Path, capsys) -> None:
    (tmp_path / "x.json").write_text("[]")
    assert main(["rehearse", "--from-arm-json", str(tmp_path), "--workdir", str(tmp_path / "w")]) == 2
    assert "no usable ARM payload" in capsys.readouterr().err
    assert main(["rehearse", "--from-arm-json", str(tmp_path / "missing"), "--workdir", str(tmp_path / "w")]) == 2


def test_role_assignment_is_rehearsed_through_the_principal_map(tmp_path: Path, capsys) -> None:
    from tenant_replicator.sim.model import stable_uuid
    from tenant_replicator.sim.seed import TENANT_ID

    source_user, target_user = stable_uuid(TENANT_ID, "User", "0"), stable_uuid(TENANT_ID, "User", "1")
    export = tmp_path / "export"
    export.mkdir()
    assignment = json.loads((CORPUS / "roleassignment.json").read_text())
    assignment["properties"].update(  # a principal and a built-in role the simulator's directory knows
        principalId=source_user,
        roleDefinitionId="/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7",
    )
    assignment["apiVersion"] = "2022-04-01"
    (export / "ra.json").write_text(json.dumps(assignment))
    (tmp_path / "principals.hcl").write_text(f'principals = {{\n  "{source_user}" = "{target_user}"\n}}\n')
    args = ["rehearse", "--from-arm-json", str(export), "--workdir", str(tmp_path / "w"), "--json"]
    assert main([*args, "--principal-map", str(tmp_path / "principals.hcl")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["fidelity"]["per_type"]["Microsoft.Authorization/roleAssignments"]["percent"] == 100.0
    main_tf = Path(report["generate"]["main_tf_json"]).read_text()
    assert target_user in main_tf and source_user not in main_tf
    # without the map the same export is rehearsed, but the assignment is skipped with the reason
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    (skipped,) = report["generate"]["skipped"]
    assert "principal map" in skipped["reason"]
    assert report["fidelity"]["out_of_scope"][0]["id"] == skipped["id"]


def test_refusals_are_blamed_on_whoever_owns_the_limit() -> None:
    from tenant_replicator.rehearse import classify_refusal

    source = "3f2b8c1e-5d4a-4e7b-9c21-6a8f0d2e4b17"
    other = f"/subscriptions/{CORPUS_SUB}/resourceGroups/shared/providers/Microsoft.Network/virtualNetworks/hub"
    mine = f"/subscriptions/{source}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/spoke"
    assert classify_refusal("InvalidResourceType", "", "A.B/c", "2024-01-01", source)[0] == "simulator"
    assert classify_refusal("PrincipalNotFound", "who?", "A.B/c", "2024-01-01", source)[0] == "simulator"
    limit, reason = classify_refusal("LinkedInvalidPropertyId", f"Property id '{other}' at path", "A.B/c", "v", source)
    assert limit == "simulator" and "outside the rehearsed subscription" in reason
    assert classify_refusal("LinkedInvalidPropertyId", f"Property id '{mine}' at path", "A.B/c", "v", source)[0] == (
        "export"
    )
    assert classify_refusal("InvalidTemplate", "bad", "A.B/c", "v", source)[0] == "export"


def test_seed_order_ignores_managed_by_and_enters_a_cycle_at_a_member() -> None:
    rg = f"/subscriptions/{CORPUS_SUB}/resourceGroups/rg/providers"
    vm = {"id": f"{rg}/Microsoft.Compute/virtualMachines/vm", "properties": {"disk": f"{rg}/Microsoft.Compute/disks/d"}}
    disk = {"id": f"{rg}/Microsoft.Compute/disks/d", "managedBy": vm["id"]}
    alert = {"id": f"{rg}/Microsoft.Insights/metricAlerts/a", "properties": {"scopes": [vm["id"]]}}
    x = {"id": f"{rg}/A.B/x/1", "properties": {"peer": f"{rg}/A.B/y/2"}}
    y = {"id": f"{rg}/A.B/y/2", "properties": {"peer": x["id"]}}
    waiter = {"id": f"{rg}/A.A/w/0", "properties": {"needs": y["id"]}}  # sorts first, waits for the cycle
    order = [r["id"].rsplit("/", 2)[-2] for r in seed_order([alert, vm, disk, x, y, waiter])]
    assert order.index("disks") < order.index("virtualMachines") < order.index("metricAlerts")
    assert order.index("x") < order.index("w") and order.index("y") < order.index("w")
