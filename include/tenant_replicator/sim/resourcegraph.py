"""Azure Resource Graph: `POST /providers/Microsoft.ResourceGraph/resources`, the KQL a scanner needs.

Supported (anything else is 400 `BadRequest` naming the unsupported part):

    Resources | where subscriptionId in~ ('a', 'b') | where type =~ 'microsoft.network/virtualnetworks'
              | project id, name, type | order by id asc | take 10
    ResourceContainers | where type =~ 'microsoft.resources/subscriptions/resourcegroups'

`where` takes `==`, `=~`, `!=`, `!~`, `in`, `in~`, `!in~` on string columns, joined with `and`.
Like ARG: types are lower-case, secrets are scrubbed, pages hold up to 1,000 rows with an opaque
`$skipToken`, and queries are throttled per user (15 per 5 s window) with the
`x-ms-user-quota-remaining` / `x-ms-user-quota-resets-after` headers. The view it answers from may
lag ARM writes (see `Store.graph_view`).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import math
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from tenant_replicator.sim import model
from tenant_replicator.sim.wire import ArmError, Request, Response

API_VERSIONS = ("2024-04-01", "2022-10-01", "2021-06-01-preview", "2021-03-01", "2020-04-01-preview", "2019-04-01")
DEFAULT_TOP = 100
MAX_TOP = 1000
RG_TYPE = "microsoft.resources/subscriptions/resourcegroups"
# the scalar columns a `where` can test, then the structured ones
STRING_COLUMNS = ("id", "name", "type", "tenantId", "kind", "location", "resourceGroup", "subscriptionId", "managedBy")
COLUMNS = (*STRING_COLUMNS, "sku", "plan", "properties", "tags", "identity", "zones", "extendedLocation")
SECRET_KEYS = frozenset(
    {
        "adminpassword",
        "administratorloginpassword",
        "password",
        "secret",
        "clientsecret",
        "connectionstring",
        "connectionstrings",
        "primarykey",
        "secondarykey",
        "accountkey",
        "storageaccountkey",
        "sastoken",
        "customdata",
        "protectedsettings",
    }
)
_STRING = r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\""


# --- KQL subset ----------------------------------------------------------------------------------


def _bad_query(detail: str) -> ArmError:
    return ArmError(
        400,
        "BadRequest",
        "Please provide below info when asking for support: timestamp = "
        f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime())}, correlationId = sim. Query is invalid. "
        f"Please refer to the documentation for the Azure Resource Graph service and fix the query before "
        f"retrying. {detail}",
    )


def _strings(text: str) -> list[str]:
    return [a or b for a, b in re.findall(_STRING, text)]


def _condition(clause: str) -> Callable[[dict], bool]:
    match = re.fullmatch(r"\s*(\w+)\s*(==|=~|!=|!~|!in~|in~|!in|in)\s*(.+?)\s*", clause, re.DOTALL)
    if not match:
        raise _bad_query(f"Unsupported where clause '{clause.strip()}'.")
    column, op, raw = match.groups()
    if column not in STRING_COLUMNS:
        raise _bad_query(f"Column '{column}' is not supported in where clauses (use {', '.join(STRING_COLUMNS)}).")
    if op.lstrip("!").startswith("in"):
        if not re.fullmatch(r"\(\s*(?:(?:" + _STRING + r")\s*,?\s*)*\)", raw):
            raise _bad_query(f"Expected a list of string literals after '{op}': '{raw}'.")
        values = _strings(raw)
    else:
        if not re.fullmatch(_STRING, raw):
            raise _bad_query(f"Expected a string literal after '{op}': '{raw}'.")
        values = _strings(raw)
    fold = "~" in op
    wanted = {v.lower() if fold else v for v in values}
    negate = op.startswith("!")

    def check(row: dict) -> bool:
        value = row.get(column)
        text = "" if value is None else str(value)
        hit = (text.lower() if fold else text) in wanted
        return hit != negate

    return check


def parse_query(query: str) -> dict[str, Any]:
    """The query as a plan: table, filters, projection, ordering, limit."""
    stages = [s.strip() for s in query.strip().split("|")]
    table = stages[0]
    if table.lower() not in ("resources", "resourcecontainers"):
        raise _bad_query(f"Table '{table}' is not supported; use Resources or ResourceContainers.")
    plan: dict[str, Any] = {"table": table.lower(), "where": [], "project": None, "order": None, "take": None}
    for stage in stages[1:]:
        word, _, rest = stage.partition(" ")
        word = word.lower()
        if word == "where":
            plan["where"] += [_condition(c) for c in re.split(r"\s+and\s+", rest, flags=re.IGNORECASE)]
        elif word == "project":
            columns = [c.strip() for c in rest.split(",") if c.strip()]
            unknown = [c for c in columns if c not in COLUMNS]
            if unknown or not columns:
                raise _bad_query(f"Unsupported projection {unknown or rest!r}.")
            plan["project"] = columns
        elif word in ("order", "sort"):
            match = re.fullmatch(r"by\s+(\w+)(?:\s+(asc|desc))?", rest.strip(), re.IGNORECASE)
            if not match or match.group(1) not in COLUMNS:
                raise _bad_query(f"Unsupported ordering '{stage}'.")
            plan["order"] = (match.group(1), (match.group(2) or "desc").lower() == "desc")
        elif word in ("take", "limit"):
            if not rest.strip().isdigit():
                raise _bad_query(f"'{word}' needs a number.")
            plan["take"] = int(rest)
        else:
            raise _bad_query(f"Operator '{word}' is not supported by the simulator.")
    return plan


# --- rows ----------------------------------------------------------------------------------------


def scrub(value: Any) -> Any:
    """Drop secret-looking properties, as ARG never returns secrets."""
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items() if str(k).lower() not in SECRET_KEYS}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def resource_row(body: dict, tenant_id: str) -> dict:
    """Every column of a resource's ARG row: the scalar ones, then copies of the structured ones."""
    row = _light_row(body, tenant_id)
    row.update(
        sku=copy.deepcopy(body.get("sku")),
        plan=copy.deepcopy(body.get("plan")),
        properties=scrub(body.get("properties") or {}),
        tags=copy.deepcopy(body.get("tags")),
        identity=copy.deepcopy(body.get("identity")),
        zones=copy.deepcopy(body.get("zones")),
        extendedLocation=copy.deepcopy(body.get("extendedLocation")),
    )
    return row


