"""`tenant-replicator doctor` against the embedded stack (simulator + FalkorDB + Slack capture), and with
things missing: exit code, the fix it prints, `--json`, and no secret in its output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tenant_replicator import devstack, doctor
from tenant_replicator.sim.seed import SOURCE_SUBSCRIPTION_ID, TARGET_SUBSCRIPTION_ID, TENANT_ID

CLIENT = "3c9a6f0e-1b2d-4c3e-9f8a-7b6c5d4e3f2a"
SECRET = "doctor-secret-0123456789"  # noqa: S105 - a test value, asserted never to be printed

READER = {"actions": ["*/read"], "notActions": []}
CONTRIBUTOR = {
    "actions": ["*"],
    "notActions": [
        "Microsoft.Authorization/*/Delete",
        "Microsoft.Authorization/*/Write",
        "Microsoft.Authorization/elevateAccess/Action",
    ],
}
USER_ACCESS_ADMIN = {"actions": ["*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"], "notActions": []}
OWNER = {"actions": ["*"], "notActions": []}


# -- pure parts --------------------------------------------------------------------------------


def test_permissions_follow_arm_semantics() -> None:
    assert doctor.missing_target_roles([READER]) == doctor.TARGET_ACTIONS
    # Contributor alone cannot write role assignments (its notActions)
    assert doctor.missing_target_roles([CONTRIBUTOR]) == {
        "Microsoft.Authorization/roleAssignments/write": "User Access Administrator"
    }
    assert doctor.missing_target_roles([CONTRIBUTOR, USER_ACCESS_ADMIN]) == {}
    assert doctor.missing_target_roles([OWNER]) == {}
    assert doctor.action_allowed("microsoft.network/VIRTUALNETWORKS/write", [CONTRIBUTOR])  # case-insensitive
    assert not doctor.action_allowed("Microsoft.Authorization/roleAssignments/write", [])


def test_table_json_and_exit_code() -> None:
    checks = [
        doctor.Check("terraform", doctor.OK, "Terraform 1.11.4"),
        doctor.Check("slack", doctor.MISSING, "not defined", "define it", required=False),
    ]
    assert doctor.exit_code(checks) == 0 and doctor.as_json(checks)["ok"] is True
    assert "(optional) not defined" in doctor.table(checks) and "-> define it" in doctor.table(checks)
    checks.append(doctor.Check("graph", doctor.MISSING, "refused", "start it"))
    assert doctor.exit_code(checks) == 1
    assert doctor.as_json(checks)["checks"][-1]["failed"] is True
    assert doctor.table(checks).endswith("NOT ready: fix the MISSING rows above")


def test_campaign_home(tmp_path: Path) -> None:
    from tenant_replicator.settings import load_settings

    def home_check(path: Path) -> doctor.Check:
        return doctor.check_home(load_settings({"TENANT_REPLICATOR_HOME": str(path)}))

    assert home_check(tmp_path / "new").detail.endswith("will be created (0700)")
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    assert home_check(private).status == doctor.OK
    private.chmod(0o755)
    shared = home_check(private)
    assert shared.status == doctor.WARN and shared.fix == f"chmod 700 {private}" and not shared.failed
    if os.geteuid() != 0:  # root writes anywhere
        private.chmod(0o500)
        assert home_check(private / "x").status == doctor.MISSING


def test_token_subject() -> None:
    assert doctor.token_subject("opaque") == ""


# -- the command against the embedded stack ----------------------------------------------------


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[devstack.Stack]:
    with devstack.start_stack(tmp_path_factory.mktemp("doctor"), airflow=False) as running:
        yield running


def _env(stack: devstack.Stack, **extra: str) -> dict[str, str]:
    env = dict(stack.env)
    env["AIRFLOW_HOME"] = str(stack.workdir / "airflow-home")
    env.pop("TF_CLI_CONFIG_FILE", None)
    env.update(extra)
    return env


def _doctor(env: dict[str, str], *args: str, as_json: bool = True) -> tuple[int, dict | str]:
    command = [sys.executable, "-m", "tenant_replicator.cli", "doctor", *args] + (["--json"] if as_json else [])
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert SECRET not in result.stdout + result.stderr
    if not as_json:
        return result.returncode, result.stdout
    return result.returncode, json.loads(result.stdout)


def _by_name(report: dict) -> dict[str, dict]:
    return {check["name"]: check for check in report["checks"]}


def test_everything_present_on_the_embedded_stack(stack: devstack.Stack) -> None:
    code, report = _doctor(_env(stack), "--source", SOURCE_SUBSCRIPTION_ID, "--target", TARGET_SUBSCRIPTION_ID)
    checks = _by_name(report)
    assert code == 0 and report["ok"] is True, report
    assert checks["terraform"]["status"] == "OK" and "1." in checks["terraform"]["detail"]
    assert checks["azapi provider"]["status"] == "OK" and "stand-in" in checks["azapi provider"]["detail"]
    assert checks["graph"]["status"] == "OK" and stack.graph_uri in checks["graph"]["detail"]
    assert checks["campaign home"]["status"] in ("OK", "WARN")
    assert checks["slack"]["status"] == "OK" and "slackwebhook" in checks["slack"]["detail"]
    assert checks["azure identity"]["detail"].startswith("simulator from simulator")
    assert checks["azure token"]["status"] == "OK"
    assert checks["source readable"]["status"] == "OK"
    assert "resource groups listed" in checks["source readable"]["detail"]
    # the simulator does not implement Microsoft.Authorization/permissions: said, not guessed
    assert checks["target writable"]["status"] == "UNKNOWN" and checks["target writable"]["required"] is False
    assert "Contributor + User Access Administrator" in checks["target writable"]["fix"]


def test_azure_connection_against_the_simulators_entra(stack: devstack.Stack) -> None:
    connection = {"conn_type": "azure", "login": CLIENT, "password": SECRET, "extra": {"tenantId": TENANT_ID}}
    env = _env(stack, TENANT_REPLICATOR_AZURE_CONN_ID="azure_sim", AIRFLOW_CONN_AZURE_SIM=json.dumps(connection))
    code, report = _doctor(env, "--source", SOURCE_SUBSCRIPTION_ID)
    checks = _by_name(report)
    assert code == 0, report
    assert checks["azure identity"]["detail"] == f"client_secret from connection:azure_sim (client {CLIENT})"
    assert checks["azure token"]["detail"] == f"token for {CLIENT} in tenant {TENANT_ID}"
    assert checks["source readable"]["status"] == "OK"
    assert checks["target writable"]["status"] == "SKIPPED"


def test_things_missing(stack: devstack.Stack) -> None:
    connection = {"conn_type": "azure", "login": CLIENT, "password": SECRET, "extra": {"tenantId": "0" * 32}}
    env = _env(
        stack,
        TENANT_REPLICATOR_GRAPH_URI=f"falkordb://127.0.0.1:{devstack.free_port()}",
        TENANT_REPLICATOR_AZURE_CONN_ID="azure_bad",
        AIRFLOW_CONN_AZURE_BAD=json.dumps(connection),
    )
    env.pop("AIRFLOW_CONN_TENANT_REPLICATOR_SLACK")
    code, report = _doctor(env, "--terraform", "terraform-not-installed-here")
    checks = _by_name(report)
    assert code == 1 and report["ok"] is False
    assert checks["terraform"]["status"] == "MISSING" and "install Terraform" in checks["terraform"]["fix"]
    assert checks["azapi provider"]["status"] == "SKIPPED"
    assert checks["graph"]["status"] == "MISSING" and "TENANT_REPLICATOR_GRAPH_URI" in checks["graph"]["fix"]
    assert checks["slack"]["status"] == "MISSING" and checks["slack"]["failed"] is False
    assert checks["azure identity"]["status"] == "OK"
    assert checks["azure token"]["status"] == "MISSING" and checks["azure token"]["failed"] is True
    # the human form names what to do
    code, text = _doctor(env, "--terraform", "terraform-not-installed-here", as_json=False)
    assert code == 1 and "-> install Terraform" in text and "NOT ready" in text
    assert "AIRFLOW_CONN_TENANT_REPLICATOR_SLACK" in text


def test_missing_identity_is_named(stack: devstack.Stack) -> None:
    code, report = _doctor(_env(stack, TENANT_REPLICATOR_AZURE_CONN_ID="azure_nowhere"))
    checks = _by_name(report)
    assert code == 1 and checks["azure identity"]["status"] == "MISSING"
    assert "'azure_nowhere'" in checks["azure identity"]["detail"]


def test_subscription_access_problems_are_named(stack: devstack.Stack) -> None:
    unknown_source, unknown_target = "00000000-1111-2222-3333-444444444444", "00000000-5555-6666-7777-888888888888"
    code, report = _doctor(_env(stack), "--source", unknown_source, "--target", unknown_target)
    checks = _by_name(report)
    assert code == 1
    assert checks["source readable"]["status"] == "MISSING" and "Reader" in checks["source readable"]["fix"]
    assert "SubscriptionNotFound" in checks["source readable"]["detail"]
    assert (
        checks["target writable"]["status"] == "MISSING"
        and "SubscriptionNotFound" in checks["target writable"]["detail"]
    )
    assert "User Access Administrator" in checks["target writable"]["fix"]
    code, report = _doctor(_env(stack), "--source", SOURCE_SUBSCRIPTION_ID, "--target", SOURCE_SUBSCRIPTION_ID)
    assert code == 1 and _by_name(report)["target writable"]["detail"] == "target is the source"


def test_real_provider_resolution_through_a_mirror(tmp_path: Path) -> None:
    """Real-Azure mode: `terraform init` must resolve azure/azapi 2.x. Offline, a filesystem mirror
    stands in for the registry: empty -> MISSING with the fix, holding 2.5.0 -> OK with the version."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    rc = tmp_path / "terraformrc"
    rc.write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n'
        '    include = ["registry.terraform.io/azure/azapi"]\n  }\n}\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TENANT_REPLICATOR_", "AIRFLOW_CONN_", "TF_"))}
    env |= {"TF_CLI_CONFIG_FILE": str(rc), "TENANT_REPLICATOR_HOME": str(tmp_path / "home")}
    env["TENANT_REPLICATOR_GRAPH_URI"] = f"falkordb://127.0.0.1:{devstack.free_port()}"
    code, report = _doctor(env, "--no-azure")
    provider = _by_name(report)["azapi provider"]
    assert code == 1 and provider["status"] == "MISSING" and "provider mirror" in provider["fix"]
    assert "azure/azapi" in provider["detail"]
    package = mirror / "registry.terraform.io/azure/azapi/2.5.0/linux_amd64/terraform-provider-azapi_v2.5.0"
    package.parent.mkdir(parents=True)
    package.write_text("#!/bin/sh\nexit 1\n")
    package.chmod(0o755)
    code, report = _doctor(env, "--no-azure")
    provider = _by_name(report)["azapi provider"]
    assert provider["status"] == "OK" and provider["detail"] == "azure/azapi 2.5.0 resolvable (~> 2.0)"
