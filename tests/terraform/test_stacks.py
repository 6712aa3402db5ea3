"""Per-resource-group stacks as a pure config transform, on the config generated from the seeded tenant.

The stand-in provider has no ``azapi_resource`` data source, so stacks with cross-stack lookups
are checked as configs (every reference local or a lookup, lookups resolve to the IDs the name
map promises, levels topological); a stack without lookups is validated by real terraform.
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
from tenant_replicator.terraform.stacks import resource_id, split_stacks

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


def test_stack_without_lookups_is_valid_terraform(generated, tmp_path: Path) -> None:
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not on PATH")
    from tenant_replicator.tfprovider.install import write_cli_config

    split = split_stacks(generated.config)
    name = next(n for n, cfg in split.stacks.items() if "data" not in cfg)
    (tmp_path / "main.tf.json").write_text(json.dumps(split.stacks[name]))
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(write_cli_config(tmp_path / "cli", python=sys.executable))}
    out = subprocess.run(
        ["terraform", "validate", "-json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert json.loads(out.stdout)["valid"] is True, out.stdout


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