def container_row(body: dict, tenant_id: str) -> dict:
    parts = body["id"].split("/")
    return {
        "id": body["id"],
        "name": body["name"],
        "type": RG_TYPE,
        "tenantId": tenant_id,
        "kind": "",
        "location": body.get("location", ""),
        "resourceGroup": body["name"].lower(),
        "subscriptionId": parts[2],
        "managedBy": body.get("managedBy") or "",
        "sku": None,
        "plan": None,
        "properties": copy.deepcopy(body.get("properties") or {}),
        "tags": copy.deepcopy(body.get("tags")),
        "identity": None,
        "zones": None,
        "extendedLocation": None,
    }


def _light_row(body: dict, tenant_id: str) -> dict:
    """The scalar columns only: enough to filter and order without copying every body."""
    parts = body["id"].split("/")
    return {
        "id": body["id"],
        "name": body.get("name"),
        "type": str(body.get("type", "")).lower(),
        "tenantId": tenant_id,
        "kind": body.get("kind") or "",
        "location": body.get("location") or "",
        "resourceGroup": parts[4].lower() if len(parts) > 4 else "",
        "subscriptionId": parts[2],
        "managedBy": body.get("managedBy") or "",
    }


def matching_rows(view: dict, subscriptions: set[str], plan: dict) -> list[tuple[str, str]]:
    """(key, tenant id) of every matching row, filtered and ordered, before paging."""
    tenants = {s: d["tenantId"] for s, d in view["subscriptions"].items()}
    containers = plan["table"] == "resourcecontainers"
    table = view["resourceGroups"] if containers else view["resources"]
    out: list[tuple[str, dict]] = []
    for key, record in sorted(table.items()):
        sub = key.split("/")[2]
        if sub not in subscriptions or (not containers and not model.is_top_level(key)):
            continue
        row = _light_row(record["body"], tenants.get(sub, ""))
        if containers:
            row.update(type=RG_TYPE, resourceGroup=record["body"]["name"].lower())
        if all(check(row) for check in plan["where"]):
            out.append((key, row))
    if plan["order"]:
        column, descending = plan["order"]
        out.sort(key=lambda kr: str(kr[1].get(column) or "").lower(), reverse=descending)
    if plan["take"] is not None:
        out = out[: plan["take"]]
    return [(key, row["tenantId"]) for key, row in out]


class MatchCache:
    """The matching rows of recent queries, so page N of a 100k-row result costs one page, not
    another pass over every resource (real ARG also computes a result once and pages through it).

    An entry is valid while its table is the same object with the same size and the state's write
    sequence has not moved: a create or update bumps the sequence, a delete shrinks the table.
    """

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._entries: dict[tuple[Any, ...], list[tuple[str, str]]] = {}
        self._lock = threading.Lock()

    def rows(self, view: dict, subscriptions: set[str], plan: dict, digest: str) -> list[tuple[str, str]]:
        table = view["resourceGroups"] if plan["table"] == "resourcecontainers" else view["resources"]
        key = (digest, id(table), len(table), view.get("sequence"))
        with self._lock:
            hit = self._entries.get(key)
        if hit is None:
            hit = matching_rows(view, subscriptions, plan)
            with self._lock:
                while len(self._entries) >= self.size:
                    self._entries.pop(next(iter(self._entries)))
                self._entries[key] = hit
        return hit


