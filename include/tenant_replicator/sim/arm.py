"""ARM request handling: validation and semantics, independent of the HTTP plumbing.

Every handler takes the state dict (the caller holds the store lock) and a `Request`, and returns a
`Response` or raises `ArmError`; error bodies use ARM's envelope `{"error": {"code", "message"}}`.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from tenant_replicator.sim import authz, links, lro, model, readonly, registry, vaults
from tenant_replicator.sim.paths import ResourceRef, Route, rg_key
from tenant_replicator.sim.paths import parse_route as parse_route_fn
from tenant_replicator.sim.wire import ArmError, Request, Response, now_iso  # noqa: F401 - re-exported

DEFAULT_PAGE = 100
MAX_PAGE = 1000
API_VERSION_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(-(preview|alpha|beta|privatepreview))?$", re.IGNORECASE)
NOT_FOUND_HELP = "For more details please go to https://aka.ms/ARMResourceNotFoundFix"
WRITE_METHODS = frozenset({"PUT", "PATCH", "DELETE", "POST"})
LIST_FIELDS = (
    "id",
    "name",
    "type",
    "sku",
    "kind",
    "managedBy",
    "location",
    "extendedLocation",
    "identity",
    "plan",
    "zones",
    "tags",
)
COPIED_FIELDS = ("kind", "sku", "identity", "plan", "managedBy", "zones", "extendedLocation")


def require_api_version(req: Request) -> str:
    version = req.query.get("api-version", "")
    if not version:
        raise ArmError(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
    if not API_VERSION_RE.match(version):
        raise ArmError(400, "InvalidApiVersionParameter", f"The api-version '{version}' is invalid.")
    return version


def handle(state: dict, route: Route, req: Request) -> Response:
    handler = HANDLERS.get(route.kind)
    if handler is None:
        raise ArmError(400, "InvalidRequestUri", f"The request URI '{req.path}' is not valid for this service.")
    if route.subscription is not None:
        _require_subscription(state, route.subscription)
    return handler(state, route, req)


# --- helpers -------------------------------------------------------------------------------------


def _method_not_allowed(req: Request) -> ArmError:
    return ArmError(405, "MethodNotAllowed", f"The requested method '{req.method}' is not allowed on '{req.path}'.")


def _require_subscription(state: dict, subscription: str) -> dict:
    doc = model.get_subscription(state, subscription)
    if doc is None:
        raise ArmError(404, "SubscriptionNotFound", f"The subscription '{subscription}' could not be found.")
    return doc


def _require_rg(state: dict, subscription: str, name: str) -> dict:
    record = model.get_resource_group(state, subscription, name)
    if record is None:
        raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")
    return record


def _json_object(req: Request) -> dict:
    try:
        body = json.loads(req.body.decode("utf-8") or "null")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArmError(
            400,
            "InvalidRequestContent",
            f"The request content was invalid and cannot be deserialized: '{exc}'.",
        ) from exc
    if not isinstance(body, dict):
        raise ArmError(
            400,
            "InvalidRequestContent",
            "The request content was invalid and cannot be deserialized: expected a JSON object.",
        )
    return body


def _encode_token(data: dict) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str) -> dict:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        assert isinstance(data, dict)
        return data
    except Exception as exc:
        raise ArmError(400, "InvalidSkipToken", f"The skip token '{token}' is invalid.") from exc


def paginate(
    items: Iterable[tuple[str, dict]],
    req: Request,
    to_json: Callable[[str, dict], dict],
    filter_fn: Callable[[dict], bool] | None = None,
) -> dict:
    """Keyset paging on the sorted keys: a page boundary survives concurrent inserts and deletes.

    The opaque `$skiptoken` carries the last key, the page size, the filter and the expansion, so
    a client only has to follow `nextLink` (as the Azure SDK does) to see every item exactly once.
    """
    token = req.query.get("$skiptoken")
    state = (
        _decode_token(token)
        if token
        else {
            "top": req.query.get("$top"),
            "filter": req.query.get("$filter"),
            "expand": req.query.get("$expand"),
        }
    )
    top = _page_size(state.get("top"))
    after = state.get("after")
    page: list[dict] = []
    last_key = None
    more = False
    now = req.clock()
    for key, record in items:
        if after is not None and key <= after:
            continue
        if record.get("visibleAt", 0) > now:
            continue  # eventual consistency: written, readable by ID, not yet listed
        if filter_fn is not None and not filter_fn(record):
            continue
        if len(page) == top:
            more = True
            break
        page.append(to_json(key, record))
        last_key = key
    result: dict[str, Any] = {"value": page}
    if more:
        next_token = _encode_token({**state, "after": last_key})
        version = req.query.get("api-version", "")
        result["nextLink"] = f"{req.base_url}{_clean_path(req.path)}?api-version={version}&%24skiptoken={next_token}"
    return result


def _clean_path(path: str) -> str:
    return "/" + "/".join(seg for seg in path.split("?", 1)[0].split("/") if seg)


def _page_size(raw: Any) -> int:
    if raw in (None, ""):
        return DEFAULT_PAGE
    try:
        top = int(raw)
    except (TypeError, ValueError) as exc:
        raise ArmError(400, "InvalidTopParameter", f"The $top value '{raw}' is not a valid integer.") from exc
    if top < 1:
        raise ArmError(400, "InvalidTopParameter", "The $top value must be a positive integer.")
    return min(top, MAX_PAGE)


# --- $filter -------------------------------------------------------------------------------------

_CLAUSE = re.compile(r"^\s*(\w+)\s+eq\s+'((?:[^']|'')*)'\s*$", re.IGNORECASE)
_SUBSTRING = re.compile(r"^\s*substringof\(\s*'((?:[^']|'')*)'\s*,\s*name\s*\)\s*$", re.IGNORECASE)
_FIELDS = {
    "resourcetype": "type",
    "name": "name",
    "location": "location",
    "resourcegroup": "resourceGroup",
    "tagname": "tagName",
    "tagvalue": "tagValue",
}


def parse_filter(text: str | None) -> Callable[[dict], bool] | None:
    """The subset of ARM's `$filter` the scanner needs: `field eq 'v'` clauses joined by `and`."""
    if not text:
        return None
    checks: list[Callable[[dict], bool]] = []
    for clause in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        checks.append(_clause_check(clause, text))
    return lambda record: all(check(record) for check in checks)


