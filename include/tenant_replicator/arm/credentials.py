"""Which Azure identity the loop uses, for the Python ARM clients and for terraform alike.

One `CredentialSource` (no Airflow, no SDK objects: plain fields) is resolved once per task from
the settings, in this order:

1. `TENANT_REPLICATOR_AZURE_CONN_ID` names an Airflow connection of the `azure` type of
   apache-airflow-providers-microsoft-azure (same fields: login = client id, password = secret,
   extra `tenantId`, `managed_identity_client_id`, `workload_identity_tenant_id`,
   `cloud_environment`); the lookup imports Airflow lazily;
2. the loopback simulator: a fixed token (never a real credential);
3. the environment, as azure-identity's DefaultAzureCredential reads it (`AZURE_CLIENT_SECRET`,
   `AZURE_FEDERATED_TOKEN_FILE`, managed identity endpoints).

From it, `build_credential` makes the azure-identity credential and `terraform_env_for` the
`ARM_*` environment of the real azapi provider (or, against the simulator, the stand-in's
`TENANT_REPLICATOR_ARM_*`). Secrets stay in the `client_secret` field (hidden from repr) and in the
returned environment: `describe()` and `redact_env()` are what logs and XComs may show.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from azure.core.credentials import AccessToken, AccessTokenInfo

from tenant_replicator.settings import Settings

KINDS = ("simulator", "client_secret", "workload_identity", "managed_identity", "default")
PUBLIC_ARM_SCOPE = "https://management.azure.com/.default"
# cloud_environment values of the provider's `azure` connection -> Entra authority / azapi ARM_ENVIRONMENT
CLOUD_AUTHORITIES = {
    "AzurePublicCloud": "login.microsoftonline.com",
    "AzureUSGovernment": "login.microsoftonline.us",
    "AzureChinaCloud": "login.chinacloudapi.cn",
}
TERRAFORM_ENVIRONMENTS = {"AzurePublicCloud": "public", "AzureUSGovernment": "usgovernment", "AzureChinaCloud": "china"}
SECRET_ENV_KEYS = frozenset({"ARM_CLIENT_SECRET", "ARM_OIDC_TOKEN", "TENANT_REPLICATOR_ARM_TOKEN", "ARM_ACCESS_KEY"})
_FAR_FUTURE_S = 10 * 365 * 24 * 3600


class CredentialError(ValueError):
    """The configured identity is incomplete or its connection is missing; the message says which."""


@dataclass(frozen=True)
class ConnectionFields:
    """The parts of an Airflow connection we read (so the parsing is testable without Airflow)."""

    conn_id: str
    conn_type: str = "azure"
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CredentialSource:
    """Where the identity comes from and what it needs; `client_secret` never appears in repr."""

    kind: str
    origin: str
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    federated_token_file: str | None = None
    authority_host: str | None = None
    cloud: str = "AzurePublicCloud"

    def describe(self) -> dict[str, Any]:
        """What logs, XComs and `doctor` may show: never the secret, only whether there is one."""
        return {
            "kind": self.kind,
            "origin": self.origin,
            "tenant_id": self.tenant_id,
            "client_id": self.client_id,
            "has_client_secret": bool(self.client_secret),
            "federated_token_file": self.federated_token_file,
            "authority_host": self.authority_host,
            "cloud": self.cloud,
        }


class SimulatorCredential:
    """A TokenCredential with a constant token: only ever sent to a loopback simulator."""

    token = "simulator"  # noqa: S105 - not a secret; the simulator accepts any bearer token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + _FAR_FUTURE_S)

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        return AccessTokenInfo(self.token, int(time.time()) + _FAR_FUTURE_S)

    def close(self) -> None:
        """Nothing to release; present so the client can close its credential."""

    def __enter__(self) -> SimulatorCredential:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- resolve: connection / environment -> CredentialSource ---------------------------------------


def _extra(extra: Mapping[str, Any], name: str) -> str | None:
    """An extra field by its short name or the provider's legacy `extra__azure__` prefix; '' is None."""
    value = extra.get(name, extra.get(f"extra__azure__{name}"))
    return str(value).strip() or None if value not in (None, "") else None


