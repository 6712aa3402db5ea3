"""The stand-in ``azure/azapi`` provider: ``azapi_resource`` over plain ARM PUT/GET/DELETE.

Its schema mirrors real azapi v2 for the attributes we generate, so one ``main.tf.json`` works
with both. Like azapi, ``body`` in state is what the user configured (read-only fields the
server adds go to ``output``), which keeps a re-plan after apply at "No changes"; a read
projects the server's answer onto the configured keys, so out-of-band drift still shows.
"""

from __future__ import annotations

import copy
import os
from typing import Any
from urllib.parse import parse_qs

import requests
from tf.iface import (
    Config,
    CreateContext,
    DataSource,
    DeleteContext,
    ImportContext,
    PlanContext,
    ReadContext,
    Resource,
    State,
    UpdateContext,
)
from tf.provider import Provider
from tf.schema import Attribute, Schema
from tf.types import Bool, List, Map, String, Unknown
from tf.utils import Diagnostics

from tenant_replicator.tfprovider.arm import ArmClient, ArmError, config_from_env
from tenant_replicator.tfprovider.dynamic import Dynamic
from tenant_replicator.tfprovider.ids import (
    RESOURCE_GROUPS,
    InvalidResourceAddress,
    build_resource_id,
    id_type,
    parent_of,
    parse_type,
)

PROVIDER_ADDRESS = "registry.terraform.io/azure/azapi"
_PROVIDER_STRINGS = (
    "subscription_id",
    "tenant_id",
    "client_id",
    "client_secret",
    "client_certificate_path",
    "client_certificate_password",
    "oidc_token",
    "environment",
    "default_location",
    "default_name",
    "partner_id",
)
_PROVIDER_BOOLS = (
    "use_cli",
    "use_msi",
    "use_oidc",
    "use_aks_workload_identity",
    "skip_provider_registration",
    "disable_terraform_partner_id",
    "disable_correlation_request_id",
    "disable_default_output",
    "enable_preflight",
)


def _known(value: Any) -> bool:
    return value is not None and value is not Unknown


def _resource_schema() -> Schema:
    """azapi v2's ``azapi_resource`` attributes that we use, with the same types, flags and defaults.

    Replacement: ``name``/``parent_id`` by flag; ``type`` (only when the resource type, not the
    api-version, changes) and ``location`` are decided in ``servicer.AzapiServicer``.
    """
    return Schema(
        version=2,  # azapi v2's state schema version
        attributes=[
            Attribute("id", String(), computed=True, description="The ARM ID of the resource."),
            Attribute("type", String(), required=True, description="`<Namespace>/<type>@<api-version>`."),
            Attribute("name", String(), optional=True, computed=True, requires_replace=True),
            Attribute("parent_id", String(), optional=True, computed=True, requires_replace=True),
            Attribute("location", String(), optional=True, computed=True),
            Attribute(
                "body",
                Dynamic(),
                optional=True,
                computed=True,
                default={},
                description="The request body (an object).",
            ),
            Attribute("tags", Map(String()), optional=True, computed=True),
            Attribute("response_export_values", Dynamic(), optional=True),
            Attribute("schema_validation_enabled", Bool(), optional=True, computed=True, default=True),
            Attribute("ignore_casing", Bool(), optional=True, computed=True, default=False),
            Attribute("ignore_missing_property", Bool(), optional=True, computed=True, default=True),
            Attribute("locks", List(String()), optional=True),
            Attribute("output", Dynamic(), computed=True, description="The GET response or exported values."),
        ],
    )


# ---------------------------------------------------------------- pure helpers


def request_body(body: Any, location: Any, tags: Any) -> dict:
    """The PUT body: the configured body with ``location``/``tags`` attributes merged in."""
    merged = copy.deepcopy(body) if isinstance(body, dict) else {}
    if _known(location):
        merged["location"] = location
    if _known(tags):
        merged["tags"] = tags
    return merged


def _lookup(document: Any, path: str) -> Any:
    for key in [p for p in path.split(".") if p]:
        if not isinstance(document, dict) or key not in document:
            return None
        document = document[key]
    return document


