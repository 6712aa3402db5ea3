"""Get, through ARM: paged listings and one GET per resource at its type's newest stable api-version.

Raw requests through the SDK's pipeline (`client.send_request`): the pipeline keeps auth, retries
(408/429/5xx, honouring Retry-After) and our pacing, while the body stays exactly what ARM sent
(the SDK's models drop fields they do not know) and costs no model deserialisation.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

LIST_API_VERSION = "2021-04-01"
DEFAULT_WORKERS = 8
Progress = Callable[[dict[str, Any]], None]


class ArmCallError(RuntimeError):
    """An ARM call answered with an error; `status`/`code` as ARM sent them."""

    def __init__(self, status: int, code: str, message: str, what: str) -> None:
        super().__init__(f"{what}: {status} {code}: {message}")
        self.status, self.code, self.message, self.what = status, code, message, what


def newest_api_version(versions: Iterable[str]) -> str | None:
    """Newest stable version (`2024-05-01`), else newest preview; ARM versions sort as text by date."""
    versions = [v for v in versions if v]
    stable = sorted((v for v in versions if len(v) == 10), reverse=True)
    if stable:
        return stable[0]
    return max(versions, default=None)


def error_text(exc: BaseException) -> str:
    """A short, secret-free description of a failed call (ARM error code + message when present)."""
    if isinstance(exc, ArmCallError):
        return f"{exc.status} {exc.code}: {exc.message}"
    status = getattr(exc, "status_code", None)
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None)
    lines = str(exc).strip().splitlines()
    message = getattr(error, "message", None) or (lines[0] if lines else type(exc).__name__)
    parts = [str(p) for p in (status, code) if p]
    return f"{' '.join(parts)}: {message}" if parts else f"{type(exc).__name__}: {message}"


def _arm_error(response: Any, what: str) -> ArmCallError:
    code, message = "", ""
    try:
        error = (response.json() or {}).get("error") or {}
        code, message = str(error.get("code") or ""), str(error.get("message") or "")
    except (ValueError, AttributeError):
        message = (response.text() or "")[:200]
    return ArmCallError(response.status_code, code or response.reason or "Error", message or "no message", what)


def get_json(client: Any, url: str, what: str) -> dict[str, Any]:
    """GET `url` (relative to the endpoint, or a nextLink) -> JSON object; ArmCallError otherwise."""
    from azure.core.rest import HttpRequest

    response = client.send_request(HttpRequest("GET", url))
    if response.status_code != 200:
        raise _arm_error(response, what)
    try:
        body = json.loads(response.content)
    except ValueError as exc:
        raise ArmCallError(200, "MalformedJson", f"response is not JSON ({exc})", what) from exc
    if not isinstance(body, dict):
        raise ArmCallError(200, "MalformedJson", f"expected a JSON object, got {type(body).__name__}", what)
    return body


def list_all(client: Any, url: str, what: str) -> list[dict[str, Any]]:
    """Every item of an ARM collection, following `nextLink`."""
    items: list[dict[str, Any]] = []
    next_url: str | None = url
    while next_url:
        page = get_json(client, next_url, what)
        values = page.get("value", [])
        # a page that is not a list of objects would otherwise read as "no resources": a complete, empty scan
        if not isinstance(values, list) or not all(isinstance(v, dict) for v in values):
            raise ArmCallError(200, "MalformedListing", f"'value' is not a list of objects ({next_url[:200]})", what)
        items.extend(values)
        next_url = page.get("nextLink")
    return items


def describe_listing_error(exc: BaseException, subscription_id: str) -> str:
    """What a failed listing means for the user, naming the subscription."""
    status = getattr(exc, "status", None) or getattr(exc, "status_code", None)
    if status == 404:
        return f"subscription {subscription_id} not found (404 {getattr(exc, 'code', '')}): check the ID and tenant"
    if status == 403:
        return (
            f"no permission to read subscription {subscription_id} (403 {getattr(exc, 'code', '')}): "
            "grant the scanning identity Reader on it"
        )
    if status == 401:
        return f"not authenticated for subscription {subscription_id} (401): check the credential"
    return f"listing subscription {subscription_id} failed: {error_text(exc)}"


def list_inventory(
    client: Any, subscription_id: str, page_size: int | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Resource groups and top-level resources of a subscription (raw JSON, every page)."""
    sub = quote(subscription_id)
    top = f"&$top={page_size}" if page_size else ""
    groups = list_all(
        client, f"/subscriptions/{sub}/resourcegroups?api-version={LIST_API_VERSION}{top}", "list resource groups"
    )
    resources = list_all(
        client, f"/subscriptions/{sub}/resources?api-version={LIST_API_VERSION}{top}", "list resources"
    )
    return groups, resources


