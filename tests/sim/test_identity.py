"""azure-identity's ClientSecretCredential against the simulator's token endpoint, then ARM with it."""

from __future__ import annotations

import base64
import json

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientSecretCredential
from azure.mgmt.resource.resources import ResourceManagementClient

from tenant_replicator.sim.seed import SOURCE_SUBSCRIPTION_ID, TENANT_ID

SCOPE = "https://management.azure.com/.default"


def _credential(sim, tenant: str = TENANT_ID, secret: str = "s3cret-value") -> ClientSecretCredential:
    return ClientSecretCredential(
        tenant,
        "11111111-2222-3333-4444-555555555555",
        secret,
        authority=sim.endpoint.removeprefix("https://"),
        disable_instance_discovery=True,
        connection_verify=sim.ca_file,
    )


def test_client_secret_credential_gets_a_token_and_arm_accepts_it(sim) -> None:
    token = _credential(sim).get_token(SCOPE)
    claims = json.loads(base64.urlsafe_b64decode(token.token.split(".")[1] + "=="))
    assert claims["tid"] == TENANT_ID and claims["aud"] == "https://management.azure.com/"
    assert claims["appid"] == "11111111-2222-3333-4444-555555555555" and token.expires_on > claims["iat"]
    client = ResourceManagementClient(
        _credential(sim), SOURCE_SUBSCRIPTION_ID, base_url=sim.endpoint, connection_verify=sim.ca_file
    )
    assert "rg-app-prod" in {g.name for g in client.resource_groups.list()}
    # The token never reaches the log.
    assert token.token not in (sim.workdir / "sim.log").read_text()


def test_openid_metadata_and_token_errors(sim) -> None:
    meta = requests.get(
        f"{sim.endpoint}/{TENANT_ID}/v2.0/.well-known/openid-configuration", verify=sim.ca_file, timeout=10
    ).json()
    assert meta["token_endpoint"] == f"{sim.endpoint}/{TENANT_ID}/oauth2/v2.0/token"
    assert meta["issuer"].endswith(f"/{TENANT_ID}/v2.0")
    unknown = requests.post(
        f"{sim.endpoint}/00000000-0000-0000-0000-00000000dead/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "client_id": "x", "client_secret": "y", "scope": SCOPE},
        verify=sim.ca_file,
        timeout=10,
    )
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_tenant"
    no_secret = requests.post(
        meta["token_endpoint"],
        data={"grant_type": "client_credentials", "client_id": "x", "scope": SCOPE},
        verify=sim.ca_file,
        timeout=10,
    )
    assert no_secret.status_code == 401 and no_secret.json()["error"] == "invalid_client"
    with pytest.raises(ClientAuthenticationError):
        _credential(sim, tenant="00000000-0000-0000-0000-00000000dead").get_token(SCOPE)
    # ARM without any token: 401 with WWW-Authenticate, like Azure.
    bare = requests.get(
        f"{sim.endpoint}/subscriptions/{SOURCE_SUBSCRIPTION_ID}/resourcegroups",
        params={"api-version": "2024-03-01"},
        verify=sim.ca_file,
        timeout=10,
    )
    assert bare.status_code == 401 and "WWW-Authenticate" in bare.headers