def _clause_check(clause: str, text: str) -> Callable[[dict], bool]:
    sub = _SUBSTRING.match(clause)
    if sub:
        needle = sub.group(1).replace("''", "'").lower()
        return lambda record: needle in str(record["body"].get("name", "")).lower()
    match = _CLAUSE.match(clause)
    if not match or match.group(1).lower() not in _FIELDS:
        raise ArmError(400, "InvalidFilterInQueryString", f"The $filter '{text}' is not supported.")
    field_name = _FIELDS[match.group(1).lower()]
    wanted = match.group(2).replace("''", "'").lower()
    if field_name == "tagName":
        return lambda record: wanted in {k.lower() for k in (record["body"].get("tags") or {})}
    if field_name == "tagValue":
        return lambda record: wanted in {str(v).lower() for v in (record["body"].get("tags") or {}).values()}
    if field_name == "resourceGroup":
        return lambda record: _rg_of_id(record["body"].get("id", "")) == wanted
    return lambda record: str(record["body"].get(field_name, "")).lower() == wanted


def _rg_of_id(resource_id: str) -> str:
    parts = resource_id.split("/")
    return parts[4].lower() if len(parts) > 4 else ""


# --- subscriptions, tenants, providers ------------------------------------------------------------


def _subscriptions(state: dict, route: Route, req: Request) -> Response:
    if req.method != "GET":
        raise _method_not_allowed(req)
    docs = [model.json_copy(d) for _, d in sorted(state["subscriptions"].items())]
    return Response(200, {"value": docs, "count": {"type": "Total", "value": len(docs)}})


def _subscription(state: dict, route: Route, req: Request) -> Response:
    if req.method != "GET":
        raise _method_not_allowed(req)
    return Response(200, model.json_copy(_require_subscription(state, route.subscription or "")))


def _tenants(state: dict, route: Route, req: Request) -> Response:
    tenants = sorted({d["tenantId"] for d in state["subscriptions"].values()})
    value = [{"id": f"/tenants/{t}", "tenantId": t, "tenantCategory": "Home"} for t in tenants]
    return Response(200, {"value": value})


def _providers(state: dict, route: Route, req: Request) -> Response:
    if req.method != "GET":
        raise _method_not_allowed(req)
    sub = _require_subscription(state, route.subscription or "")["subscriptionId"]
    return Response(200, {"value": [registry.provider_document(p, sub) for p in registry.PROVIDERS]})


def _provider(state: dict, route: Route, req: Request) -> Response:
    if req.method != "GET":
        raise _method_not_allowed(req)
    return Response(200, _provider_doc(state, route))


def _provider_doc(state: dict, route: Route) -> dict:
    provider = registry.find_provider(route.namespace or "")
    if provider is None:
        raise ArmError(404, "InvalidResourceNamespace", f"The resource namespace '{route.namespace}' is invalid.")
    sub = _require_subscription(state, route.subscription or "")["subscriptionId"]
    return registry.provider_document(provider, sub)


