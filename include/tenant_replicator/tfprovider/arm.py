"""The stand-in provider's tiny ARM client: PUT/GET/DELETE with retries and long-running polls.

Kept apart from ``tenant_replicator.arm`` on purpose: the provider runs as terraform's child
process with only its environment to go on, and must not pull in the azure SDK to start fast.
The bearer token is never logged or put into an error message.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import requests

DEFAULT_ENDPOINT = "https://management.azure.com"
SIMULATOR_TOKEN = "simulator"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
TERMINAL_OK = "succeeded"
TERMINAL_FAILED = frozenset({"failed", "canceled", "cancelled"})
IN_PROGRESS_STATES = frozenset(
    {"accepted", "creating", "updating", "deleting", "provisioning", "inprogress", "running", "migrating"}
)


class ArmError(Exception):
    """An ARM request failed; ``code`` and ``message`` come from the ARM error body."""

    def __init__(self, method: str, resource_id: str, status: int, code: str, message: str):
        self.method, self.resource_id, self.status, self.code, self.message = (
            method,
            resource_id,
            status,
            code,
            message,
        )
        super().__init__(f"ARM {method} {resource_id} failed: {status} {code}: {message}")


@dataclass(frozen=True)
class ArmConfig:
    endpoint: str
    verify: str | bool
    token: str = field(repr=False)
    # like the scanner (iteration.SCAN_RETRY_STATUS): 4 lost an apply in 1 of 4 iterations under a 30 % 429 storm
    max_retries: int = 10
    max_retry_after: float = 30.0
    operation_timeout: float = 1800.0
    request_timeout: float = 60.0


def config_from_env(env: dict[str, str] | None = None) -> ArmConfig:
    """Read the endpoint, CA file and token the way the rest of the project sets them."""
    env = dict(os.environ if env is None else env)
    endpoint = env.get("TENANT_REPLICATOR_ARM_ENDPOINT", DEFAULT_ENDPOINT).rstrip("/")
    ca_file = env.get("TENANT_REPLICATOR_ARM_CA_FILE") or None
    return ArmConfig(
        endpoint=endpoint,
        verify=ca_file if ca_file else True,
        token=env.get("TENANT_REPLICATOR_ARM_TOKEN") or SIMULATOR_TOKEN,
        operation_timeout=float(env.get("TENANT_REPLICATOR_TF_OPERATION_TIMEOUT", "1800")),
    )


def retry_after_seconds(headers: Any, attempt: int, cap: float) -> float:
    """Honour ``Retry-After`` (seconds) when given, else back off exponentially."""
    raw = headers.get("Retry-After") if headers is not None else None
    try:
        wait = float(raw) if raw is not None else 0.5 * (2**attempt)
    except ValueError:
        wait = 0.5 * (2**attempt)
    return max(0.0, min(wait, cap))


def parse_error(status: int, text: str) -> tuple[str, str]:
    """(code, message) from an ARM error body; tolerant of non-JSON bodies."""
    try:
        body = json.loads(text) if text else {}
    except ValueError:
        return f"HTTP{status}", text[:500]
    err = body.get("error", body) if isinstance(body, dict) else {}
    if not isinstance(err, dict):
        return f"HTTP{status}", str(err)[:500]
    code = str(err.get("code") or f"HTTP{status}")
    message = str(err.get("message") or "")
    details = err.get("details")
    if isinstance(details, list) and details:
        inner = "; ".join(f"{d.get('code')}: {d.get('message')}" for d in details if isinstance(d, dict))
        message = f"{message} ({inner})" if inner else message
    return code, message


class ArmClient:
    """Thread-safe: terraform applies in parallel, and each gRPC worker thread gets its own session."""

    def __init__(self, config: ArmConfig):
        self.config = config
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.verify = self.config.verify
            session.headers["Authorization"] = f"Bearer {self.config.token}"
            session.headers["User-Agent"] = "tenant-replicator-azapi-standin"
            self._local.session = session
        return session

    def _url(self, path_or_url: str) -> str:
        return path_or_url if urlparse(path_or_url).scheme else self.config.endpoint + path_or_url

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        api_version: str | None = None,
        body: Any = None,
        extra_headers: dict[str, str] | None = None,
        query: dict[str, list[str]] | None = None,
    ) -> requests.Response:
        """One ARM call; 429/5xx and connection errors are retried, honouring Retry-After."""
        params: dict[str, Any] | None = {**(query or {})} or None
        if api_version:
            params = {**(params or {}), "api-version": api_version}
        data = json.dumps(body) if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else None
        if extra_headers:
            headers = {**(headers or {}), **extra_headers}
        attempt = 0
        while True:
            try:
                resp = self._session().request(
                    method,
                    self._url(path_or_url),
                    params=params,
                    data=data,
                    headers=headers,
                    timeout=self.config.request_timeout,
                    verify=self.config.verify,  # explicit: REQUESTS_CA_BUNDLE must not override it
                )
            except requests.ConnectionError as exc:
                if isinstance(exc, requests.exceptions.SSLError) or attempt >= self.config.max_retries:
                    raise
                time.sleep(retry_after_seconds(None, attempt, self.config.max_retry_after))
                attempt += 1
                continue
            if resp.status_code not in RETRY_STATUSES or attempt >= self.config.max_retries:
                return resp
            time.sleep(retry_after_seconds(resp.headers, attempt, self.config.max_retry_after))
            attempt += 1

    def _raise_for(self, method: str, resource_id: str, resp: requests.Response) -> None:
        code, message = parse_error(resp.status_code, resp.text)
        raise ArmError(method, resource_id, resp.status_code, code, message)

    def get(
        self,
        resource_id: str,
        api_version: str,
        headers: dict[str, str] | None = None,
        query: dict[str, list[str]] | None = None,
    ) -> dict | None:
        """GET a resource; ``None`` when ARM says it does not exist (404)."""
        resp = self.request("GET", resource_id, api_version=api_version, extra_headers=headers, query=query)
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            self._raise_for("GET", resource_id, resp)
        return resp.json()

    def put(self, resource_id: str, api_version: str, body: dict) -> dict:
        """PUT and wait for the long-running operation; returns the resource as a GET shows it."""
        resp = self.request("PUT", resource_id, api_version=api_version, body=body)
        if resp.status_code not in (200, 201, 202):
            self._raise_for("PUT", resource_id, resp)
        self._wait(resp, "PUT", resource_id)
        result = self._wait_provisioned(resource_id, api_version)
        if result is None:
            raise ArmError("PUT", resource_id, 404, "ResourceNotFound", "missing after a successful PUT")
        return result

    def delete(self, resource_id: str, api_version: str) -> None:
        """DELETE and wait; a resource that is already gone counts as deleted."""
        resp = self.request("DELETE", resource_id, api_version=api_version)
        if resp.status_code == 404:
            return
        if resp.status_code not in (200, 202, 204):
            self._raise_for("DELETE", resource_id, resp)
        self._wait(resp, "DELETE", resource_id)

    def latest_api_version(self, resource_id: str, resource_type: str) -> str:
        """Newest stable api-version ARM lists for a type (azapi falls back to its newest known one)."""
        segs = [s for s in resource_id.split("/") if s]
        if len(segs) < 2 or segs[0].lower() != "subscriptions":
            raise ArmError(
                "GET",
                resource_id,
                400,
                "ApiVersionRequired",
                "give the api-version: <id>?api-version=<version>",
            )
        namespace, _, type_path = resource_type.partition("/")
        path = f"/subscriptions/{segs[1]}/providers/{namespace}"
        resp = self.request("GET", path, api_version="2021-04-01")
        if resp.status_code != 200:
            self._raise_for("GET", path, resp)
        for entry in resp.json().get("resourceTypes", []):
            if str(entry.get("resourceType", "")).lower() == type_path.lower():
                versions = sorted(entry.get("apiVersions") or [], reverse=True)
                stable = [v for v in versions if "preview" not in v.lower()]
                if stable or versions:
                    return (stable or versions)[0]
        raise ArmError("GET", path, 404, "NoRegisteredProviderFound", f"no api-version listed for {resource_type}")

    def _wait(self, resp: requests.Response, method: str, resource_id: str) -> None:
        """Follow Azure-AsyncOperation (status document) or Location (202 until done) headers."""
        if resp.status_code not in (201, 202):
            return
        async_url = resp.headers.get("Azure-AsyncOperation")
        location = resp.headers.get("Location")
        if not async_url and not location:
            return
        deadline = time.monotonic() + self.config.operation_timeout
        last = resp
        while time.monotonic() < deadline:
            time.sleep(retry_after_seconds(last.headers, 0, self.config.max_retry_after))
            if async_url:
                last = self.request("GET", async_url)
                if last.status_code != 200:
                    self._raise_for(method, resource_id, last)
                doc = last.json() if last.text else {}
                status = str(doc.get("status", "")).lower()
                if status == TERMINAL_OK:
                    return
                if status in TERMINAL_FAILED:
                    err = doc.get("error") or {}
                    raise ArmError(
                        method,
                        resource_id,
                        last.status_code,
                        str(err.get("code") or f"Operation{status.capitalize()}"),
                        str(err.get("message") or f"long-running operation ended {status}"),
                    )
            else:
                last = self.request("GET", location)
                if last.status_code == 202:
                    continue
                if last.status_code in (200, 201, 204) or (method == "DELETE" and last.status_code == 404):
                    return
                self._raise_for(method, resource_id, last)
        raise ArmError(method, resource_id, 408, "OperationTimedOut", "long-running operation did not finish")

    def _wait_provisioned(self, resource_id: str, api_version: str) -> dict | None:
        """Some resource providers answer 200/201 while still provisioning: poll GET until terminal."""
        deadline = time.monotonic() + self.config.operation_timeout
        delay = 0.2
        while True:
            current = self.get(resource_id, api_version)
            state = str(((current or {}).get("properties") or {}).get("provisioningState", "")).lower()
            if current is None or state not in IN_PROGRESS_STATES:
                if state in TERMINAL_FAILED:
                    raise ArmError("PUT", resource_id, 200, "ProvisioningFailed", f"provisioningState is {state}")
                return current
            if time.monotonic() > deadline:
                raise ArmError("PUT", resource_id, 408, "OperationTimedOut", f"still {state}")
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