def source_from_connection(conn: ConnectionFields, env: Mapping[str, str] | None = None) -> CredentialSource:
    """The provider's `azure` connection semantics: client id + secret + tenant -> service principal;
    a workload identity tenant (or a federated token file) -> workload identity; a managed identity
    client id -> managed identity; otherwise DefaultAzureCredential (environment, workload, managed, CLI)."""
    env = os.environ if env is None else env
    extra = conn.extra or {}
    origin = f"connection:{conn.conn_id}"
    cloud = _extra(extra, "cloud_environment") or "AzurePublicCloud"
    if cloud not in CLOUD_AUTHORITIES:
        raise CredentialError(
            f"connection {conn.conn_id!r}: cloud_environment {cloud!r} is not one of {sorted(CLOUD_AUTHORITIES)}"
        )
    common = {"origin": origin, "cloud": cloud, "authority_host": _extra(extra, "authority_host")}
    tenant = _extra(extra, "tenantId") or _extra(extra, "tenant_id")
    login = (conn.login or "").strip() or None
    if conn.password and not login:
        raise CredentialError(f"connection {conn.conn_id!r} has a secret but no client id (login)")
    if login and conn.password:
        if not tenant:
            raise CredentialError(f"connection {conn.conn_id!r}: a client secret needs extra 'tenantId'")
        return CredentialSource(
            "client_secret", tenant_id=tenant, client_id=login, client_secret=conn.password, **common
        )
    workload_tenant = _extra(extra, "workload_identity_tenant_id")
    managed_id = _extra(extra, "managed_identity_client_id")
    token_file = _extra(extra, "federated_token_file") or env.get("AZURE_FEDERATED_TOKEN_FILE") or None
    if workload_tenant or (_extra(extra, "federated_token_file") and tenant):
        client = managed_id or login or env.get("AZURE_CLIENT_ID")
        if not client or not token_file:
            raise CredentialError(
                f"connection {conn.conn_id!r}: workload identity needs a client id (managed_identity_client_id or "
                "login) and a federated token file (extra 'federated_token_file' or AZURE_FEDERATED_TOKEN_FILE)"
            )
        return CredentialSource(
            "workload_identity",
            tenant_id=workload_tenant or tenant,
            client_id=client,
            federated_token_file=token_file,
            **common,
        )
    if managed_id or str(extra.get("use_managed_identity", "")).lower() == "true":
        return CredentialSource("managed_identity", client_id=managed_id, tenant_id=tenant, **common)
    return CredentialSource("default", tenant_id=tenant, client_id=login, **common)


def source_from_environment(env: Mapping[str, str] | None = None) -> CredentialSource:
    """What DefaultAzureCredential would pick from this environment, named (so terraform gets the same)."""
    env = os.environ if env is None else env
    tenant, client = env.get("AZURE_TENANT_ID") or None, env.get("AZURE_CLIENT_ID") or None
    common = {"origin": "environment", "authority_host": env.get("AZURE_AUTHORITY_HOST") or None}
    if tenant and client and env.get("AZURE_CLIENT_SECRET"):
        return CredentialSource(
            "client_secret", tenant_id=tenant, client_id=client, client_secret=env["AZURE_CLIENT_SECRET"], **common
        )
    if tenant and client and env.get("AZURE_FEDERATED_TOKEN_FILE"):
        return CredentialSource(
            "workload_identity",
            tenant_id=tenant,
            client_id=client,
            federated_token_file=env["AZURE_FEDERATED_TOKEN_FILE"],
            **common,
        )
    if env.get("IDENTITY_ENDPOINT") or env.get("MSI_ENDPOINT"):
        return CredentialSource("managed_identity", client_id=client, tenant_id=tenant, **common)
    return CredentialSource("default", tenant_id=tenant, client_id=client, **common)


def airflow_connection(conn_id: str) -> ConnectionFields:
    """Read an Airflow connection (env `AIRFLOW_CONN_*`, secrets backend or metadata DB); Airflow is
    imported here only, so the library stays importable without it."""
    try:
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(conn_id)
    except Exception as error:  # AirflowNotFoundException, no DB, ...: name the connection, not the secret
        raise CredentialError(
            f"Azure connection {conn_id!r} (TENANT_REPLICATOR_AZURE_CONN_ID) is not readable: {type(error).__name__}"
        ) from error
    return ConnectionFields(conn_id, conn.conn_type or "azure", conn.login, conn.password, conn.extra_dejson or {})


def resolve_source(
    settings: Settings,
    env: Mapping[str, str] | None = None,
    lookup: Callable[[str], ConnectionFields] = airflow_connection,
) -> CredentialSource:
    """The connection when one is configured (also against the simulator: that proves the path),
    else the simulator's fixed token on loopback, else the environment."""
    if settings.azure_conn_id:
        return source_from_connection(lookup(settings.azure_conn_id), env)
    if settings.simulator_mode:
        return CredentialSource("simulator", origin="simulator")
    return source_from_environment(env)


# -- use: CredentialSource -> azure-identity credential / terraform environment -------------------


def authority_for(source: CredentialSource, settings: Settings) -> str:
    """Entra authority host: the source's, the settings', the simulator itself on loopback, else the cloud's."""
    if source.authority_host:
        return source.authority_host
    if settings.azure_authority_host:
        return settings.azure_authority_host
    if settings.simulator_mode:
        return urlparse(settings.arm_endpoint).netloc
    return CLOUD_AUTHORITIES.get(source.cloud, CLOUD_AUTHORITIES["AzurePublicCloud"])


