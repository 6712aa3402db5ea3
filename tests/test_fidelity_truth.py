"""Fidelity on a seeded tenant where the truth is known, through the real simulator, FalkorDB and terraform.

A policy denial makes one type fail in the simulator: fidelity equals exactly the share of the
others; the target's pre-existing resources never raise it; once the policy is lifted the next
converge applies only the denied ones; a target resource deleted by hand lowers it after a rescan.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from tenant_replicator import devstack, iteration
from tenant_replicator.iac.secrets import tf_var_env
from tenant_replicator.settings import load_settings
from tenant_replicator.terraform.converge import ConvergeOptions, converge
from tenant_replicator.terraform.runner import Terraform

SRC, TGT = "3f2b8c1e-5d4a-4e7b-9c21-6a8f0d2e4b17", "c7e91a04-2b6f-4d38-a5e2-91f4b7c0d863"


@pytest.fixture()
def campaign(tmp_path, monkeypatch):
    with devstack.start_stack(tmp_path / "stack", airflow=False, slack=False) as stack:
        for key in (
            "TENANT_REPLICATOR_ARM_ENDPOINT",
            "TENANT_REPLICATOR_ARM_CA_FILE",
            "TENANT_REPLICATOR_GRAPH_URI",
            "TENANT_REPLICATOR_HOME",
        ):
            monkeypatch.setenv(key, stack.env[key])
        settings = load_settings()
        ctx = iteration.prepare(settings, {"source_subscription": SRC, "target_subscription": TGT}, "run-1")
        yield stack, settings, ctx


def converge_once(settings, ctx, run_id: str) -> tuple[dict, dict]:
    iteration.generate(settings, ctx)
    env = {"TF_CLI_CONFIG_FILE": ctx["cli_config_file"], **tf_var_env(Path(ctx["tf_dir"]))}  # generated passwords
    tf = Terraform(Path(ctx["tf_dir"]), env=env, grace_s=5)
    summary = converge(tf, ConvergeOptions(timeout=300))
    iteration.scan(settings, TGT, f"{run_id}:target")
    return summary, iteration.fidelity(settings, ctx, f"{run_id}:target", summary["failed"])


def unreferenced_type(config: dict) -> tuple[str, int]:
    """A resource type that no other resource in the config refers to (so denying it fails nothing else)."""
    resources = config["resource"]["azapi_resource"]
    text = json.dumps(resources)
    referenced = set(re.findall(r"azapi_resource\.([A-Za-z0-9_-]+)\.id", text))
    by_type: dict[str, list[str]] = {}
    for label, block in resources.items():
        by_type.setdefault(block["type"].split("@")[0], []).append(label)
    for arm_type, labels in sorted(by_type.items()):
        if arm_type != "Microsoft.Resources/resourceGroups" and not referenced & set(labels):
            return arm_type, len(labels)
    raise AssertionError("every type is referenced")


def test_fidelity_equals_the_known_truth(campaign):
    stack, settings, ctx = campaign
    iteration.scan(settings, SRC, "run-1:source")
    iteration.generate(settings, ctx)
    config = json.loads((Path(ctx["tf_dir"]) / "main.tf.json").read_text())
    denied_type, denied = unreferenced_type(config)
    stack.sim_call(
        "POST",
        "/_sim/faults",
        {
            "faults": [
                {
                    "method": "PUT",
                    "path_contains": f"/providers/{denied_type}/",
                    "status": 403,
                    "code": "RequestDisallowedByPolicy",
                    "times": 1000,
                }
            ]
        },
    )

    summary, report = converge_once(settings, ctx, "run-1")

    assert summary["failed_count"] == denied
    assert Counter(f["arm_code"] for f in summary["failed"]) == {"RequestDisallowedByPolicy": denied}
    total = report["source_total"]
    assert report["matched"] == total - denied
    assert report["overall_percent"] == round(100 * (total - denied) / total, 1)
    assert report["preexisting_target"] == 3  # rg-legacy's resources: reported apart, never counted
    assert {u["type"].lower() for u in report["unmatched"]} == {denied_type.lower()}
    assert all(u["reason"].startswith("apply failed: RequestDisallowedByPolicy") for u in report["unmatched"])

    stack.sim_call("DELETE", "/_sim/faults")
    before = stack.sim_call("GET", "/_sim/stats")["writes"].get(TGT, 0)
    summary, report = converge_once(settings, ctx, "run-2")
    assert summary["plan"]["add"] == denied and summary["plan"]["change"] == 0  # only what was denied
    assert report["overall_percent"] == 100.0 and report["preexisting_target"] == 3
    assert stack.sim_call("GET", "/_sim/stats")["writes"].get(TGT, 0) - before >= denied

    name_map = json.loads((Path(ctx["tf_dir"]) / "name_map.json").read_text())
    victim = next(t for t in sorted(name_map.values()) if len(t.split("/providers/")[-1].split("/")) == 3)
    victim_url = f"{victim}?api-version={_api_version(config, victim)}"
    stack.sim_call("DELETE", victim_url)
    devstack.wait_for(lambda: _gone(stack, victim_url), 30, "hand deletion (a long-running DELETE)")
    iteration.scan(settings, TGT, "run-3:target")
    report = iteration.fidelity(settings, ctx, "run-3:target")
    assert report["matched"] == total - 1
    assert report["overall_percent"] == round(100 * (total - 1) / total, 1)
    assert [u["reason"] for u in report["unmatched"]] == ["missing in target after apply"]


def _gone(stack: devstack.Stack, url: str) -> bool:
    try:
        stack.sim_call("GET", url)
    except urllib.error.HTTPError as error:
        return error.code == 404
    return False


def _api_version(config: dict, target_id: str) -> str:
    name = target_id.rsplit("/", 1)[1]
    for block in config["resource"]["azapi_resource"].values():
        if block["name"] == name:
            return block["type"].split("@")[1]
    raise AssertionError(target_id)