def _subscription_type_list(state: dict, route: Route, req: Request) -> Response:
    """`/subscriptions/{s}/providers/{ns}/{type}` lists a type; `.../{ns}/register` registers."""
    if req.method == "POST" and route.rest[0].lower() == "register":
        return Response(200, _provider_doc(state, route))
    if req.method != "GET":
        raise _method_not_allowed(req)
    full_type = f"{route.namespace}/{route.rest[0]}"
    _resolve_type(full_type, req.query.get("api-version", ""))
    prefix = f"/subscriptions/{(route.subscription or '').lower()}/resourcegroups/"
    items = model.list_resources(state, prefix)
    wanted = full_type.lower()
    return Response(
        200,
        paginate(
            items,
            req,
            lambda k, r: model.render(state, k),
            lambda r: r["body"].get("type", "").lower() == wanted,
        ),
    )


def _unsupported_scope(state: dict, route: Route, req: Request) -> Response:
    raise ArmError(
        400,
        "InvalidResourceType",
        f"The resource type '{'/'.join(route.rest)}' could not be found in the namespace "
        f"'{route.namespace}' for api version '{req.query.get('api-version', '')}'.",
    )


# --- resource listing ----------------------------------------------------------------------------


def _list_item(record: dict, expand: str | None) -> dict:
    """GenericResourceExpanded: properties only with `$expand=properties`, like ARM's list."""
    body = record["body"]
    item = {k: model.json_copy(body[k]) for k in LIST_FIELDS if k in body}
    wanted = {e.strip().lower() for e in (expand or "").split(",") if e.strip()}
    if "createdtime" in wanted:
        item["createdTime"] = record["createdTime"]
    if "changedtime" in wanted:
        item["changedTime"] = record["changedTime"]
    if "provisioningstate" in wanted:
        item["provisioningState"] = (body.get("properties") or {}).get("provisioningState", "Succeeded")
    return item


def _list_resources_under(state: dict, prefix: str, req: Request) -> Response:
    token = req.query.get("$skiptoken")
    params = _decode_token(token) if token else {"expand": req.query.get("$expand"), "filter": req.query.get("$filter")}
    items = model.list_resources(state, prefix, after=params.get("after"))
    expand = params.get("expand")
    with_props = "properties" in (expand or "").lower()
    filter_fn = parse_filter(params.get("filter"))

    def to_json(key: str, record: dict) -> dict:
        item = _list_item(record, expand)
        if with_props:
            item["properties"] = model.render(state, key).get("properties", {})
        return item

    return Response(200, paginate(items, req, to_json, filter_fn))


def _resources(state: dict, route: Route, req: Request) -> Response:
    if req.method != "GET":
        raise _method_not_allowed(req)
    return _list_resources_under(state, f"/subscriptions/{(route.subscription or '').lower()}/resourcegroups/", req)


def _resource_group_resources(state: dict, route: Route, req: Request) -> Response:
    if req.method != "GET":
        raise _method_not_allowed(req)
    _require_rg(state, route.subscription or "", route.resource_group or "")
    return _list_resources_under(state, rg_key(route.subscription or "", route.resource_group or "") + "/", req)


# --- resource groups -----------------------------------------------------------------------------


def _resource_groups(state: dict, route: Route, req: Request) -> Response:
    if req.method != "GET":
        raise _method_not_allowed(req)
    items = model.list_resource_groups(state, route.subscription or "")
    filter_fn = parse_filter(req.query.get("$filter"))
    return Response(200, paginate(items, req, lambda k, r: model.json_copy(r["body"]), filter_fn))


def _resource_group(state: dict, route: Route, req: Request) -> Response:
    sub, name = route.subscription or "", route.resource_group or ""
    if req.method in ("GET", "HEAD"):
        record = model.get_resource_group(state, sub, name)
        if req.method == "HEAD":
            return Response(204 if record else 404)
        return Response(200, model.json_copy(_require_rg(state, sub, name)["body"]))
    if req.method == "PUT":
        return _put_resource_group(state, sub, name, _json_object(req), req.timestamp())
    if req.method == "PATCH":
        current = model.json_copy(_require_rg(state, sub, name)["body"])
        merged = model.merge_patch(current, _json_object(req))
        return Response(200, model.put_resource_group(state, sub, name, merged, req.timestamp())[0])
    if req.method == "DELETE":
        _require_rg(state, sub, name)
        vaults.soft_delete_under(state, rg_key(sub, name), req.timestamp())
        model.delete_resource_group(state, sub, name)
        return Response(200)
    raise _method_not_allowed(req)


