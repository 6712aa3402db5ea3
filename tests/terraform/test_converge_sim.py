"""Converge with the real terraform, the stand-in azapi provider and the ARM simulator.

Partial failure -> the next iteration plans and writes only what failed; a timeout mid-apply ->
nothing left running, state readable, the next iteration resumes; resources ARM holds but the
state lacks (a killed run) are adopted through generated import blocks; a provider that dies
mid-apply is a clear failure that still says what was applied. ARM writes are checked against
the simulator's own counters (``/_sim/stats``), not only against what terraform says.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from proc_util import marked, marker_fixture

from tenant_replicator.terraform import imports, safety
from tenant_replicator.terraform.converge import ConvergeOptions, converge
from tenant_replicator.terraform.process import _group_members
from tenant_replicator.terraform.runner import Terraform, failure_message
from tenant_replicator.tfprovider.arm import ArmConfig
from tenant_replicator.tfprovider.install import write_cli_config

pytestmark = pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform not on PATH")

TARGET_SUB = "c7e91a04-2b6f-4d38-a5e2-91f4b7c0d863"
RG_ID = f"/subscriptions/{TARGET_SUB}/resourceGroups/rg-converge"
NET = "2024-05-01"
NSG = f"Microsoft.Network/networkSecurityGroups@{NET}"


def _load_sim_conftest():
    """Reuse the simulator fixture's process class (tests/sim/conftest.py) without a package import."""
    path = Path(__file__).resolve().parents[1] / "sim" / "conftest.py"
    spec = importlib.util.spec_from_file_location("_sim_conftest_for_terraform", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


SimProcess = _load_sim_conftest().SimProcess


@pytest.fixture(scope="module")
def sim_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    server = SimProcess(tmp_path_factory.mktemp("sim")).start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def sim(sim_server):
    sim_server.hook("POST", "reset")
    sim_server.hook("DELETE", "faults")
    sim_server.hook("POST", "lro", {"seconds": 0.3})  # the simulator's default operation time
    return sim_server


@pytest.fixture(scope="module")
def cli_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_cli_config(tmp_path_factory.mktemp("tfcli"), python=sys.executable)


marker = marker_fixture(within_s=5.0)


def config(names: list[str], route_tables: list[str] = (), vnet_uses: str | None = None) -> dict:
    """RG + NSGs + route tables (+ a VNet whose subnet references one NSG), like generated config."""
    resources: dict[str, dict] = {
        "rg": {
            "type": "Microsoft.Resources/resourceGroups@2021-04-01",
            "name": "rg-converge",
            "parent_id": f"/subscriptions/{TARGET_SUB}",
            "location": "westeurope",
            "body": {},
        },
    }
    for name in names:
        resources[name] = {
            "type": NSG,
            "name": name,
            "parent_id": "${azapi_resource.rg.id}",
            "location": "westeurope",
            "body": {"properties": {}},
        }
    for name in route_tables:
        resources[name] = {
            "type": f"Microsoft.Network/routeTables@{NET}",
            "name": name,
            "parent_id": "${azapi_resource.rg.id}",
            "location": "westeurope",
            "body": {"properties": {"disableBgpRoutePropagation": False}},
        }
    if vnet_uses:
        resources["vnet"] = {
            "type": f"Microsoft.Network/virtualNetworks@{NET}",
            "name": "vnet",
            "parent_id": "${azapi_resource.rg.id}",
            "location": "westeurope",
            "body": {
                "properties": {
                    "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                    "subnets": [
                        {
                            "name": "s",
                            "properties": {
                                "addressPrefix": "10.0.1.0/24",
                                "networkSecurityGroup": {"id": f"${{azapi_resource.{vnet_uses}.id}}"},
                            },
                        }
                    ],
                }
            },
        }
    return {
        "terraform": {"required_providers": {"azapi": {"source": "azure/azapi"}}},
        "provider": {"azapi": {}},
        "resource": {"azapi_resource": resources},
    }


def workdir_for(tmp_path: Path, cfg: dict) -> Path:
    work = tmp_path / "campaign" / "terraform"
    work.mkdir(parents=True, exist_ok=True)
    (work / "main.tf.json").write_text(json.dumps(cfg, indent=2, sort_keys=True))  # "regenerated" each time
    return work


