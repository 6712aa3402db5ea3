"""Credential selection: Airflow `azure` connections, the environment, the simulator; terraform's ARM_* env."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from azure.identity import (
    ClientSecretCredential,
    DefaultAzureCredential,
    ManagedIdentityCredential,
    WorkloadIdentityCredential,
)

from tenant_replicator.arm import credentials as cr
from tenant_replicator.arm.client import SimulatorCredential, client_kwargs, credential_for
from tenant_replicator.settings import load_settings

SECRET = "sp-secret-value-1234567890"  # noqa: S105 - a test value, asserted never to leak
TENANT = "0d5c3a71-8e2f-4b6a-9d14-7f3e2c1b5a90"
CLIENT = "11111111-2222-3333-4444-555555555555"


def _conn(login=None, password=None, **extra) -> cr.ConnectionFields:
    return cr.ConnectionFields("azure_default", "azure", login, password, extra)


def _real(**env: str):
    return load_settings({"TENANT_REPLICATOR_HOME": "/tmp/tr-home", **env})


def _sim(tmp_path: Path, **env: str):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    return load_settings(
        {
            "TENANT_REPLICATOR_ARM_ENDPOINT": "https://127.0.0.1:8443",
            "TENANT_REPLICATOR_ARM_CA_FILE": str(ca),
            "TENANT_REPLICATOR_HOME": str(tmp_path),
            **env,
        }
    )


# -- connection -> source ---------------------------------------------------------------------


def test_service_principal_connection() -> None:
    source = cr.source_from_connection(_conn(CLIENT, SECRET, tenantId=TENANT), env={})
    assert (source.kind, source.tenant_id, source.client_id, source.client_secret) == (
        "client_secret",
        TENANT,
        CLIENT,
        SECRET,
    )
    assert source.origin == "connection:azure_default"
    # the secret is in neither repr nor describe()
    assert SECRET not in repr(source) and SECRET not in json.dumps(source.describe())
    assert source.describe()["has_client_secret"] is True


def test_legacy_prefixed_extras_and_cloud() -> None:
    source = cr.source_from_connection(
        _conn(CLIENT, SECRET, extra__azure__tenantId=TENANT, cloud_environment="AzureUSGovernment"), env={}
    )
    assert source.tenant_id == TENANT and source.cloud == "AzureUSGovernment"
    assert cr.authority_for(source, _real()) == "login.microsoftonline.us"


def test_workload_identity_connection(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    source = cr.source_from_connection(
        _conn(managed_identity_client_id=CLIENT, workload_identity_tenant_id=TENANT),
        env={"AZURE_FEDERATED_TOKEN_FILE": str(token_file)},
    )
    assert (source.kind, source.client_id, source.tenant_id) == ("workload_identity", CLIENT, TENANT)
    assert source.federated_token_file == str(token_file)


def test_managed_identity_connection() -> None:
    source = cr.source_from_connection(_conn(managed_identity_client_id=CLIENT), env={})
    assert (source.kind, source.client_id) == ("managed_identity", CLIENT)
    system = cr.source_from_connection(_conn(use_managed_identity=True), env={})
    assert (system.kind, system.client_id) == ("managed_identity", None)


def test_empty_connection_means_default_chain() -> None:
    assert cr.source_from_connection(_conn(tenantId=""), env={}).kind == "default"


@pytest.mark.parametrize(
    ("conn", "message"),
    [
        (_conn(None, SECRET, tenantId=TENANT), "no client id"),
        (_conn(CLIENT, SECRET), "tenantId"),
        (_conn(workload_identity_tenant_id=TENANT), "federated token file"),
        (_conn(CLIENT, SECRET, tenantId=TENANT, cloud_environment="Mars"), "cloud_environment"),
    ],
)
def test_incomplete_connections_are_refused_by_name(conn: cr.ConnectionFields, message: str) -> None:
    with pytest.raises(cr.CredentialError, match=message) as caught:
        cr.source_from_connection(conn, env={})
    assert "azure_default" in str(caught.value) and SECRET not in str(caught.value)


# -- environment -> source --------------------------------------------------------------------


def test_environment_sources() -> None:
    sp = cr.source_from_environment(
        {"AZURE_TENANT_ID": TENANT, "AZURE_CLIENT_ID": CLIENT, "AZURE_CLIENT_SECRET": SECRET}
    )
    assert (sp.kind, sp.origin) == ("client_secret", "environment")
    wi = cr.source_from_environment(
        {"AZURE_TENANT_ID": TENANT, "AZURE_CLIENT_ID": CLIENT, "AZURE_FEDERATED_TOKEN_FILE": "/var/run/token"}
    )
    assert (wi.kind, wi.federated_token_file) == ("workload_identity", "/var/run/token")
    mi = cr.source_from_environment({"IDENTITY_ENDPOINT": "http://169.254.169.254", "AZURE_CLIENT_ID": CLIENT})
    assert (mi.kind, mi.client_id) == ("managed_identity", CLIENT)
    assert cr.source_from_environment({}).kind == "default"


# -- settings -> source (resolution order) ----------------------------------------------------


def test_resolution_order(tmp_path: Path) -> None:
    looked_up: list[str] = []

    def lookup(conn_id: str) -> cr.ConnectionFields:
        looked_up.append(conn_id)
        return cr.ConnectionFields(conn_id, "azure", CLIENT, SECRET, {"tenantId": TENANT})

    # simulator without a connection: the fixed token, no lookup
    assert cr.resolve_source(_sim(tmp_path), env={}, lookup=lookup).kind == "simulator"
    assert isinstance(credential_for(_sim(tmp_path)), SimulatorCredential)
    # a configured connection wins, also against the simulator
    with_conn = cr.resolve_source(_sim(tmp_path, TENANT_REPLICATOR_AZURE_CONN_ID="azure_sp"), env={}, lookup=lookup)
    assert (with_conn.kind, with_conn.origin, looked_up) == ("client_secret", "connection:azure_sp", ["azure_sp"])
    # real Azure without a connection: the environment
    env = {"AZURE_TENANT_ID": TENANT, "AZURE_CLIENT_ID": CLIENT, "AZURE_CLIENT_SECRET": SECRET}
    assert cr.resolve_source(_real(), env=env, lookup=lookup).origin == "environment"


def test_connection_read_through_airflow(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real Airflow lookup (env-var secrets backend), no fake."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_AZURE_TR_TEST",
        json.dumps({"conn_type": "azure", "login": CLIENT, "password": SECRET, "extra": {"tenantId": TENANT}}),
    )
    fields = cr.airflow_connection("azure_tr_test")
    assert (fields.conn_type, fields.login, fields.password, fields.extra["tenantId"]) == (
        "azure",
        CLIENT,
        SECRET,
        TENANT,
    )
    with pytest.raises(cr.CredentialError, match="'azure_missing_conn'.*TENANT_REPLICATOR_AZURE_CONN_ID"):
        cr.airflow_connection("azure_missing_conn")


# -- source -> azure-identity credential ------------------------------------------------------


def test_build_credential_types(tmp_path: Path) -> None:
    settings = _real()
    assert isinstance(cr.build_credential(cr.CredentialSource("simulator", "simulator"), settings), SimulatorCredential)
    sp = cr.CredentialSource("client_secret", "t", tenant_id=TENANT, client_id=CLIENT, client_secret=SECRET)
    assert isinstance(cr.build_credential(sp, settings), ClientSecretCredential)
    token = tmp_path / "token"
    token.write_text("federated")
    wi = cr.CredentialSource(
        "workload_identity", "t", tenant_id=TENANT, client_id=CLIENT, federated_token_file=str(token)
    )
    assert isinstance(cr.build_credential(wi, settings), WorkloadIdentityCredential)
    mi = cr.CredentialSource("managed_identity", "t", client_id=CLIENT)
    assert isinstance(cr.build_credential(mi, settings), ManagedIdentityCredential)
    assert isinstance(cr.build_credential(cr.CredentialSource("default", "t"), settings), DefaultAzureCredential)
    with pytest.raises(cr.CredentialError, match="unknown credential kind"):
        cr.build_credential(cr.CredentialSource("certificate", "t"), settings)


def test_authority_and_scope(tmp_path: Path) -> None:
    source = cr.CredentialSource("client_secret", "t", tenant_id=TENANT, client_id=CLIENT, client_secret=SECRET)
    sim = _sim(tmp_path)
    assert cr.authority_for(source, sim) == "127.0.0.1:8443"  # the simulator is its own Entra ID
    kwargs = cr._identity_kwargs(source, sim)
    assert kwargs["disable_instance_discovery"] is True and kwargs["connection_verify"] == sim.arm_ca_file
    assert cr.authority_for(source, _real()) == "login.microsoftonline.com"
    assert "disable_instance_discovery" not in cr._identity_kwargs(source, _real())
    custom = _real(TENANT_REPLICATOR_AZURE_AUTHORITY_HOST="https://login.example.test/")
    assert cr.authority_for(source, custom) == "https://login.example.test"
    assert cr.arm_scope(_real()) == "https://management.azure.com/.default"
    gov = _real(TENANT_REPLICATOR_ARM_ENDPOINT="https://management.usgovcloudapi.net")
    assert cr.arm_scope(gov) == "https://management.usgovcloudapi.net/.default"
    assert client_kwargs(gov)["credential_scopes"] == ["https://management.usgovcloudapi.net/.default"]
    assert "credential_scopes" not in client_kwargs(_real())


# -- source -> terraform environment ----------------------------------------------------------


def test_terraform_env_service_principal() -> None:
    source = cr.CredentialSource("client_secret", "t", tenant_id=TENANT, client_id=CLIENT, client_secret=SECRET)
    env = cr.terraform_env_for(source, _real(), subscription_id="sub-1")
    assert env == {
        "ARM_ENVIRONMENT": "public",
        "ARM_SUBSCRIPTION_ID": "sub-1",
        "ARM_TENANT_ID": TENANT,
        "ARM_CLIENT_ID": CLIENT,
        "ARM_CLIENT_SECRET": SECRET,
        "ARM_USE_CLI": "false",
    }
    shown = cr.redact_env(env)
    assert shown["ARM_CLIENT_SECRET"] == "***" and SECRET not in json.dumps(shown)


def test_terraform_env_other_kinds() -> None:
    wi = cr.CredentialSource(
        "workload_identity",
        "t",
        tenant_id=TENANT,
        client_id=CLIENT,
        federated_token_file="/var/run/secrets/azure/tokens/azure-identity-token",
        cloud="AzureChinaCloud",
    )
    env = cr.terraform_env_for(wi, _real())
    assert env["ARM_USE_OIDC"] == "true" and env["ARM_OIDC_TOKEN_FILE_PATH"].endswith("azure-identity-token")
    assert env["ARM_ENVIRONMENT"] == "china" and env["ARM_USE_CLI"] == "false" and "ARM_CLIENT_SECRET" not in env
    mi = cr.terraform_env_for(cr.CredentialSource("managed_identity", "t", client_id=CLIENT), _real())
    assert mi["ARM_USE_MSI"] == "true" and mi["ARM_CLIENT_ID"] == CLIENT
    default = cr.terraform_env_for(cr.CredentialSource("default", "t"), _real())
    assert default["ARM_USE_MSI"] == "true" and default["ARM_USE_CLI"] == "true"
    with pytest.raises(cr.CredentialError):
        cr.terraform_env_for(cr.CredentialSource("simulator", "simulator"), _real())


def test_terraform_env_simulator(tmp_path: Path) -> None:
    sim = _sim(tmp_path)
    env = cr.terraform_env_for(cr.CredentialSource("simulator", "simulator"), sim)
    assert env == {
        "TENANT_REPLICATOR_ARM_ENDPOINT": "https://127.0.0.1:8443",
        "TENANT_REPLICATOR_ARM_CA_FILE": sim.arm_ca_file,
    }

    class Issued:
        def get_token(self, *scopes: str):
            assert scopes == (cr.PUBLIC_ARM_SCOPE,)
            return type("T", (), {"token": "issued-token"})()

    source = cr.CredentialSource("client_secret", "t", tenant_id=TENANT, client_id=CLIENT, client_secret=SECRET)
    env = cr.terraform_env_for(source, sim, credential_factory=lambda s, st: Issued())
    assert env["TENANT_REPLICATOR_ARM_TOKEN"] == "issued-token"
    assert cr.redact_env(env)["TENANT_REPLICATOR_ARM_TOKEN"] == "***"


def test_library_module_imports_no_airflow() -> None:
    """credentials.py is library code: importing it must not pull Airflow in (checked in a fresh interpreter)."""
    import subprocess
    import sys

    modules = "tenant_replicator.arm.credentials, tenant_replicator.arm.client"
    code = f"import sys, {modules}; print('airflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"