def _put_resource_group(state: dict, sub: str, name: str, body: dict, now: str) -> Response:
    location = body.get("location")
    if not location or not isinstance(location, str):
        raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
    if not _valid_rg_name(name):
        raise ArmError(
            400,
            "InvalidResourceGroupName",
            f"The provided resource group name '{name}' has these invalid characters.",
        )
    normalized = registry.normalize_location(location)
    if normalized not in {registry.normalize_location(r) for r in registry.REGIONS}:
        raise ArmError(
            400,
            "LocationNotAvailableForResourceGroup",
            f"The provided location '{location}' is not available for resource group. List of "
            f"available regions is '{','.join(registry.normalize_location(r) for r in registry.REGIONS)}'.",
        )
    existing = model.get_resource_group(state, sub, name)
    if existing and existing["body"]["location"] != normalized:
        raise ArmError(
            409,
            "InvalidResourceGroupLocation",
            f"Invalid resource group location '{normalized}'. The Resource group already exists in "
            f"location '{existing['body']['location']}'.",
        )
    doc, created = model.put_resource_group(state, sub, name, body, now)
    return Response(201 if created else 200, model.json_copy(doc))


def _valid_rg_name(name: str) -> bool:
    return bool(re.fullmatch(r"[-\w._()]{1,90}", name)) and not name.endswith(".")


# --- resources -----------------------------------------------------------------------------------


def _resolve_type(full_type: str, api_version: str) -> tuple[registry.ProviderSpec, registry.TypeSpec]:
    namespace, _, type_path = full_type.partition("/")
    found = registry.find_type(full_type)
    if found is None:
        raise ArmError(
            400,
            "InvalidResourceType",
            f"The resource type '{type_path}' could not be found in the namespace '{namespace}' "
            f"for api version '{api_version}'.",
        )
    provider, spec = found
    if api_version not in spec.api_versions:
        raise ArmError(
            400,
            "NoRegisteredProviderFound",
            f"No registered resource provider found for location '' and API version '{api_version}' "
            f"for type '{spec.resource_type}'. The supported api-versions are "
            f"'{', '.join(spec.api_versions)}'. The supported locations are "
            f"'{', '.join(registry.normalize_location(x) for x in spec.locations)}'.",
        )
    return provider, spec


def _resource(state: dict, route: Route, req: Request) -> Response:
    ref = route.resource
    assert ref is not None
    api_version = require_api_version(req)
    provider, spec = _resolve_type(ref.full_type, api_version)
    if ref.is_collection:
        return _list_collection(state, ref, req)
    if req.method in ("GET", "HEAD"):
        return _get_resource(state, ref, req)
    if req.method == "PUT":
        return _put_resource(state, ref, provider, spec, _json_object(req), req)
    if req.method == "PATCH":
        return _patch_resource(state, ref, provider, spec, _json_object(req), req)
    if req.method == "DELETE":
        return _delete_resource(state, ref, provider, spec, req)
    raise _method_not_allowed(req)


def _delete_resource(
    state: dict, ref: ResourceRef, provider: registry.ProviderSpec, spec: registry.TypeSpec, req: Request
) -> Response:
    _require_rg(state, ref.subscription, ref.resource_group)
    if ref.key not in state["resources"]:
        return Response(204)
    vaults.soft_delete_under(state, ref.key, req.timestamp())
    if _long_running(provider, spec, req):
        return _start_operation(state, ref, provider, "delete", req)
    model.delete_tree(state, ref.key)
    return Response(200)


def _long_running(provider: registry.ProviderSpec, spec: registry.TypeSpec, req: Request) -> bool:
    return req.lro_seconds > 0 and lro.is_long_running(f"{provider.namespace}/{spec.resource_type}", req.lro_types)


def _start_operation(
    state: dict, ref: ResourceRef, provider: registry.ProviderSpec, action: str, req: Request
) -> Response:
    """201 (create) / 200 (update) with the Accepted body, or 202 for deletes and Location-only types."""
    record = state["resources"][ref.key]
    lro._set_state(state, ref.key, "Accepted")
    op = lro.start(state, ref.key, record["body"]["id"], action, req.lro_seconds, req.clock(), req.async_error)
    urls = lro.operation_urls(
        req.base_url,
        record["body"]["id"].split("/")[2],
        provider.namespace,
        str(record["body"].get("location") or "global"),
        op["id"],
        req.query.get("api-version", ""),
    )
    headers = {**urls, "Retry-After": lro.retry_after(req.lro_seconds)}
    full_type = f"{provider.namespace}/{'/'.join(ref.types)}".lower()
    if action == "delete":
        return Response(202, None, headers)
    if full_type in lro.LOCATION_ONLY:
        return Response(202, None, {"Location": urls["Location"], "Retry-After": headers["Retry-After"]})
    return Response(201 if action == "create" else 200, model.render(state, ref.key), headers)