def runner(work: Path, sim, cli_config: Path, marker: str, grace_s: float = 20.0, **kw) -> Terraform:
    env = {
        "TF_CLI_CONFIG_FILE": str(cli_config),
        "TENANT_REPLICATOR_ARM_ENDPOINT": sim.endpoint,
        "TENANT_REPLICATOR_ARM_CA_FILE": sim.ca_file,
        "TR_TEST_MARKER": marker,
    }
    return Terraform(work, env=env, grace_s=grace_s, **kw)


def target_writes(sim) -> int:
    return sim.hook("GET", "stats")["writes"].get(TARGET_SUB, 0)


def arm_get(sim, rid: str, api_version: str) -> int:
    return requests.get(
        f"{sim.endpoint}{rid}",
        params={"api-version": api_version},
        verify=sim.ca_file,
        headers={"Authorization": "Bearer t"},
        timeout=10,
    ).status_code


def test_partial_failure_then_only_the_failed_resources_are_planned_and_written(
    tmp_path: Path, sim, cli_config: Path, marker: str
) -> None:
    nsgs, rts = [f"nsg{i}" for i in range(6)], ["rt0", "rt1"]
    # every PUT of a route table fails this iteration (500 is retried by the provider, then given up)
    sim.hook(
        "POST",
        "faults",
        {
            "faults": [
                {
                    "method": "PUT",
                    "path_contains": "/routeTables/",
                    "status": 500,
                    "code": "InternalServerError",
                    "retry_after": 0,
                    "times": 1000,
                }
            ]
        },
    )
    work = workdir_for(tmp_path, config(nsgs, rts))
    before = target_writes(sim)
    first = converge(runner(work, sim, cli_config, marker), ConvergeOptions(timeout=120))
    first_writes = target_writes(sim) - before
    assert first["ok"] is False and first["plan"]["add"] == 9
    assert first["applied"] == 7 and first["failed_count"] == 2
    assert {f["address"] for f in first["failed"]} == {"azapi_resource.rt0", "azapi_resource.rt1"}
    assert first["arm_error_codes"] == {"InternalServerError": 2}
    assert first["provider_crashed"] is False and first["provider_crash"] == []  # ARM errors are not a crash
    assert first["writes"]["total"] == 9 and first["writes_applied"]["total"] == 7
    retries = ArmConfig.__dataclass_fields__["max_retries"].default
    assert first_writes == 7 + 2 * (1 + retries)  # 7 PUTs + 2 route tables x (1 try + the provider's retries)

    sim.hook("DELETE", "faults")
    work = workdir_for(tmp_path, config(nsgs, rts))  # the next iteration regenerates the same config
    before = target_writes(sim)
    second = converge(runner(work, sim, cli_config, marker), ConvergeOptions(timeout=120))
    assert second["ok"], second
    assert second["plan"] == {"add": 2, "change": 0, "destroy": 0, "import": 0}
    assert sorted(second["changes"] and second["writes"].items()) == sorted(
        {"create": 2, "update": 0, "delete": 0, "replace": 0, "import": 0, "total": 2}.items()
    )
    assert target_writes(sim) - before == 2  # ARM agrees: only the two route tables were written

    before = target_writes(sim)
    third = converge(runner(work, sim, cli_config, marker))
    assert third["ok"] and third["changes"] is False and third["writes"]["total"] == 0
    assert target_writes(sim) - before == 0
    assert len(safety.list_backups(work)) == 1  # one backup: before the 2nd apply (the 1st had no state)


