"""A Microsoft Entra ID stand-in: OpenID metadata and the client-credentials token endpoint.

Enough for `azure-identity`'s `ClientSecretCredential(tenant, client_id, secret,
authority=<sim host>, disable_instance_discovery=True)`: MSAL reads
`/{tenant}/v2.0/.well-known/openid-configuration`, then posts the client-credentials form to the
`token_endpoint` it names. Tokens are JWT-shaped (unsigned: nothing here is a security boundary)
and are never logged. Unknown tenants fail like Entra ID (AADSTS90002).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from urllib.parse import parse_qs

from tenant_replicator.sim import model
from tenant_replicator.sim.paths import split_path
from tenant_replicator.sim.wire import Request, Response

TOKEN_LIFETIME_S = 3599
ARM_AUDIENCE = "https://management.azure.com/"


def route(path: str) -> tuple[str, str] | None:
    """("openid"|"token"|"discovery", tenant) for identity paths, else None."""
    seg = [s.lower() for s in split_path(path)]
    if seg[1:] == ["v2.0", ".well-known", "openid-configuration"] and len(seg) == 4:
        return "openid", seg[0]
    if len(seg) == 4 and seg[1:] == ["oauth2", "v2.0", "token"]:
        return "token", seg[0]
    if seg == ["common", "discovery", "instance"]:
        return "discovery", "common"
    return None


def known_tenants(state: dict) -> set[str]:
    tenants = {str(d["tenantId"]).lower() for d in state["subscriptions"].values()}
    return tenants | {str(p["tenantId"]).lower() for p in state.get("principals", {}).values()}


def handle(state: dict, kind: str, tenant: str, req: Request) -> Response:
    if kind == "discovery":
        return Response(
            200,
            {
                "tenant_discovery_endpoint": f"{req.base_url}/{tenant}/v2.0/.well-known/openid-configuration",
                "api-version": "1.1",
                "metadata": [],
            },
        )
    if tenant not in known_tenants(state) and tenant not in ("common", "organizations"):
        return _error(
            400,
            "invalid_tenant",
            f"AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID.",
            90002,
        )
    if kind == "openid":
        return Response(200, openid_configuration(req.base_url, tenant))
    if req.method != "POST":
        return _error(405, "invalid_request", "AADSTS900561: The endpoint only accepts POST requests.", 900561)
    return _token(state, tenant, req)


def openid_configuration(base_url: str, tenant: str) -> dict:
    return {
        "token_endpoint": f"{base_url}/{tenant}/oauth2/v2.0/token",
        "authorization_endpoint": f"{base_url}/{tenant}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base_url}/{tenant}/oauth2/v2.0/devicecode",
        "issuer": f"{base_url}/{tenant}/v2.0",
        "jwks_uri": f"{base_url}/{tenant}/discovery/v2.0/keys",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
    }


def _token(state: dict, tenant: str, req: Request) -> Response:
    form = {k: v[0] for k, v in parse_qs(req.body.decode("utf-8", "replace")).items()}
    if form.get("grant_type") != "client_credentials":
        return _error(400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type.", 70003)
    client_id = form.get("client_id", "")
    has_secret = bool(form.get("client_secret") or form.get("client_assertion"))
    if not client_id or not has_secret:
        return _error(
            401,
            "invalid_client",
            "AADSTS7000216: 'client_assertion', 'client_secret' or 'request' is required for the "
            "'client_credentials' grant type.",
            7000216,
        )
    scope = form.get("scope", "")
    if not scope.endswith("/.default"):
        return _error(
            400, "invalid_scope", f"AADSTS1002012: The provided value for scope {scope} is not valid.", 1002012
        )
    now = int(time.time())
    claims = {
        "aud": scope[: -len(".default")] or ARM_AUDIENCE,
        "iss": f"https://sts.windows.net/{tenant}/",
        "iat": now,
        "nbf": now,
        "exp": now + TOKEN_LIFETIME_S,
        "appid": client_id,
        "oid": model.stable_uuid(tenant, "sp", client_id),
        "tid": tenant,
        "idtyp": "app",
        "uti": uuid.uuid4().hex,
    }
    return Response(
        200,
        {
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME_S,
            "ext_expires_in": TOKEN_LIFETIME_S,
            "access_token": _jwt(claims),
        },
        {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"},
    )


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def _jwt(claims: dict) -> str:
    return f"{_b64({'typ': 'JWT', 'alg': 'none'})}.{_b64(claims)}.{uuid.uuid4().hex}"


def _error(status: int, error: str, description: str, code: int) -> Response:
    return Response(
        status,
        {
            "error": error,
            "error_description": description,
            "error_codes": [code],
            "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
            "trace_id": str(uuid.uuid4()),
            "correlation_id": str(uuid.uuid4()),
        },
    )