def _operation(state: dict, route: Route, req: Request) -> Response:
    """`GET .../locations/{l}/operationStatuses/{id}` (status document) or `.../operationResults/{id}`."""
    if req.method != "GET":
        raise _method_not_allowed(req)
    kind, op_id = route.rest
    op = state["operations"].get(op_id)
    if op is None:
        raise ArmError(404, "OperationNotFound", f"The operation '{op_id}' could not be found.")
    now = req.clock()
    wait = {"Retry-After": lro.retry_after(lro.remaining(op, now))} if op["status"] == "InProgress" else {}
    if kind == "operationstatuses":
        return Response(200, lro.status_document(op), wait)
    if op["status"] == "InProgress":
        return Response(
            202,
            None,
            {
                **wait,
                "Location": f"{req.base_url}{_clean_path(req.path)}?api-version={req.query.get('api-version', '')}",
            },
        )
    if op["status"] == "Canceled":
        raise ArmError(409, "OperationCanceled", "The operation was canceled by a newer operation on the resource.")
    if op["status"] == "Failed":
        error = op.get("error") or {"code": "InternalServerError", "message": "The operation failed."}
        raise ArmError(int(error.get("status", 400)), str(error.get("code")), str(error.get("message")))
    if op["action"] == "delete" or op["key"] not in state["resources"]:
        return Response(204)
    return Response(200, model.render(state, op["key"]))


def _not_found(ref: ResourceRef) -> ArmError:
    type_and_names = "/".join(f"{t}/{n}" for t, n in zip(ref.types, ref.names, strict=False))
    return ArmError(
        404,
        "ResourceNotFound",
        f"The Resource '{ref.namespace}/{type_and_names}' under resource group "
        f"'{ref.resource_group}' was not found. {NOT_FOUND_HELP}",
    )


def _get_resource(state: dict, ref: ResourceRef, req: Request) -> Response:
    exists = ref.key in state["resources"]
    if req.method == "HEAD":
        return Response(204 if exists else 404)
    _require_rg(state, ref.subscription, ref.resource_group)
    if not exists:
        raise _not_found(ref)
    return Response(200, model.render(state, ref.key))


def _list_collection(state: dict, ref: ResourceRef, req: Request) -> Response:
    """`GET .../virtualNetworks` in a group, or `GET .../virtualNetworks/v/subnets` under a parent."""
    if req.method != "GET":
        raise _method_not_allowed(req)
    _require_rg(state, ref.subscription, ref.resource_group)
    parent = ResourceRef(ref.subscription, ref.resource_group, ref.namespace, ref.types[:-1], ref.names)
    if ref.names and parent.key not in state["resources"]:
        raise _not_found(parent)
    if ref.names:
        items = model.direct_children(state, parent.key, ref.types[-1])
        items.sort()
    else:
        wanted = ref.full_type.lower()
        items = [
            (k, r)
            for k, r in model.list_resources(state, rg_key(ref.subscription, ref.resource_group) + "/")
            if r["body"].get("type", "").lower() == wanted
        ]
    return Response(200, paginate(items, req, lambda k, r: model.render(state, k)))


def _put_resource(
    state: dict,
    ref: ResourceRef,
    provider: registry.ProviderSpec,
    spec: registry.TypeSpec,
    body: dict,
    req: Request,
) -> Response:
    now = req.timestamp()
    rg = _require_rg(state, ref.subscription, ref.resource_group)
    parent_id = _parent_id(state, ref, rg)
    existing = state["resources"].get(ref.key)
    name = existing["body"]["name"] if existing else ref.names[-1]
    _validate_location(spec, provider, body, existing, ref)
    _validate_name(provider, spec, name)
    full_type = f"{provider.namespace}/{spec.resource_type}"
    tenant = model.get_subscription(state, ref.subscription)["tenantId"]  # type: ignore[index]
    recovering = (
        existing is None
        and full_type.lower() == vaults.VAULTS
        and vaults.check_name_free(state, name, ref.subscription, body)
    )
    _check_global_name(state, provider, spec, ref, name)
    links.check_links(state, full_type, body, ref.key)
    if full_type.lower() == vaults.VAULTS:
        authz.check_access_policies(state, tenant, body)
    doc = _server_body(state, ref, provider, spec, body, parent_id, name, existing, now)
    if recovering:
        vaults.forget(state, name)
    created = model.store_resource(state, ref.key, doc, now)
    if created and req.list_delay_s > 0:
        state["resources"][ref.key]["visibleAt"] = req.clock() + req.list_delay_s
    authz.register_identities(state, doc, tenant)
    if _long_running(provider, spec, req):
        return _start_operation(state, ref, provider, "create" if created else "update", req)
    return Response(201 if created else 200, model.render(state, ref.key))