def test_timeout_mid_apply_leaves_nothing_running_and_the_next_iteration_resumes(
    tmp_path: Path, sim, cli_config: Path, marker: str
) -> None:
    nsgs = [f"nsg{i}" for i in range(4)]
    # nsg3's PUT is throttled for 14 s: in flight when the apply's 10 s timeout sends SIGINT
    sim.hook(
        "POST",
        "faults",
        {
            "faults": [
                {
                    "method": "PUT",
                    "path_contains": "/networkSecurityGroups/nsg3",
                    "status": 429,
                    "retry_after": 14,
                    "times": 1,
                }
            ]
        },
    )
    work = workdir_for(tmp_path, config(nsgs, vnet_uses="nsg3"))
    pgids: list[int] = []
    tf = runner(work, sim, cli_config, marker, grace_s=20, on_start=pgids.append)
    first = converge(tf, ConvergeOptions(timeout=10, plan_timeout=300))  # a loaded box plans slowly
    assert all(_group_members(pgid) == [] for pgid in pgids)  # by process group: nothing of any command
    assert marked(marker) == []
    assert first["timed_out"] and first["ok"] is False
    assert first["not_started"] == ["azapi_resource.vnet"]  # the dependent of the in-flight one
    assert first["writes_planned"]["total"] == 6 and first["writes"]["total"] == 5  # vnet never started
    state = safety.check_local_state(work)  # readable, and holds what was applied
    assert {"azapi_resource.rg", "azapi_resource.nsg0"} <= safety.managed_addresses(state)
    assert not (work / ".terraform.tfstate.lock.info").exists()

    work = workdir_for(tmp_path, config(nsgs, vnet_uses="nsg3"))
    before = target_writes(sim)
    second = converge(runner(work, sim, cli_config, marker), ConvergeOptions(timeout=120))
    assert second["ok"], second
    resumed = second["plan_actions"]
    assert resumed.get("azapi_resource.vnet") == "create" and "azapi_resource.nsg0" not in resumed
    assert target_writes(sim) - before == second["writes"]["total"]
    third = converge(runner(work, sim, cli_config, marker))
    assert third["ok"] and third["changes"] is False


DISK = {
    "type": "Microsoft.Compute/disks@2024-03-02",
    "name": "d0",
    "parent_id": "${azapi_resource.rg.id}",
    "location": "westeurope",
    "body": {
        "sku": {"name": "Standard_LRS"},
        "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": 4},
    },
}
DISK_ID = f"{RG_ID}/providers/Microsoft.Compute/disks/d0"


def test_killed_apply_orphans_are_adopted_with_import_blocks(
    tmp_path: Path, sim, cli_config: Path, marker: str
) -> None:
    """SIGKILL of terraform's whole group (a node loss) while a disk's create is an ARM long-running
    operation: ARM took the PUT, terraform never heard back. Deterministic: the kill waits until ARM
    holds the disk, and the operation (60 s) cannot end before it. The next converge imports exactly
    the orphans recorded from ``apply_complete`` events plus the in-flight disk (creates ledger)."""
    nsgs = [f"nsg{i}" for i in range(3)]
    sim.hook("POST", "lro", {"seconds": 60})
    cfg = config(nsgs)
    cfg["resource"]["azapi_resource"]["d0"] = DISK
    work = workdir_for(tmp_path, cfg)
    pgids: list[int] = []
    done: set[str] = set()
    killed = threading.Event()

    def kill_when_disk_accepted_and_nsgs_done() -> None:
        end = time.monotonic() + 60
        while time.monotonic() < end and not killed.is_set():
            nsgs_done = {f"azapi_resource.{n}" for n in nsgs} <= done
            if nsgs_done and pgids and arm_get(sim, DISK_ID, "2024-03-02") == 200:
                os.killpg(pgids[-1], signal.SIGKILL)
                killed.set()
                return
            time.sleep(0.05)

    def on_line(line: str) -> None:
        if '"apply_complete"' in line:
            done.add(json.loads(line)["hook"]["resource"]["addr"])

    watcher = threading.Thread(target=kill_when_disk_accepted_and_nsgs_done, daemon=True)
    tf = runner(work, sim, cli_config, marker, on_start=pgids.append, on_line=on_line)
    tf.env["TF_STATE_PERSIST_INTERVAL"] = "3600"  # no mid-apply persist (default 20 s, reached on a busy box)
    watcher.start()
    first = converge(tf, ConvergeOptions(timeout=120))
    watcher.join(5)
    assert killed.is_set() and first["exit_code"] == -9 and marked(marker) == []
    assert "azapi_resource.d0" not in done  # in flight at the kill
    in_state = safety.managed_addresses(safety.check_local_state(work))
    written = set(imports.read_imports(work))
    confirmed = {"azapi_resource.rg", *(f"azapi_resource.{n}" for n in nsgs)}
    assert confirmed <= in_state | written  # everything ARM confirmed is either in state or to be adopted
    assert written == confirmed - in_state
    # (how much terraform persisted before the SIGKILL varies with load; the invariant above does not)
    assert first["imports"]["adopt_next_count"] == len(written)
    assert "azapi_resource.d0" in imports.owned_creates(work)  # its create started: the ledger says it is ours
    for address, rid in imports.read_imports(work).items():
        assert "?api-version=" in rid and address in imports.config_resources(work)

    sim.hook("POST", "lro", {"seconds": 0.3})
    work = workdir_for(tmp_path, cfg)
    second = converge(runner(work, sim, cli_config, marker), ConvergeOptions(timeout=120))
    assert second["ok"], second
    # exact: pass 1 imports the recorded orphans and meets "already exists" for the disk; pass 2 imports it
    assert second["plan"]["import"] == len(written) and second["imports"]["planned"] == len(written) + 1
    assert second["passes"] == 2 and second["existing_not_adopted_count"] == 0
    assert second["writes"]["create"] == 1 and second["writes_applied"]["create"] == 0  # the failed create only
    assert not (work / imports.IMPORTS_FILE).exists()  # consumed: every import target is in state now
    expected = {f"azapi_resource.{n}" for n in ["rg", *nsgs, "d0"]}
    assert safety.managed_addresses(safety.check_local_state(work)) == expected
    assert converge(runner(work, sim, cli_config, marker))["changes"] is False


