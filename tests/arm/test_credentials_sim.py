"""The credential path against the simulator's Entra-like token endpoint: an Airflow `azure` connection
(service principal) is what the ARM client and terraform actually authenticate with.

Proof that the connection, not the simulator's fixed token, is used: the simulator throttles per
principal; with the fixed token's read bucket empty, requests made through the connection still
succeed (another principal), and a connection naming an unknown tenant fails to authenticate.
"""

from __future__ import annotations

import base64
import json
import urllib.error
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientSecretCredential

from tenant_replicator import devstack
from tenant_replicator.arm import credentials as cr
from tenant_replicator.arm.client import credential_for, resource_client
from tenant_replicator.settings import load_settings
from tenant_replicator.sim.seed import SOURCE_SUBSCRIPTION_ID, TARGET_SUBSCRIPTION_ID, TENANT_ID
from tenant_replicator.terraform.runner import Terraform
from tenant_replicator.tfprovider.install import write_cli_config

CLIENT = "7a1c2f3e-4b5d-4e6f-8a9b-0c1d2e3f4a5b"
SECRET = "conn-secret-0123456789abcdef"  # noqa: S105 - test value, asserted never to leak
TARGET = f"/subscriptions/{TARGET_SUBSCRIPTION_ID}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[devstack.Stack]:
    base = tmp_path_factory.mktemp("cred-sim")
    with devstack.Stack(workdir=base, env=devstack.base_env(base)) as running:
        devstack.start_simulator(running)
        yield running


@pytest.fixture
def sim(stack: devstack.Stack) -> Iterator[devstack.Stack]:
    stack.sim_call("POST", "/_sim/reset")
    yield stack
    stack.sim_call("POST", "/_sim/throttle", {"enforce": False})


def _settings(stack: devstack.Stack, conn_id: str | None = "azure_sim"):
    env = {
        "TENANT_REPLICATOR_ARM_ENDPOINT": stack.arm_endpoint,
        "TENANT_REPLICATOR_ARM_CA_FILE": stack.ca_file,
        "TENANT_REPLICATOR_HOME": str(stack.workdir / "home"),
    }
    if conn_id:
        env["TENANT_REPLICATOR_AZURE_CONN_ID"] = conn_id
    return load_settings(env)


def _connection(monkeypatch: pytest.MonkeyPatch, tenant: str = TENANT_ID, conn_id: str = "AZURE_SIM") -> None:
    """An `azure` connection exactly as a user would define it (env-var secrets backend of Airflow)."""
    value = {"conn_type": "azure", "login": CLIENT, "password": SECRET, "extra": {"tenantId": tenant}}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id}", json.dumps(value))


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _token_requests(stack: devstack.Stack) -> int:
    return int(stack.sim_call("GET", "/_sim/stats")["requests"]["by_type"].get("identity/token", 0))


def _exhaust_fixed_token_reads(stack: devstack.Stack, capacity: int = 4) -> None:
    """Enforce a tiny read bucket and empty the simulator fixed token's share of it."""
    stack.sim_call("POST", "/_sim/throttle", {"enforce": True, "limits": {"reads": [capacity, 0.01]}})
    for _ in range(capacity):
        stack.sim_call("GET", f"{TARGET}/resourcegroups?api-version=2021-04-01")
    with pytest.raises(urllib.error.HTTPError) as throttled:
        stack.sim_call("GET", f"{TARGET}/resourcegroups?api-version=2021-04-01")
    assert throttled.value.code == 429


def test_arm_client_authenticates_with_the_connection(sim: devstack.Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    _connection(monkeypatch)
    settings = _settings(sim)
    credential = credential_for(settings)
    assert isinstance(credential, ClientSecretCredential)
    before = _token_requests(sim)
    _exhaust_fixed_token_reads(sim)
    groups = {g.name for g in resource_client(settings, SOURCE_SUBSCRIPTION_ID, retry_total=0).resource_groups.list()}
    assert "rg-app-prod" in groups  # the source read went through although the fixed token is throttled
    targets = list(resource_client(settings, TARGET_SUBSCRIPTION_ID, retry_total=0).resource_groups.list())
    assert targets  # and so does a target read: a different principal's bucket
    assert _token_requests(sim) > before  # a token was issued by the simulator's Entra ID
    claims = _claims(credential.get_token(cr.arm_scope(settings)).token)
    assert (claims["appid"], claims["tid"]) == (CLIENT, TENANT_ID)
    log = (sim.workdir / "logs/simulator.log").read_text()
    assert SECRET not in log


def test_unknown_tenant_in_the_connection_fails_authentication(
    sim: devstack.Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    _connection(monkeypatch, tenant="00000000-0000-0000-0000-00000000dead")
    client = resource_client(_settings(sim), SOURCE_SUBSCRIPTION_ID, retry_total=0)
    with pytest.raises(ClientAuthenticationError) as caught:
        list(client.resource_groups.list())
    assert "00000000-0000-0000-0000-00000000dead" in str(caught.value) and SECRET not in str(caught.value)


def test_missing_connection_is_named(sim: devstack.Stack) -> None:
    with pytest.raises(cr.CredentialError, match="'azure_nowhere'"):
        credential_for(_settings(sim, conn_id="azure_nowhere"))


def test_terraform_applies_with_the_connection_token(
    sim: devstack.Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """terraform_env_for -> the stand-in provider authenticates as the connection's principal."""
    _connection(monkeypatch)
    settings = _settings(sim)
    env = cr.terraform_env_for(cr.resolve_source(settings), settings, subscription_id=TARGET_SUBSCRIPTION_ID)
    assert _claims(env["TENANT_REPLICATOR_ARM_TOKEN"])["appid"] == CLIENT
    assert SECRET not in json.dumps(env) and cr.redact_env(env)["TENANT_REPLICATOR_ARM_TOKEN"] == "***"
    _exhaust_fixed_token_reads(sim, capacity=20)  # the provider reads after each write: give it room
    workdir = tmp_path / "tf"
    workdir.mkdir()
    config = {
        "terraform": {"required_providers": {"azapi": {"source": "azure/azapi"}}},
        "resource": {
            "azapi_resource": {
                "rg": {
                    "type": "Microsoft.Resources/resourceGroups@2021-04-01",
                    "name": "rg-credential-proof",
                    "parent_id": TARGET,
                    "location": "westeurope",
                }
            }
        },
    }
    (workdir / "main.tf.json").write_text(json.dumps(config))
    tf_env = {"TF_CLI_CONFIG_FILE": str(write_cli_config(tmp_path / "tfcli")), **env}
    tf = Terraform(workdir, env=tf_env, grace_s=5)
    plan = tf.plan(timeout=120)
    assert plan.add == 1
    result = tf.apply(timeout=120)
    assert result.ok, result.as_dict()
    # the group exists (read as the connection's principal) ...
    client = resource_client(settings, TARGET_SUBSCRIPTION_ID, retry_total=0)
    assert client.resource_groups.get("rg-credential-proof").location == "westeurope"
    # ... while the fixed token is still throttled: terraform did not authenticate with it
    with pytest.raises(urllib.error.HTTPError) as throttled:
        sim.sim_call("GET", f"{TARGET}/resourcegroups/rg-credential-proof?api-version=2021-04-01")
    assert throttled.value.code == 429