class ApiVersions:
    """Resolves the api-version per resource type from the providers API, cached per scan.

    Thread-safe: workers share one instance; a namespace is fetched once.
    """

    def __init__(self, client: Any, subscription_id: str | None = None) -> None:
        self._client = client
        self._sub = subscription_id
        self._lock = threading.Lock()
        self._by_namespace: dict[str, dict[str, list[str]] | Exception] = {}
        self._casing: dict[str, str] = {}

    def _fetch(self, namespace: str) -> dict[str, list[str]]:
        if self._sub is None:  # an SDK client (tests pass fakes with `providers.get`)
            provider = self._client.providers.get(namespace)
            found = [(getattr(provider, "namespace", None) or namespace, rt.resource_type or "", rt.api_versions)
                     for rt in provider.resource_types or []]  # fmt: skip
        else:
            url = f"/subscriptions/{quote(self._sub)}/providers/{quote(namespace)}?api-version={LIST_API_VERSION}"
            doc = get_json(self._client, url, f"provider {namespace}")
            found = [(str(doc.get("namespace") or namespace), str(rt.get("resourceType") or ""), rt.get("apiVersions"))
                     for rt in doc.get("resourceTypes") or []]  # fmt: skip
        types = {}
        for ns, rt, versions in found:
            full = f"{ns}/{rt}"
            self._casing[full.lower()] = full
            types[rt.lower()] = list(versions or [])
        return types

    def canonical_type(self, arm_type: str) -> str:
        """ARM's casing of a type (Resource Graph lower-cases types), from the providers API."""
        self._types(arm_type.partition("/")[0])
        return self._casing.get(arm_type.lower(), arm_type)

    def _types(self, namespace: str) -> dict[str, list[str]]:
        key = namespace.lower()
        with self._lock:
            if key not in self._by_namespace:
                try:
                    self._by_namespace[key] = self._fetch(namespace)
                except Exception as exc:  # remembered: every resource of the namespace reports it
                    self._by_namespace[key] = exc
            cached = self._by_namespace[key]
        if isinstance(cached, Exception):
            raise cached
        return cached

    def for_type(self, arm_type: str) -> str:
        namespace, _, rest = arm_type.partition("/")
        version = newest_api_version(self._types(namespace).get(rest.lower(), []))
        if not version:
            raise LookupError(f"provider {namespace} lists no api-version for {arm_type}")
        return version


def fetch_resource(client: Any, versions: ApiVersions, summary: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Full GET body of one resource with the newest api-version of its type; checks the body is one."""
    resource_id = str(summary["id"])
    api_version = versions.for_type(str(summary.get("type") or ""))
    body = get_json(client, f"{quote(resource_id, safe='/')}?api-version={api_version}", "get")
    if not isinstance(body.get("id"), str) or not body["id"].strip():
        raise ArmCallError(200, "MalformedResource", "body has no `id`", "get")
    return body, api_version


class ProgressMeter:
    """Counts work done and reports `{phase, done, total, rate_per_s, ...}` at most every `every_s`."""

    def __init__(self, phase: str, total: int, report: Progress | None, every_s: float = 5.0,
                 extra: Callable[[], dict[str, Any]] | None = None) -> None:  # fmt: skip
        self.phase, self.total, self.report, self.every_s, self.extra = phase, total, report, every_s, extra
        self.done = 0
        self._started = self._last = time.monotonic()
        self._lock = threading.Lock()

    def snapshot(self) -> dict[str, Any]:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        event = {"phase": self.phase, "done": self.done, "total": self.total,
                 "rate_per_s": round(self.done / elapsed, 1), "elapsed_s": round(elapsed, 1)}  # fmt: skip
        return event | (self.extra() if self.extra else {})

    def step(self, n: int = 1) -> None:
        with self._lock:
            self.done += n
            now = time.monotonic()
            due = now - self._last >= self.every_s or self.done == self.total
            if due:
                self._last = now
        if due and self.report:
            self.report(self.snapshot())


def fetch_resources(
    client: Any,
    summaries: Sequence[dict[str, Any]],
    max_workers: int = DEFAULT_WORKERS,
    *,
    subscription_id: str | None = None,
    meter: ProgressMeter | None = None,
) -> tuple[list[tuple[dict[str, Any], str]], list[dict[str, str]], list[str]]:
    """GET every resource with bounded concurrency -> (fetched, errors, vanished); never raises.

    Transient failures are retried inside the client's pipeline before they land in `errors` as
    `{id, error}`. A 404 ResourceNotFound means the resource was deleted between list and GET: it is
    `vanished`, not an error, so the scan stays complete and the cleanup removes its node.
    """
    versions = ApiVersions(client, subscription_id)

    def one(summary: dict[str, Any]) -> tuple[dict[str, Any], str] | dict[str, str]:
        try:
            return fetch_resource(client, versions, summary)
        except ArmCallError as exc:
            if exc.status == 404 and exc.code in {"ResourceNotFound", "NotFound"}:
                return {"id": str(summary.get("id", "?")), "vanished": "yes"}
            return {"id": str(summary.get("id", "?")), "error": error_text(exc)}
        except Exception as exc:
            return {"id": str(summary.get("id", "?")), "error": error_text(exc)}
        finally:
            if meter is not None:
                meter.step()

    fetched: list[tuple[dict[str, Any], str]] = []
    errors: list[dict[str, str]] = []
    vanished: list[str] = []
    with ThreadPoolExecutor(max_workers=max(1, max_workers), thread_name_prefix="arm-get") as pool:
        for outcome in pool.map(one, summaries):
            if isinstance(outcome, tuple):
                fetched.append(outcome)
            elif "vanished" in outcome:
                vanished.append(outcome["id"])
            else:
                errors.append(outcome)
    return fetched, errors, vanished
