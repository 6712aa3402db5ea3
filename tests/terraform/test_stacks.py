"""Per-resource-group stacks as a config transform, on the config generated from the seeded tenant.

Stacks are checked as configs (every reference local or a lookup, lookups resolve to the IDs the
name map promises, levels topological) and validated by real terraform with the stand-in, which has
azapi v2's ``data "azapi_resource"``; waves, directories and the merged summary the DAG relies on
are tested here; the whole path under the scheduler is tests/e2e/test_stacks_e2e.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tenant_replicator.iac.generate import generate
from tenant_replicator.terraform.stacks import (
    collect,
    merge_summaries,
    prepare_stacks,
    resource_id,
    split_stacks,
    waves,
    write_stacks,
)

NONCE = "st4cks"


@pytest.fixture(scope="module")
def generated():
    model = pytest.importorskip("tenant_replicator.sim.model")
    registry = pytest.importorskip("tenant_replicator.sim.registry")
    seed = pytest.importorskip("tenant_replicator.sim.seed")
    state = seed.seed_state()
    source = seed.SOURCE_SUBSCRIPTION_ID
    resources = []
    for key, _record in model.list_resources(state, f"/subscriptions/{source}/".lower()):
        body = model.render(state, key)
        found = registry.find_type(body["type"])
        body["apiVersion"] = found[1].api_versions[0] if found else None
        body["resourceGroup"] = body["id"].split("/")[4]
        resources.append(body)
    groups = [record["body"] for _, record in model.list_resource_groups(state, source)]
    return generate(resources, groups, source, seed.TARGET_SUBSCRIPTION_ID, NONCE)


def test_every_resource_lands_in_exactly_one_stack_named_after_its_group(generated) -> None:
    split = split_stacks(generated.config)
    blocks = generated.config["resource"]["azapi_resource"]
    seen = [label for cfg in split.stacks.values() for label in cfg["resource"]["azapi_resource"]]
    assert sorted(seen) == sorted(blocks) and len(seen) == len(set(seen))
    rg_names = {b["name"] for b in blocks.values() if b["type"].startswith("Microsoft.Resources/resourceGroups")}
    assert set(split.stacks) == rg_names
    for cfg in split.stacks.values():
        assert cfg["terraform"] == generated.config["terraform"] and cfg["provider"] == generated.config["provider"]
        rg = [b for b in cfg["resource"]["azapi_resource"].values() if "resourceGroups@" in b["type"]]
        assert len(rg) == 1  # each stack owns its resource group


def test_references_are_local_or_data_lookups_that_resolve_to_the_promised_ids(generated) -> None:
    split = split_stacks(generated.config)
    targets = {t.lower() for t in generated.name_map.values()}
    blocks = generated.config["resource"]["azapi_resource"]
    assert {resource_id(label, blocks).lower() for label in blocks} <= targets  # ID derivation is azapi's
    lookups_total = 0
    for name, cfg in split.stacks.items():
        text = json.dumps(cfg["resource"])
        local = set(cfg["resource"]["azapi_resource"])
        assert set(re.findall(r"\$\{azapi_resource\.([\w-]+)\.", text)) <= local
        data = cfg.get("data", {}).get("azapi_resource", {})
        assert set(re.findall(r"\$\{data\.azapi_resource\.([\w-]+)\.", text)) == set(data) == set(split.lookups[name])
        for label, lookup in data.items():
            lookups_total += 1
            assert "${" not in json.dumps(lookup)  # literal: no dependency on another state
            assert lookup["type"] == blocks[label]["type"]
            rebuilt = resource_id("x", {"x": {**lookup}})
            assert rebuilt.lower() == resource_id(label, blocks).lower() and rebuilt.lower() in targets
    assert lookups_total > 0  # the seeded tenant has cross-group references (VNet, public IP, VM)


def test_levels_apply_looked_up_stacks_first(generated) -> None:
    split = split_stacks(generated.config)
    position = {s: i for i, level in enumerate(split.levels) for s in level}
    assert sorted(position) == sorted(split.stacks)
    for stack, needs in split.depends_on.items():
        assert all(position[n] < position[stack] for n in needs), (stack, needs)
    assert split.levels[0] == ["rg-network-prod"]  # the hub network is looked up by the others


def test_every_stack_is_valid_terraform_with_the_stand_in(generated, tmp_path: Path) -> None:
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not on PATH")
    from tenant_replicator.tfprovider.install import write_cli_config

    split = split_stacks(generated.config)
    assert any("data" in cfg for cfg in split.stacks.values())  # lookups included
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(write_cli_config(tmp_path / "cli", python=sys.executable))}
    for name, directory in write_stacks(split, tmp_path / "stacks").items():
        out = subprocess.run(
            ["terraform", "validate", "-json"],
            cwd=directory,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert json.loads(out.stdout)["valid"] is True, (name, out.stdout)


def test_cycles_between_stacks_end_up_in_one_last_level() -> None:
    def rg(name: str) -> dict:
        return {"type": "Microsoft.Resources/resourceGroups@2021-04-01", "name": name, "parent_id": "/subscriptions/s"}

    def thing(name: str, rg_label: str, ref: str) -> dict:
        return {
            "type": "Microsoft.Network/routeTables@2024-05-01",
            "name": name,
            "parent_id": f"${{azapi_resource.{rg_label}.id}}",
            "body": {"x": f"${{azapi_resource.{ref}.id}}"},
        }

    config = {
        "resource": {
            "azapi_resource": {
                "a": rg("rg-a"),
                "b": rg("rg-b"),
                "ta": thing("ta", "a", "tb"),
                "tb": thing("tb", "b", "ta"),
            }
        }
    }
    split = split_stacks(config)
    assert split.depends_on == {"rg-a": ["rg-b"], "rg-b": ["rg-a"]}
    assert split.levels == [["rg-a", "rg-b"]]
    assert split.stacks["rg-a"]["data"]["azapi_resource"]["tb"]["parent_id"] == "/subscriptions/s/resourceGroups/rg-b"


def test_waves_fold_deeper_levels_into_the_last_and_pad_short_splits() -> None:
    from tenant_replicator.terraform.stacks import StackSplit

    split = StackSplit(stacks={}, levels=[["a"], ["b", "c"], ["d"], ["e"]])
    assert waves(split, 3) == [["a"], ["b", "c"], ["d", "e"]]
    assert waves(split, 6) == [["a"], ["b", "c"], ["d"], ["e"], [], []]


def test_prepare_stacks_writes_private_directories_and_wave_kwargs(generated, tmp_path: Path) -> None:
    tf_dir = tmp_path / "terraform"
    tf_dir.mkdir()
    (tf_dir / "main.tf.json").write_text(json.dumps(generated.config))
    plan = prepare_stacks(tf_dir, tmp_path / "stacks", "camp", 3)
    assert plan["names"] == [["rg-network-prod"], ["rg-app-prod", "rg-data-prod"], ["rg-monitor-prod"]]
    assert plan["wave_1"] == [
        {"working_dir": str(tmp_path / "stacks" / "rg-app-prod"), "backend_key": "camp/rg-app-prod.tfstate"},
        {"working_dir": str(tmp_path / "stacks" / "rg-data-prod"), "backend_key": "camp/rg-data-prod.tfstate"},
    ]
    for wave in plan["names"]:
        for name in wave:
            directory = tmp_path / "stacks" / name
            assert directory.stat().st_mode & 0o777 == 0o700
            assert json.loads((directory / "main.tf.json").read_text())["resource"]["azapi_resource"]
    again = prepare_stacks(tf_dir, tmp_path / "stacks", "camp", 3)  # the next iteration rewrites in place
    assert again["names"] == plan["names"]


def test_only_used_variables_and_own_imports_go_into_a_stack() -> None:
    rg = {"type": "Microsoft.Resources/resourceGroups@2021-04-01", "parent_id": "/subscriptions/s"}
    vm = {
        "type": "Microsoft.Compute/virtualMachines@2024-07-01",
        "name": "vm",
        "parent_id": "${azapi_resource.a.id}",
        "body": {"properties": {"osProfile": {"adminPassword": "${var.secret_vm_pw}"}}},
    }
    config = {
        "variable": {"secret_vm_pw": {"type": "string", "sensitive": True}, "unused": {"type": "string"}},
        "import": [{"to": "azapi_resource.vm", "id": "x"}, {"to": "azapi_resource.b", "id": "y"}],
        "resource": {"azapi_resource": {"a": {**rg, "name": "rg-a"}, "b": {**rg, "name": "rg-b"}, "vm": vm}},
    }
    split = split_stacks(config)
    assert split.stacks["rg-a"]["variable"] == {"secret_vm_pw": {"type": "string", "sensitive": True}}
    assert "variable" not in split.stacks["rg-b"]  # declared but unset would fail its plan
    assert split.stacks["rg-a"]["import"] == [{"to": "azapi_resource.vm", "id": "x"}]
    assert split.stacks["rg-b"]["import"] == [{"to": "azapi_resource.b", "id": "y"}]


def _summary(**fields) -> dict:
    base = {
        "plan": {"add": 2, "change": 0, "destroy": 0, "import": 0},
        "changes": True,
        "applied": 2,
        "failed": [],
        "failed_count": 0,
        "arm_error_codes": {},
        "not_started": [],
        "not_started_count": 0,
        "in_progress": [],
        "timed_out": False,
        "stopped": False,
        "exit_code": 0,
        "ok": True,
        "duration_s": 5.0,
        "writes": {"create": 2, "update": 0, "delete": 0, "replace": 0, "import": 0, "total": 2},
        "writes_applied": {"create": 2, "update": 0, "delete": 0, "replace": 0, "import": 0, "total": 2},
        "provider_crashed": False,
    }
    return base | fields


def test_merged_summary_sums_stacks_and_counts_a_silent_stack_as_a_failure() -> None:
    from tenant_replicator.campaign import iteration_outcome
    from tenant_replicator.terraform.runner import failure_message

    failed = {"address": "azapi_resource.rt", "summary": "PUT failed", "arm_code": "Conflict", "detail": ""}
    merged = merge_summaries(
        {
            "net": _summary(duration_s=7.5),
            "app": _summary(applied=1, failed=[failed], failed_count=1, ok=False, arm_error_codes={"Conflict": 1}),
            "mon": None,
        },
        {"mon": "terraform failed before apply finished: Resource not found"},
    )
    assert merged["ok"] is False and merged["applied"] == 3 and merged["failed_count"] == 2
    assert merged["plan"] == {"add": 4, "change": 0, "destroy": 0, "import": 0}
    assert merged["writes"]["total"] == 4 and merged["arm_error_codes"] == {"Conflict": 1}
    assert merged["duration_s"] == 7.5  # parallel: the slowest stack
    assert {(f["stack"], f["address"]) for f in merged["failed"]} == {("app", "azapi_resource.rt"), ("mon", None)}
    assert merged["stacks"]["mon"] == {
        "ok": False,
        "error": "terraform failed before apply finished: Resource not found",
    }
    message = failure_message(merged)
    assert "2 failed" in message and "azapi_resource.rt (Conflict)" in message and "Resource not found" in message
    outcome = iteration_outcome(1, "r", merged, {"overall_percent": 90.0}, {"complete": True})
    assert outcome.success is False and outcome.arm_writes == 4
    clean = merge_summaries({"net": _summary(), "app": _summary(changes=False)})
    assert clean["ok"] is True and clean["changes"] is True and clean["failed"] == []


def test_collect_reads_each_map_index_of_each_wave() -> None:
    xcoms = {
        ("apply_stacks_0", "apply_summary", 0): {"ok": True},
        ("apply_stacks_1", "apply_summary", 0): {"ok": False},
        ("apply_stacks_1", "apply_error", 1): {"error": "lookup failed"},
    }
    summaries, errors = collect([["net"], ["app", "data"]], lambda t, k, i: xcoms.get((t, k, i)))
    assert summaries == {"net": {"ok": True}, "app": {"ok": False}, "data": None}
    assert errors == {"data": "lookup failed"}


def test_a_campaign_keeps_the_layout_its_state_is_in(tmp_path: Path) -> None:
    from tenant_replicator.terraform.stacks import effective_mode

    tf_dir, root = tmp_path / "terraform", tmp_path / "stacks"
    tf_dir.mkdir()
    assert effective_mode(True, tf_dir, root) == (True, None)  # nothing applied yet: as asked
    assert effective_mode(False, tf_dir, root) == (False, None)
    (root / "rg-a").mkdir(parents=True)
    (root / "rg-a" / "terraform.tfstate").write_text('{"version": 4, "resources": []}')
    use, warning = effective_mode(False, tf_dir, root)
    assert use is True and "staying in stacks mode" in warning
    (root / "rg-a" / "terraform.tfstate").unlink()
    state = {
        "version": 4,
        "resources": [{"mode": "managed", "type": "azapi_resource", "name": "rg", "instances": [{}]}],
    }
    (tf_dir / "terraform.tfstate").write_text(json.dumps(state))
    use, warning = effective_mode(True, tf_dir, root)
    assert use is False and "staying in single-state mode" in warning


def test_merge_step_never_falls_back_to_the_single_state_in_stacks_mode(tmp_path: Path) -> None:
    from tenant_replicator.terraform.stacks import StacksNotPlanned, stacks_summary

    ctx = {"tf_dir": str(tmp_path / "terraform"), "campaign_dir": str(tmp_path)}
    (tmp_path / "terraform").mkdir()
    nothing = lambda *_: None  # noqa: E731
    assert stacks_summary(None, True, [None, None, None], nothing) is None  # prepare failed
    assert stacks_summary(ctx, False, [[], [], []], nothing) is None  # single-state mode
    with pytest.raises(StacksNotPlanned):  # asked for stacks, the planning tasks gave nothing
        stacks_summary(ctx, True, [None, [], None], nothing)
    waves_ = [[{"working_dir": str(tmp_path / "stacks" / "rg-a"), "backend_key": "c/rg-a.tfstate"}], [], []]
    merged = stacks_summary(
        ctx, True, waves_, lambda t, k, i: {"ok": True, "applied": 1} if k == "apply_summary" else None
    )
    assert merged["ok"] is True and merged["applied"] == 1 and set(merged["stacks"]) == {"rg-a"}
