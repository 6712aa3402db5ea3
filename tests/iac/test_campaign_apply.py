"""generate_for_campaign against the simulator: secrets reach the PUT only through TF_VAR_, existing
target resources are adopted through import blocks, and the campaign directory keeps everything."""

from __future__ import annotations

import json
import os
import shutil
import ssl
import stat
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tenant_replicator import devstack
from tenant_replicator.iac.campaign import generate_for_campaign, managed_addresses
from tenant_replicator.iac.secrets import tf_var_env
from tenant_replicator.terraform.process import ManagedProcess

SRC = "9b00bc5e-1f2a-4c3d-8e4f-5a6b7c8d9e0f"
TGT = "c7e91a04-2b6f-4d38-a5e2-91f4b7c0d863"  # the simulator's seeded target subscription
RG = f"/subscriptions/{SRC}/resourceGroups/rg-secrets"
SQL = f"{RG}/providers/Microsoft.Sql/servers/sql-secrets-01"


def _inputs() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    server = {
        "id": SQL,
        "name": "sql-secrets-01",
        "type": "Microsoft.Sql/servers",
        "apiVersion": "2021-11-01",
        "location": "westeurope",
        "properties": {
            "administratorLogin": "sqladmin",
            "version": "12.0",
            "fullyQualifiedDomainName": "sql-secrets-01.database.windows.net",
            "state": "Ready",
        },
    }
    groups = [
        {"id": RG, "name": "rg-secrets", "location": "westeurope"},
        {"id": f"/subscriptions/{SRC}/resourceGroups/rg-adopt", "name": "rg-adopt", "location": "westeurope"},
    ]
    return [server], groups


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("sim")
    with devstack.Stack(workdir=base, env=devstack.base_env(base)) as stack:
        devstack.start_simulator(stack)
        yield {"endpoint": stack.arm_endpoint.rstrip("/"), "ca_file": stack.ca_file, "dir": base}


def _arm(sim: dict, method: str, path: str, api: str, body: dict | None = None) -> tuple[int, dict]:
    context = ssl.create_default_context(cafile=sim["ca_file"])
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{sim['endpoint']}{path}?api-version={api}",
        data=data,
        method=method,
        headers={"Authorization": "Bearer test", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as response:  # noqa: S310 - loopback
            text = response.read()
            return response.status, json.loads(text) if text else {}
    except urllib.error.HTTPError as err:
        return err.code, {}


def _terraform(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> tuple[int, str]:
    """terraform through the project's ManagedProcess (own process group, stopped by group on timeout)."""
    result = ManagedProcess(["terraform", *args], cwd=cwd, env=env, grace_s=10).run(timeout=timeout)
    out = "\n".join(result.lines) + "\n" + result.stderr
    if result.timed_out:
        pytest.fail(f"terraform {args[0]} timed out:\n{out[-3000:]}")
    return result.returncode, out


def test_secrets_and_adoption_through_terraform(simulator: dict, tmp_path: Path) -> None:
    install = pytest.importorskip("tenant_replicator.tfprovider.install")
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not on PATH")
    # someone already made the target's rg-adopt: it must be imported, not collided with
    status, _ = _arm(
        simulator, "PUT", f"/subscriptions/{TGT}/resourceGroups/rg-adopt", "2021-04-01", {"location": "westeurope"}
    )
    assert status in (200, 201)
    status, listing = _arm(simulator, "GET", f"/subscriptions/{TGT}/resourcegroups", "2021-04-01")
    assert status == 200
    campaign = tmp_path / "campaign"
    ctx = {
        "campaign_dir": str(campaign),
        "tf_dir": str(campaign / "terraform"),
        "source_subscription": SRC,
        "target_subscription": TGT,
        "nonce": "sec1",
    }
    campaign.mkdir()
    resources, groups = _inputs()
    summary = generate_for_campaign(
        None, ctx, source_resources=resources, resource_groups=groups, target_resources=listing["value"]
    )
    assert summary["resources_emitted"] == 3 and summary["secret_variables_count"] == 1
    assert summary["imports_count"] == 1 and summary["imports"][0].startswith("azapi_resource.rg_rg_adopt_")

    tf_dir = campaign / "terraform"
    env_secrets = tf_var_env(tf_dir)
    assert len(env_secrets) == 1
    ((var_name, password),) = env_secrets.items()
    main = (tf_dir / "main.tf.json").read_text()
    assert password not in main and "${var." + var_name.removeprefix("TF_VAR_") + "}" in main
    imports = json.loads((tf_dir / "imports.tf.json").read_text())["import"]
    assert [i["id"] for i in imports] == [f"/subscriptions/{TGT}/resourceGroups/rg-adopt?api-version=2021-04-01"]
    store = campaign / "secrets" / "tf_vars.json"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600 and stat.S_IMODE(store.parent.stat().st_mode) == 0o700
    assert password not in json.dumps(summary)

    env = {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(install.write_cli_config(tmp_path / "provider")),
        "TENANT_REPLICATOR_ARM_ENDPOINT": simulator["endpoint"],
        "TENANT_REPLICATOR_ARM_CA_FILE": simulator["ca_file"],
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
    }
    env = {k: v for k, v in env.items() if not k.startswith("TF_VAR_")}
    # without the campaign's secrets terraform refuses, naming the variable
    code, out = _terraform(["plan", "-no-color", "-input=false"], tf_dir, env)
    assert code != 0 and var_name.removeprefix("TF_VAR_") in out
    code, out = _terraform(["apply", "-auto-approve", "-no-color", "-input=false"], tf_dir, {**env, **env_secrets})
    assert code == 0, out[-4000:]
    assert "1 imported, 2 added" in out, out[-2000:]
    assert password not in out
    # the server got it (ARM accepted the PUT) but never returns it, and the simulator kept no copy
    target_sql = json.loads((tf_dir / "name_map.json").read_text())[SQL.lower()]
    status, body = _arm(simulator, "GET", target_sql, "2021-11-01")
    assert status == 200 and body["properties"]["administratorLogin"] == "sqladmin"
    assert "administratorLoginPassword" not in body["properties"]
    for path in Path(simulator["dir"]).rglob("*"):
        if path.is_file() and path.stat().st_size < 50_000_000:
            assert password.encode() not in path.read_bytes(), path
    # converged: the write-only property is not drift; the next generation adopts nothing managed
    code, out = _terraform(["plan", "-detailed-exitcode", "-no-color", "-input=false"], tf_dir, {**env, **env_secrets})
    assert code == 0, out[-3000:]
    assert summary["imports"][0] in managed_addresses(tf_dir)
    again = generate_for_campaign(
        None, ctx, source_resources=resources, resource_groups=groups, target_resources=listing["value"]
    )
    assert again["imports_count"] == 0 and again["secrets_created"] == 0
    assert tf_var_env(tf_dir) == env_secrets  # the same password every iteration