def export_output(response: dict, export: Any) -> Any:
    """``output`` from a GET response: whole, or the paths named by ``response_export_values``."""
    if not _known(export):
        return response
    if isinstance(export, list):
        if "*" in export:
            return response
        result: dict = {}
        for path in export:
            value = _lookup(response, str(path))
            if value is not None:
                node = result
                keys = [p for p in str(path).split(".") if p]
                for key in keys[:-1]:
                    node = node.setdefault(key, {})
                node[keys[-1]] = value
        return result
    if isinstance(export, dict):
        return {k: _lookup(response, str(v)) for k, v in export.items()}
    return response


def _same_string(a: Any, b: Any) -> bool:
    return isinstance(a, str) and isinstance(b, str) and a.lower() == b.lower()


def project(configured: Any, actual: Any) -> Any:
    """The server's value in the shape of what was configured (drift detection without noise).

    Keys the server does not return (write-only secrets) keep the configured value; keys the
    server adds are ignored; strings equal up to case (ARM IDs, enums) keep the configured casing.
    """
    if isinstance(configured, dict):
        if not isinstance(actual, dict):
            return configured if actual is None else actual
        return {k: (project(v, actual[k]) if k in actual else v) for k, v in configured.items()}
    if isinstance(configured, list):
        if not isinstance(actual, list):
            return configured if actual is None else actual
        if len(configured) != len(actual):
            return actual
        by_name = _by_name(configured, actual)
        if by_name is not None:
            return [project(c, by_name[c["name"].lower()]) for c in configured]
        return [project(c, a) for c, a in zip(configured, actual, strict=True)]
    if actual is None:
        return configured
    if _same_string(configured, actual):
        return configured
    if isinstance(configured, (int, float)) and not isinstance(configured, bool) and configured == actual:
        return configured
    return actual


def _by_name(configured: list, actual: list) -> dict[str, Any] | None:
    """Match named list items (subnets, rules) by name: ARM may return them in another order."""
    named = all(isinstance(x, dict) and isinstance(x.get("name"), str) for x in configured + actual)
    if not named:
        return None
    index = {a["name"].lower(): a for a in actual}
    if len(index) != len(actual) or any(c["name"].lower() not in index for c in configured):
        return None
    return index


def normal_location(value: Any) -> Any:
    """ARM spells one region several ways: 'West Europe' == 'westeurope'."""
    return value.replace(" ", "").lower() if isinstance(value, str) else value


# ---------------------------------------------------------------- resource