def arm_scope(settings: Settings) -> str:
    """Token scope for ARM: the endpoint's own audience, the public one for the simulator."""
    return PUBLIC_ARM_SCOPE if settings.simulator_mode else f"{settings.arm_endpoint}/.default"


def _identity_kwargs(source: CredentialSource, settings: Settings) -> dict[str, Any]:
    authority = authority_for(source, settings)
    kwargs: dict[str, Any] = {"authority": authority}
    if authority.split("://")[-1] not in CLOUD_AUTHORITIES.values():
        kwargs["disable_instance_discovery"] = True  # private authority (simulator, Azure Stack): no discovery call
    if settings.simulator_mode and settings.arm_ca_file:
        kwargs["connection_verify"] = settings.arm_ca_file
    return kwargs


def build_credential(source: CredentialSource, settings: Settings) -> Any:
    """The azure-identity TokenCredential for `source` (imported lazily: heavy, unused offline)."""
    if source.kind == "simulator":
        return SimulatorCredential()
    import azure.identity as identity

    kwargs = _identity_kwargs(source, settings)
    if source.kind == "client_secret":
        return identity.ClientSecretCredential(source.tenant_id, source.client_id, source.client_secret, **kwargs)
    if source.kind == "workload_identity":
        return identity.WorkloadIdentityCredential(
            tenant_id=source.tenant_id,
            client_id=source.client_id,
            token_file_path=source.federated_token_file,
            **kwargs,
        )
    if source.kind == "managed_identity":
        return identity.ManagedIdentityCredential(client_id=source.client_id)
    if source.kind == "default":
        options = {"authority": kwargs["authority"]}
        if source.client_id:
            options["managed_identity_client_id"] = source.client_id
        if source.tenant_id:
            options["workload_identity_tenant_id"] = source.tenant_id
        return identity.DefaultAzureCredential(**options)
    raise CredentialError(f"unknown credential kind {source.kind!r} (one of {', '.join(KINDS)})")


def terraform_env_for(
    source: CredentialSource,
    settings: Settings | None = None,
    subscription_id: str | None = None,
    credential_factory: Callable[[CredentialSource, Settings], Any] = build_credential,
) -> dict[str, str]:
    """Environment for terraform, to merge into the operator's `env` (it may hold secrets: never log it;
    `redact_env` for display).

    Against the simulator the stand-in provider reads `TENANT_REPLICATOR_ARM_*`; a non-simulator source
    there is exchanged for a token now (so the simulator sees the connection's principal). For Azure the
    real azapi provider (v2) reads `ARM_*`: client secret, OIDC token file (workload identity), MSI, or
    MSI + Azure CLI for the default chain. `ARM_USE_CLI=false` keeps a developer's `az login` out of it.
    """
    if settings is not None and settings.simulator_mode:
        env = {"TENANT_REPLICATOR_ARM_ENDPOINT": settings.arm_endpoint}
        if settings.arm_ca_file:
            env["TENANT_REPLICATOR_ARM_CA_FILE"] = settings.arm_ca_file
        if source.kind != "simulator":
            token = credential_factory(source, settings).get_token(arm_scope(settings))
            env["TENANT_REPLICATOR_ARM_TOKEN"] = token.token
        return env
    env = {"ARM_ENVIRONMENT": TERRAFORM_ENVIRONMENTS.get(source.cloud, "public")}
    if subscription_id:
        env["ARM_SUBSCRIPTION_ID"] = subscription_id
    if source.tenant_id:
        env["ARM_TENANT_ID"] = source.tenant_id
    if source.client_id:
        env["ARM_CLIENT_ID"] = source.client_id
    if source.kind == "client_secret":
        env |= {"ARM_CLIENT_SECRET": source.client_secret or "", "ARM_USE_CLI": "false"}
    elif source.kind == "workload_identity":
        token_file = source.federated_token_file or ""
        env |= {"ARM_USE_OIDC": "true", "ARM_OIDC_TOKEN_FILE_PATH": token_file, "ARM_USE_CLI": "false"}
    elif source.kind == "managed_identity":
        env |= {"ARM_USE_MSI": "true", "ARM_USE_CLI": "false"}
    elif source.kind == "default":
        env |= {"ARM_USE_MSI": "true", "ARM_USE_CLI": "true"}
    else:
        raise CredentialError(f"credential kind {source.kind!r} cannot authenticate terraform against Azure")
    return env


def redact_env(env: Mapping[str, str]) -> dict[str, str]:
    """`env` with secret values replaced: the only form of a terraform environment fit for a log line."""
    return {k: ("***" if k in SECRET_ENV_KEYS and v else v) for k, v in env.items()}