def _put(sim, rid: str, version: str, body: dict) -> None:
    requests.put(
        f"{sim.endpoint}{rid}",
        params={"api-version": version},
        json=body,
        verify=sim.ca_file,
        headers={"Authorization": "Bearer t"},
        timeout=10,
    ).raise_for_status()


NSG0_ID = f"{RG_ID}/providers/Microsoft.Network/networkSecurityGroups/nsg0"


def test_import_blocks_for_orphans_are_consumed_by_the_next_plan(
    tmp_path: Path, sim, cli_config: Path, marker: str
) -> None:
    """Deterministic half of the killed-run case: ARM holds rg + nsg0 (their apply_complete was seen),
    the state does not; the runner's imports.tf.json makes the next plan import, not create."""
    _put(sim, RG_ID, "2021-04-01", {"location": "westeurope"})
    _put(sim, NSG0_ID, NET, {"location": "westeurope", "properties": {}})
    work = workdir_for(tmp_path, config(["nsg0", "nsg1"]))
    applied_ids = {"azapi_resource.rg": RG_ID, "azapi_resource.nsg0": NSG0_ID}
    pending = imports.refresh_imports(work, set(), imports.orphans(applied_ids, set()))
    assert pending == {
        "azapi_resource.rg": f"{RG_ID}?api-version=2021-04-01",
        "azapi_resource.nsg0": f"{NSG0_ID}?api-version={NET}",
    }
    assert stat_mode(work / imports.IMPORTS_FILE) == 0o600
    before = target_writes(sim)
    summary = converge(runner(work, sim, cli_config, marker), ConvergeOptions(timeout=120))
    assert summary["ok"], summary
    assert summary["plan"]["import"] == 2 and summary["plan"]["add"] == 1 and summary["passes"] == 1
    assert summary["plan_actions"]["azapi_resource.nsg1"] == "create"
    assert target_writes(sim) - before <= summary["writes"]["total"]  # imports are reads in ARM
    assert not (work / imports.IMPORTS_FILE).exists()


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_preexisting_target_resources_are_not_adopted_unless_allowed(
    tmp_path: Path, sim, cli_config: Path, marker: str
) -> None:
    """Someone else's resource with the same ID in the target: "already exists", reported, not imported."""
    _put(sim, RG_ID, "2021-04-01", {"location": "westeurope"})
    work = workdir_for(tmp_path, config(["nsg0"]))
    summary = converge(runner(work, sim, cli_config, marker), ConvergeOptions(timeout=120))
    assert summary["ok"] is False and summary["passes"] == 1
    assert summary["existing_not_adopted"] == ["azapi_resource.rg"] and summary["not_started_count"] == 1
    assert not (work / imports.IMPORTS_FILE).exists()
    assert "not created by this campaign" in failure_message(summary)
    again = converge(runner(work, sim, cli_config, marker), ConvergeOptions(timeout=120))
    assert again["existing_not_adopted"] == ["azapi_resource.rg"]  # still not ours on the next iteration
    allowed = converge(runner(work, sim, cli_config, marker), ConvergeOptions(timeout=120, adopt_existing=True))
    assert allowed["ok"], allowed
    assert allowed["passes"] == 2 and allowed["imports"]["planned"] == 1 and allowed["writes"]["import"] == 1