MATCHES = MatchCache()


def full_row(view: dict, key: str, tenant_id: str, plan: dict) -> dict:
    """The page's row with every column (bodies rendered, secrets scrubbed), then projected."""
    if plan["table"] == "resourcecontainers":
        full = container_row(view["resourceGroups"][key]["body"], tenant_id)
    else:
        full = resource_row(model.render(view, key), tenant_id)
    if plan["project"]:
        return {c: full.get(c) for c in plan["project"]}
    return full


# --- request -------------------------------------------------------------------------------------


def _token(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def _untoken(text: str) -> dict:
    try:
        data = json.loads(base64.urlsafe_b64decode(text.encode()))
        assert isinstance(data, dict) and isinstance(data.get("skip"), int)
        return data
    except Exception as exc:
        raise ArmError(400, "BadRequest", f"The $skipToken '{text}' is invalid.") from exc


def query(view: dict, req: Request) -> Response:
    """One ARG query against `view` (a state-shaped dict: subscriptions, resourceGroups, resources)."""
    version = req.query.get("api-version", "")
    if version not in API_VERSIONS:
        raise ArmError(
            400,
            "NoRegisteredProviderFound",
            f"No registered resource provider found for API version '{version}' and type 'resources'. "
            f"The supported api-versions are '{', '.join(API_VERSIONS)}'.",
        )
    try:
        body = json.loads(req.body or b"{}")
        assert isinstance(body, dict) and isinstance(body.get("query"), str)
    except (ValueError, AssertionError) as exc:
        raise ArmError(400, "BadRequest", "The request body must be a JSON object with a 'query'.") from exc
    options = body.get("options") or {}
    if str(options.get("resultFormat", "objectArray")) != "objectArray":
        raise ArmError(400, "BadRequest", "Only resultFormat 'objectArray' is supported by the simulator.")
    plan = parse_query(body["query"])
    known = set(view["subscriptions"])
    asked = {str(s).lower() for s in body.get("subscriptions") or known}
    digest = hashlib.sha256(json.dumps([body["query"], sorted(asked)]).encode()).hexdigest()[:16]
    matching = MATCHES.rows(view, asked & known, plan, digest)
    if options.get("$skipToken"):
        state = _untoken(str(options["$skipToken"]))
        if state.get("q") != digest:
            raise ArmError(400, "BadRequest", "The $skipToken does not belong to this query.")
        skip, top = state["skip"], state["top"]
    else:
        skip = int(options.get("$skip") or 0)
        top = min(int(options.get("$top") or DEFAULT_TOP), MAX_TOP)
        if skip < 0 or top < 1:
            raise ArmError(400, "BadRequest", "$skip must be >= 0 and $top >= 1.")
    page = [full_row(view, key, tenant, plan) for key, tenant in matching[skip : skip + top]]
    result: dict[str, Any] = {
        "totalRecords": len(matching),
        "count": len(page),
        "data": page,
        "facets": [],
        "resultTruncated": "false",
    }
    if skip + top < len(matching):
        result["$skipToken"] = _token({"q": digest, "skip": skip + top, "top": top})
    return Response(200, result)


class GraphQuota:
    """ARG's per-user quota: `limit` queries per `window_s` window, then 429 until the window ends."""

    def __init__(self, limit: int = 15, window_s: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self.limit, self.window_s, self._clock = limit, window_s, clock
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def configure(self, limit: int, window_s: float) -> None:
        with self._lock:
            self.limit, self.window_s = limit, window_s
            self._windows.clear()

    def take(self, user: str) -> tuple[bool, dict[str, str]]:
        now = self._clock()
        with self._lock:
            start, used = self._windows.get(user, (now, 0))
            if now - start >= self.window_s:
                start, used = now, 0
            allowed = used < self.limit
            if allowed:
                used += 1
            self._windows[user] = (start, used)
        resets = max(0.0, self.window_s - (now - start))
        whole = math.ceil(resets)
        headers = {
            "x-ms-user-quota-remaining": str(self.limit - used),
            "x-ms-user-quota-resets-after": time.strftime("%H:%M:%S", time.gmtime(whole)),
        }
        if not allowed:
            headers["Retry-After"] = str(max(1, whole))
        return allowed, headers


def user_of(authorization: str) -> str:
    """Who is asking (for the quota): the token's oid/appid if it is one of ours, else a hash of it."""
    token = authorization.partition(" ")[2].strip()
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return str(claims.get("oid") or claims.get("appid"))
    except Exception:
        return hashlib.sha256(token.encode()).hexdigest()[:16]