def _patch_resource(
    state: dict,
    ref: ResourceRef,
    provider: registry.ProviderSpec,
    spec: registry.TypeSpec,
    patch: dict,
    req: Request,
) -> Response:
    _require_rg(state, ref.subscription, ref.resource_group)
    if ref.key not in state["resources"]:
        raise _not_found(ref)
    merged = model.merge_patch(model.render(state, ref.key), patch)
    response = _put_resource(state, ref, provider, spec, merged, req)
    if response.status == 202:
        return response
    return Response(200, response.body, response.headers)


def _parent_id(state: dict, ref: ResourceRef, rg: dict) -> str:
    parent = ref.parent
    if parent is None:
        return f"{rg['body']['id']}/providers/{registry.find_provider(ref.namespace).namespace}"  # type: ignore[union-attr]
    record = state["resources"].get(parent.key)
    if record is None:
        parent_type = "/".join(ref.types)
        raise ArmError(
            404,
            "ParentResourceNotFound",
            f"Failed to perform 'write' on resource(s) of type '{parent_type}', because the parent "
            f"resource '{parent.path}' could not be found.",
        )
    return record["body"]["id"]


def _validate_location(
    spec: registry.TypeSpec,
    provider: registry.ProviderSpec,
    body: dict,
    existing: dict | None,
    ref: ResourceRef,
) -> None:
    location = body.get("location")
    full_type = f"{provider.namespace}/{spec.resource_type}"
    if not location:
        if spec.location_required:
            raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
        return
    if not isinstance(location, str) or not registry.location_allowed(spec, location):
        allowed = ",".join(registry.normalize_location(x) for x in spec.locations)
        raise ArmError(
            400,
            "LocationNotAvailableForResourceType",
            f"The provided location '{location}' is not available for resource type '{full_type}'. "
            f"List of available regions for the resource type is '{allowed}'.",
        )
    old = (existing or {}).get("body", {}).get("location")
    if old and registry.normalize_location(location) != old:
        raise ArmError(
            409,
            "InvalidResourceLocation",
            f"The resource '{ref.names[-1]}' already exists in location '{old}' in resource group "
            f"'{ref.resource_group}'. A resource with the same name cannot be created in location "
            f"'{registry.normalize_location(location)}'. Please select a new resource name.",
        )


_NAME_RULES: dict[str, tuple[str, str, str]] = {
    "microsoft.storage/storageaccounts": (
        r"[a-z0-9]{3,24}",
        "AccountNameInvalid",
        "{name} is not a valid storage account name. Storage account name must be between 3 and 24 "
        "characters in length and use numbers and lower-case letters only.",
    ),
    "microsoft.keyvault/vaults": (
        r"[a-zA-Z](?!.*--)[a-zA-Z0-9-]{1,22}[a-zA-Z0-9]",
        "VaultNameNotValid",
        "The vault name '{name}' is invalid. A vault's name must be between 3-24 alphanumeric characters. "
        "The name must begin with a letter, end with a letter or digit, and not contain consecutive hyphens.",
    ),
    "microsoft.containerregistry/registries": (
        r"[a-zA-Z0-9]{5,50}",
        "RegistryNameInvalid",
        "Registry name '{name}' is invalid: only alpha numeric characters are allowed, 5 to 50 long.",
    ),
}


def _validate_name(provider: registry.ProviderSpec, spec: registry.TypeSpec, name: str) -> None:
    rule = _NAME_RULES.get(f"{provider.namespace}/{spec.resource_type}".lower())
    if rule and not re.fullmatch(rule[0], name):
        raise ArmError(400, rule[1], rule[2].format(name=name))


def _check_global_name(
    state: dict, provider: registry.ProviderSpec, spec: registry.TypeSpec, ref: ResourceRef, name: str
) -> None:
    """Storage accounts, vaults, registries and sites share one namespace across all of Azure."""
    if spec.global_name_conflict is None:
        return
    wanted_type = f"{provider.namespace}/{spec.resource_type}".lower()
    for key, record in state["resources"].items():
        body = record["body"]
        if (
            key != ref.key
            and body.get("type", "").lower() == wanted_type
            and body.get("name", "").lower() == name.lower()
        ):
            status, code, template = spec.global_name_conflict
            raise ArmError(status, code, template.format(name=name))