class AzapiResource(Resource):
    """``azapi_resource``: create = PUT, read = GET, update = PUT, delete = DELETE."""

    def __init__(self, provider: AzapiProvider):
        self.provider = provider

    @classmethod
    def get_name(cls) -> str:
        return "resource"

    @classmethod
    def get_schema(cls) -> Schema:
        return _resource_schema()

    # -- validation and planning

    def validate(self, diags: Diagnostics, type_name: str, config: Config) -> None:
        super().validate(diags, type_name, config)
        rtype = config.get("type")
        if _known(rtype):
            try:
                resource_type, _ = parse_type(rtype)
            except InvalidResourceAddress as exc:
                diags.add_error("Invalid `type`", str(exc), path=["type"])
                return
            if config.get("parent_id") is None and resource_type.lower() != RESOURCE_GROUPS:
                diags.add_error(
                    "Missing required argument",
                    'The argument "parent_id" is required, but no definition was found.',
                )
        if "name" in config and config.get("name") is None:
            diags.add_error("Missing required argument", 'The argument "name" is required.', path=["name"])
        try:
            body = Dynamic().decode(config.get("body"))  # ``tf`` hands validate the raw wire value
        except ValueError as exc:
            diags.add_error("Invalid `body`", str(exc), path=["body"])
            return
        if _known(body) and not isinstance(body, dict):
            diags.add_error("Invalid `body`", "`body` must be an object", path=["body"])

    def plan(self, ctx: PlanContext, current: State | None, planned: State) -> State | None:
        """An update changes what the server returns, so ``output`` is known only after apply.

        "West Europe" and "westeurope" are one location: keep the state's spelling, no diff.
        """
        prior_location = (current or {}).get("location")
        if (
            _known(prior_location)
            and _known(planned.get("location"))
            and normal_location(prior_location) == normal_location(planned["location"])
        ):
            planned["location"] = prior_location
        changed = {
            k for k in ctx.changed_fields - {"output"} if k != "location" or planned.get("location") != prior_location
        }
        if changed:
            planned["output"] = Unknown
        return planned

    def import_(self, ctx: ImportContext, id: str) -> State | None:  # noqa: A002 - tf's signature
        """``terraform import`` / ``import`` blocks: ``<resource id>[?api-version=<version>]``, like azapi."""
        resource_id, _, query = id.partition("?")
        try:
            resource_type = id_type(resource_id)
            api_version = parse_qs(query).get("api-version", [""])[0]
            api_version = api_version or self.provider.client.latest_api_version(resource_id, resource_type)
            response = self.provider.client.get(resource_id, api_version)
        except InvalidResourceAddress as exc:
            ctx.diagnostics.add_error("Invalid import ID", str(exc))
            return None
        except ArmError as exc:
            _arm_diagnostic(ctx.diagnostics, exc)
            return None
        if response is None:
            ctx.diagnostics.add_error("Cannot import non-existent remote object", f"{resource_id} does not exist")
            return None
        return imported_state(resource_id, f"{resource_type}@{api_version}", response)

    # -- lifecycle

    def _address(self, state: State) -> tuple[str, str, str]:
        """(resource ID, parent ID, api-version) for a state or plan."""
        resource_type, api_version = parse_type(state["type"])
        parent_id = state.get("parent_id")
        if not _known(parent_id):
            parent_id = self.provider.default_parent(resource_type)
        return build_resource_id(resource_type, state["name"], parent_id), parent_id, api_version

    def _finish(self, planned: State, resource_id: str, parent_id: str, response: dict) -> State:
        state = dict(planned)
        state["id"] = resource_id
        state["parent_id"] = parent_id
        if not _known(state.get("location")):
            state["location"] = response.get("location")
        if not _known(state.get("tags")):
            state["tags"] = response.get("tags") or {}
        state["output"] = export_output(response, state.get("response_export_values"))
        return state

    def _put(self, ctx: Any, planned: State, creating: bool) -> State | None:
        try:
            resource_id, parent_id, api_version = self._address(planned)
            if creating and self.provider.client.get(resource_id, api_version) is not None:
                ctx.diagnostics.add_error("Resource already exists", already_exists_message(resource_id))
                return None
            body = request_body(planned.get("body"), planned.get("location"), planned.get("tags"))
            response = self.provider.client.put(resource_id, api_version, body)
        except InvalidResourceAddress as exc:
            ctx.diagnostics.add_error("Invalid resource address", str(exc))
            return None
        except ArmError as exc:
            _arm_diagnostic(ctx.diagnostics, exc)
            return None
        except requests.RequestException as exc:
            ctx.diagnostics.add_error(f"ARM PUT failed: {type(exc).__name__}", str(exc))
            return None
        return self._finish(planned, resource_id, parent_id, response)

    def create(self, ctx: CreateContext, planned: State) -> State | None:
        return self._put(ctx, planned, creating=True)

    def update(self, ctx: UpdateContext, current: State, planned: State) -> State | None:
        result = self._put(ctx, planned, creating=False)
        return current if result is None else result

    def read(self, ctx: ReadContext, current: State) -> State | None:
        """404 removes the resource from state, so terraform plans to create it again."""
        try:
            _, api_version = parse_type(current["type"])
            resource_id = current.get("id") or self._address(current)[0]
            response = self.provider.client.get(resource_id, api_version)
        except ArmError as exc:
            _arm_diagnostic(ctx.diagnostics, exc)
            return current
        except InvalidResourceAddress as exc:
            ctx.diagnostics.add_error("Invalid resource address", str(exc))
            return current
        except requests.RequestException as exc:
            ctx.diagnostics.add_error(f"ARM GET failed: {type(exc).__name__}", str(exc))
            return current
        if response is None:
            return None
        return refreshed_state(current, response)

    def delete(self, ctx: DeleteContext, current: State) -> State | None:
        try:
            _, api_version = parse_type(current["type"])
            resource_id = current.get("id") or self._address(current)[0]
            self.provider.client.delete(resource_id, api_version)
        except ArmError as exc:
            _arm_diagnostic(ctx.diagnostics, exc)
            return current
        except (InvalidResourceAddress, requests.RequestException) as exc:
            ctx.diagnostics.add_error("ARM DELETE failed", str(exc))
            return current
        return None