def test_create_started_by_a_killed_worker_is_adopted_in_the_same_converge(
    tmp_path: Path, sim, cli_config: Path, marker: str
) -> None:
    """The worker died with terraform after ARM took the PUTs: no summary, no state, only the create
    ledger written as terraform streamed ``apply_start``. The next converge's creates meet "already
    exists" and a second pass of the same converge imports them."""
    _put(sim, RG_ID, "2021-04-01", {"location": "westeurope"})
    _put(sim, NSG0_ID, NET, {"location": "westeurope", "properties": {}})
    work = workdir_for(tmp_path, config(["nsg0", "nsg1"]))
    earlier = imports.CreateLedger(work, "killed-run")
    for address in ("azapi_resource.rg", "azapi_resource.nsg0"):
        earlier.observe(
            json.dumps({"type": "apply_start", "hook": {"resource": {"addr": address}, "action": "create"}})
        )
    summary = converge(runner(work, sim, cli_config, marker), ConvergeOptions(timeout=120))
    assert summary["ok"], summary
    assert summary["passes"] == 3  # rg adopted, then nsg0 (its create only starts once the rg exists)
    assert summary["imports"]["planned"] == 2 and summary["existing_not_adopted_count"] == 0
    assert converge(runner(work, sim, cli_config, marker))["changes"] is False
    assert imports.owned_creates(work) >= {"azapi_resource.rg", "azapi_resource.nsg0", "azapi_resource.nsg1"}


def test_provider_crash_mid_apply_is_a_clear_failure_that_lists_what_was_applied(
    tmp_path: Path, sim, cli_config: Path, marker: str
) -> None:
    nsgs = [f"nsg{i}" for i in range(3)]
    sim.hook(
        "POST",
        "faults",
        {
            "faults": [
                {
                    "method": "PUT",
                    "path_contains": "/networkSecurityGroups/nsg2",
                    "status": 429,
                    "retry_after": 10,
                    "times": 1,
                }
            ]
        },
    )
    work = workdir_for(tmp_path, config(nsgs))
    killed: list[int] = []

    def kill_provider_once_nsg2_runs(line: str) -> None:
        if '"apply_start"' in line and "azapi_resource.nsg2" in line and not killed:

            def later() -> None:
                time.sleep(1.0)
                for pid in marked(marker, cmd_contains="tfprovider"):
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)

            threading.Thread(target=later, daemon=True).start()

    tf = runner(work, sim, cli_config, marker, on_line=kill_provider_once_nsg2_runs)
    summary = converge(tf, ConvergeOptions(timeout=120))
    assert killed, "the provider process was not found"
    assert summary["ok"] is False, summary
    # named a crash whatever terraform streamed (under load sometimes only "Creation errored"): terraform's
    # error log on stderr always records the plugin's exit with the signal that killed it
    assert summary["provider_crashed"] is True, summary
    assert any("plugin process exited" in line and "signal: killed" in line for line in summary["provider_crash"])
    message = failure_message(summary)
    assert "the provider plugin crashed (" in message and "signal: killed" in message, message
    assert [f["address"] for f in summary["failed"]] == ["azapi_resource.nsg2"]
    assert summary["applied"] == 3  # rg, nsg0, nsg1: recorded although the provider died
    assert safety.managed_addresses(safety.check_local_state(work)) >= {"azapi_resource.rg", "azapi_resource.nsg0"}
    sim.hook("DELETE", "faults")
    again = converge(runner(work, sim, cli_config, marker), ConvergeOptions(timeout=120))
    assert again["ok"] and again["plan"]["add"] == 1, again