def _server_body(
    state: dict,
    ref: ResourceRef,
    provider: registry.ProviderSpec,
    spec: registry.TypeSpec,
    body: dict,
    parent_id: str,
    name: str,
    existing: dict | None,
    now: str,
) -> dict:
    """What ARM stores: the client's writable fields plus id/name/type and read-only fields."""
    type_segment = spec.resource_type.split("/")[-1]
    resource_id = f"{parent_id}/{type_segment}/{name}"
    doc: dict[str, Any] = {"id": resource_id, "name": name, "type": registry.returned_type(provider, spec)}
    if body.get("location"):
        doc["location"] = registry.normalize_location(body["location"])
    for key in COPIED_FIELDS:
        if body.get(key) is not None:
            doc[key] = model.json_copy(body[key])
    if body.get("tags"):
        doc["tags"] = model.json_copy(body["tags"])
    props = body.get("properties")
    doc["properties"] = model.json_copy(props) if isinstance(props, dict) else {}
    tenant = model.get_subscription(state, ref.subscription)["tenantId"]  # type: ignore[index]
    created = existing["createdTime"] if existing else now
    ctx = readonly.Context(ref.key, resource_id, name, tenant, created)
    readonly.enrich(f"{provider.namespace}/{spec.resource_type}", doc, (existing or {}).get("body"), ctx)
    readonly.enrich_identity(doc, ctx)
    return doc


# --- extension resources, role definitions, deleted vaults --------------------------------------


def _scope_exists(state: dict, scope: str) -> bool:
    key = scope.lower().rstrip("/")
    parts = key.split("/")
    if len(parts) == 3:
        return model.get_subscription(state, parts[2]) is not None
    return key in state["resourceGroups"] or key in state["resources"]


def _extension(state: dict, route: Route, req: Request) -> Response:
    """Role assignments, locks and diagnostic settings on a subscription, group or resource scope."""
    scope, namespace, type_name, name = route.rest
    api_version = require_api_version(req)
    provider, spec = _resolve_type(f"{namespace}/{type_name}", api_version)
    full_type = f"{provider.namespace}/{spec.resource_type}"
    if not _scope_exists(state, scope):
        raise ArmError(404, "ResourceNotFound", f"The scope '{scope}' was not found. {NOT_FOUND_HELP}")
    scope_id = _stored_id(state, scope)
    key = f"{scope.lower()}/providers/{full_type.lower()}/{name.lower()}"
    if full_type.lower() == "microsoft.authorization/roledefinitions":
        return _role_definition(state, Route("role_definition", rest=(name,)), req, scope_id)
    if not name:
        if req.method != "GET":
            raise _method_not_allowed(req)
        return _list_extensions(state, scope, full_type, req)
    if req.method in ("GET", "HEAD"):
        if key not in state["resources"]:
            if req.method == "HEAD":
                return Response(404)
            raise ArmError(404, _missing_code(full_type), f"The {spec.resource_type} '{name}' was not found.")
        return Response(200 if req.method == "GET" else 204, model.render(state, key) if req.method == "GET" else None)
    if req.method == "DELETE":
        if key not in state["resources"]:
            return Response(204)
        doc = model.render(state, key)
        model.delete_tree(state, key)
        return Response(200, doc)
    if req.method != "PUT":
        raise _method_not_allowed(req)
    body = _json_object(req)
    tenant = model.get_subscription(state, route.subscription or "")["tenantId"]  # type: ignore[index]
    now = req.timestamp()
    if full_type.lower() == authz.ROLE_ASSIGNMENTS:
        doc = authz.role_assignment_body(state, key, scope_id, name, body, tenant, now)
    else:
        links.check_links(state, full_type, body, key)
        doc = {"id": f"{scope_id}/providers/{full_type}/{name}", "name": name, "type": full_type}
        doc["properties"] = model.json_copy(body.get("properties") or {})
    created = model.store_resource(state, key, doc, now)
    return Response(201 if created else 200, model.render(state, key))


def _missing_code(full_type: str) -> str:
    return "RoleAssignmentNotFound" if full_type.lower() == authz.ROLE_ASSIGNMENTS else "ResourceNotFound"


def _stored_id(state: dict, scope: str) -> str:
    key = scope.lower().rstrip("/")
    record = state["resources"].get(key) or state["resourceGroups"].get(key)
    if record:
        return record["body"]["id"]
    sub = model.get_subscription(state, key.split("/")[2])
    return f"/subscriptions/{sub['subscriptionId']}" if sub else scope