def refreshed_state(current: State, response: dict) -> State:
    """State after a GET: configured shape kept, drift in body/tags/location surfaced."""
    state = dict(current)
    if isinstance(current.get("body"), dict):
        state["body"] = project(current["body"], response)
    server_tags = response.get("tags") or {}
    if (current.get("tags") or {}) != server_tags:
        state["tags"] = server_tags
    server_location = response.get("location")
    prior_location = current.get("location")
    if prior_location is None or (
        server_location is not None and normal_location(prior_location) != normal_location(server_location)
    ):
        state["location"] = server_location
    state["output"] = export_output(response, current.get("response_export_values"))
    return state


def already_exists_message(resource_id: str) -> str:
    """azapi's wording, so tooling that recognises it (import on conflict) works with both."""
    return (
        f'A resource with the ID "{resource_id}" already exists - to be managed via Terraform this resource '
        'needs to be imported into the State. Please see the resource documentation for "azapi_resource" '
        "for more information."
    )


_SERVER_FIELDS = ("id", "name", "type", "etag", "systemData", "location", "tags")


def imported_state(resource_id: str, type_with_version: str, response: dict) -> State:
    """State for an imported resource: body = the GET minus server-set fields (the next plan settles it)."""
    body = {k: copy.deepcopy(v) for k, v in response.items() if k not in _SERVER_FIELDS}
    if isinstance(body.get("properties"), dict):
        body["properties"].pop("provisioningState", None)
    state = {a.name: None for a in _resource_schema().attributes}
    state.update(
        id=resource_id,
        type=type_with_version,
        name=resource_id.rstrip("/").rsplit("/", 1)[-1],
        parent_id=parent_of(resource_id),
        location=response.get("location"),
        tags=response.get("tags") or {},
        body=body,
        schema_validation_enabled=True,
        ignore_casing=False,
        ignore_missing_property=True,
        output=response,
    )
    return state


def _arm_diagnostic(diags: Diagnostics, exc: ArmError) -> None:
    """Summary carries method, ID, status, ARM code and message: the apply-event parser reads it."""
    diags.add_error(
        str(exc),
        f"ARM error code: {exc.code}\nHTTP status: {exc.status}\nmessage: {exc.message}",
    )


# ---------------------------------------------------------------- provider


class AzapiProvider(Provider):
    """``azure/azapi``; credentials in the provider block are accepted and ignored offline."""

    def __init__(self) -> None:
        self.config: dict = {}
        self._client: ArmClient | None = None

    def get_model_prefix(self) -> str:
        return "azapi_"

    def full_name(self) -> str:
        return PROVIDER_ADDRESS

    def get_provider_schema(self, diags: Diagnostics) -> Schema:
        return Schema(
            attributes=[
                Attribute(n, String(), optional=True, sensitive="secret" in n or "password" in n or "token" in n)
                for n in _PROVIDER_STRINGS
            ]
            + [Attribute(n, Bool(), optional=True) for n in _PROVIDER_BOOLS]
            + [
                Attribute("auxiliary_tenant_ids", List(String()), optional=True),
                Attribute("default_tags", Map(String()), optional=True),
            ]
        )

    def validate_config(self, diags: Diagnostics, config: Config) -> None:
        return None

    def configure_provider(self, diags: Diagnostics, config: Config) -> None:
        self.config = {k: v for k, v in (config or {}).items() if _known(v)}

    @property
    def client(self) -> ArmClient:
        if self._client is None:
            self._client = ArmClient(config_from_env())
        return self._client

    def default_parent(self, resource_type: str) -> str:
        """azapi's default ``parent_id`` for a resource group: the provider's subscription."""
        subscription = self.subscription()
        if resource_type.lower() == "microsoft.resources/resourcegroups" and subscription:
            return f"/subscriptions/{subscription}"
        raise InvalidResourceAddress(f"`parent_id` is required for {resource_type}")

    def subscription(self) -> str | None:
        """The provider's subscription (``subscription_id`` or ``ARM_SUBSCRIPTION_ID``), like azapi."""
        return self.config.get("subscription_id") or os.environ.get("ARM_SUBSCRIPTION_ID")

    def get_data_sources(self) -> list[type[DataSource]]:
        from tenant_replicator.tfprovider.data_source import AzapiResourceDataSource

        return [AzapiResourceDataSource]

    def get_resources(self) -> list[type[Resource]]:
        return [AzapiResource]