def _list_extensions(state: dict, scope: str, full_type: str, req: Request) -> Response:
    """Everything of the type at or below the scope (ARM's `$filter=atScope()` is the scope itself)."""
    prefix = scope.lower().rstrip("/")
    wanted = full_type.lower()
    at_scope = "atscope()" in (req.query.get("$filter") or "").lower()
    items = [
        (k, r)
        for k, r in sorted(state["resources"].items())
        if k.startswith(prefix + "/")
        and r["body"].get("type", "").lower() == wanted
        and (not at_scope or k.rsplit("/providers/", 1)[0] == prefix)
    ]
    return Response(200, paginate(items, req, lambda k, r: model.render(state, k)))


def _role_definition(state: dict, route: Route, req: Request, scope_id: str = "") -> Response:
    if req.method != "GET":
        raise _method_not_allowed(req)
    name = (route.rest or ("",))[0].lower()
    if not name:
        return Response(200, {"value": [authz.role_definition_doc(g, scope_id) for g in authz.BUILTIN_ROLES]})
    if name not in authz.BUILTIN_ROLES:
        raise ArmError(404, "RoleDefinitionDoesNotExist", f"The role definition '{name}' could not be found.")
    return Response(200, authz.role_definition_doc(name, scope_id))


def _deleted_vaults(state: dict, route: Route, req: Request) -> Response:
    """`GET .../deletedVaults`, `GET .../locations/{l}/deletedVaults/{n}`, `POST .../{n}/purge`."""
    sub = route.subscription or ""
    name, *action = route.rest
    if not name:
        if req.method != "GET":
            raise _method_not_allowed(req)
        return vaults.list_deleted(state, sub)
    if action == ["purge"] and req.method == "POST":
        return vaults.purge(state, sub, name)
    if not action and req.method == "GET":
        return Response(200, model.json_copy(vaults.get_deleted(state, sub, name)))
    raise _method_not_allowed(req)


# --- trusted bulk writes (seed generators) -------------------------------------------------------


def seed_put(state: dict, path: str, api_version: str, body: dict, now: str) -> None:
    """Store what a successful PUT would, without validation, JSON round trips or response rendering.

    For generated tenants of up to 100k resources, whose generator guarantees names, references and
    parents; the stored shape is the same as a client PUT's (same `_server_body`).
    """
    route = parse_route_fn(path)
    if route.kind == "resource_group":
        model.put_resource_group(state, route.subscription or "", route.resource_group or "", body, now)
        return
    tenant = model.get_subscription(state, route.subscription or "")["tenantId"]  # type: ignore[index]
    if route.kind == "extension":
        scope, namespace, type_name, name = route.rest
        full_type = f"{namespace}/{type_name}"
        key = f"{scope.lower()}/providers/{full_type.lower()}/{name.lower()}"
        scope_id = _stored_id(state, scope)
        if full_type.lower() == authz.ROLE_ASSIGNMENTS:
            doc = authz.role_assignment_body(state, key, scope_id, name, body, tenant, now, check_duplicates=False)
        else:
            doc = {"id": f"{scope_id}/providers/{full_type}/{name}", "name": name, "type": full_type}
            doc["properties"] = model.json_copy(body.get("properties") or {})
        model.store_resource(state, key, doc, now)
        return
    ref = route.resource
    if route.kind != "resource" or ref is None:
        raise ValueError(f"seed_put: not a resource path: {path}")
    provider, spec = _resolve_type(ref.full_type, api_version)
    rg = _require_rg(state, ref.subscription, ref.resource_group)
    parent_id = _parent_id(state, ref, rg)
    doc = _server_body(state, ref, provider, spec, body, parent_id, ref.names[-1], None, now)
    model.store_resource(state, ref.key, doc, now, owned=True)
    authz.register_identities(state, doc, tenant)


HANDLERS: dict[str, Callable[[dict, Route, Request], Response]] = {
    "subscriptions": _subscriptions,
    "subscription": _subscription,
    "tenants": _tenants,
    "providers": _providers,
    "provider": _provider,
    "subscription_type_list": _subscription_type_list,
    "unsupported_scope": _unsupported_scope,
    "resources": _resources,
    "resource_group_resources": _resource_group_resources,
    "resource_groups": _resource_groups,
    "resource_group": _resource_group,
    "resource": _resource,
    "operation": _operation,
    "extension": _extension,
    "role_definition": _role_definition,
    "deleted_vaults": _deleted_vaults,
}
