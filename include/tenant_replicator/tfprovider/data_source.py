"""``data "azapi_resource"``: read one existing ARM resource, with real azapi v2's schema.

Why: per-resource-group stacks (``terraform/stacks.py``) reference a resource of another stack
through this lookup instead of a Terraform reference, so the stand-in must have it for stacks to
run offline. The schema is azapi v2's (``internal/services/azapi_resource_data_source.go``):
the same attribute names, types, nesting and flags, so a config written for one works with the
other; ``headers``, ``query_parameters`` and ``retry`` are accepted (``headers``/``query_parameters``
are sent with the GET, ``retry`` is the ARM client's own retry offline).
"""

from __future__ import annotations

from typing import Any

import requests
from tf.gen import tfplugin_pb2 as pb
from tf.iface import Config, DataSource, ReadDataContext, State
from tf.schema import Attribute, Block, NestedBlock, NestMode, Schema
from tf.types import Bool, List, Map, Number, String, TfType, Unknown
from tf.utils import Diagnostics

from tenant_replicator.tfprovider.arm import ArmError
from tenant_replicator.tfprovider.dynamic import decode_dynamic, encode_dynamic
from tenant_replicator.tfprovider.ids import (
    RESOURCE_GROUPS,
    InvalidResourceAddress,
    build_resource_id,
    id_type,
    parent_of,
    parse_type,
)

SUBSCRIPTIONS = "microsoft.resources/subscriptions"


class _Passthrough(TfType):
    """Values of nested attributes travel as plain msgpack maps/lists: nothing to convert."""

    def encode(self, value: Any) -> Any:
        return value

    def decode(self, value: Any) -> Any:
        return value

    def semantically_equal(self, a_decoded: Any, b_decoded: Any) -> bool:
        return a_decoded == b_decoded

    def tf_type(self) -> bytes:
        return b""


class NestedAttribute(Attribute):
    """A protocol-6 nested attribute (``schema.SingleNestedAttribute`` / ``ListNestedAttribute``),
    which the ``tf`` package has no class for."""

    _NESTING = {"single": pb.Schema.Object.NestingMode.SINGLE, "list": pb.Schema.Object.NestingMode.LIST}

    def __init__(self, name: str, nesting: str, attributes: list[Attribute], **flags: Any) -> None:
        super().__init__(name, _Passthrough(), **flags)
        self.nesting = nesting
        self.attributes = attributes

    def to_pb(self) -> pb.Schema.Attribute:
        attribute = super().to_pb()
        attribute.ClearField("type")
        attribute.nested_type.CopyFrom(
            pb.Schema.Object(attributes=[a.to_pb() for a in self.attributes], nesting=self._NESTING[self.nesting])
        )
        return attribute


def data_source_schema() -> Schema:
    """azapi v2 ``data "azapi_resource"``: attributes, flags and the ``timeouts`` block."""
    identity = [
        Attribute("type", String(), computed=True),
        Attribute("principal_id", String(), computed=True),
        Attribute("tenant_id", String(), computed=True),
        Attribute("identity_ids", List(String()), computed=True),
    ]
    retry = [
        Attribute("error_message_regex", List(String()), required=True),
        Attribute("interval_seconds", Number(), optional=True, computed=True),
        Attribute("max_interval_seconds", Number(), optional=True, computed=True),
        Attribute("multiplier", Number(), optional=True, computed=True, deprecated=True),
        Attribute("randomization_factor", Number(), optional=True, computed=True, deprecated=True),
    ]
    return Schema(
        attributes=[
            Attribute("id", String(), computed=True, description="The ID of the Azure resource."),
            Attribute("type", String(), required=True, description="`<Namespace>/<type>@<api-version>`."),
            Attribute("name", String(), optional=True, computed=True),
            Attribute("parent_id", String(), optional=True, computed=True),
            Attribute("resource_id", String(), optional=True, computed=True),
            Attribute("location", String(), computed=True),
            NestedAttribute("identity", "list", identity, computed=True),
            Attribute("response_export_values", _DynamicArg(), optional=True),
            Attribute("ignore_not_found", Bool(), optional=True),
            Attribute("exists", Bool(), computed=True),
            Attribute("output", _DynamicArg(), computed=True),
            Attribute("tags", Map(String()), computed=True),
            NestedAttribute("retry", "single", retry, optional=True),
            Attribute("headers", Map(String()), optional=True),
            Attribute("query_parameters", Map(List(String())), optional=True),
        ],
        block_types=[
            NestedBlock("timeouts", NestMode.Single, Block(attributes=[Attribute("read", String(), optional=True)]))
        ],
    )


class _DynamicArg(_Passthrough):
    def tf_type(self) -> bytes:
        return b'"dynamic"'


# ---------------------------------------------------------------- pure helpers


def _known(value: Any) -> bool:
    return value is not None and value is not Unknown


def config_errors(config: dict[str, Any]) -> list[str]:
    """azapi's ValidateConfig: which of name/parent_id/resource_id go together (messages verbatim)."""
    rtype = config.get("type")
    if not isinstance(rtype, str):
        return []
    azure_type = rtype.split("@")[0].lower()
    name, parent, rid = (config.get(k) for k in ("name", "parent_id", "resource_id"))
    errors = []
    if name is None and parent is not None:
        errors.append('The argument "name" is required when the argument "parent_id" is set')
    if name is not None and parent is None and azure_type != RESOURCE_GROUPS:
        errors.append('The argument "parent_id" is required when the argument "name" is set')
    if name is None and rid is None and azure_type != SUBSCRIPTIONS:
        errors.append('One of the arguments "name" or "resource_id" must be set')
    if name is not None and rid is not None:
        errors.append('Exactly one of the arguments "name" or "resource_id" can be set')
    return errors


def lookup_id(config: dict[str, Any], subscription: str | None) -> tuple[str, str, str]:
    """(ARM ID, type without version, api-version) the lookup reads; ``InvalidResourceAddress`` if not buildable."""
    resource_type, api_version = parse_type(config["type"])
    name = config.get("name")
    if _known(name):
        parent = config.get("parent_id")
        if not _known(parent) and resource_type.lower() == RESOURCE_GROUPS:
            if not subscription:
                raise InvalidResourceAddress("`parent_id` is required: the provider has no subscription_id")
            parent = f"/subscriptions/{subscription}"
        return build_resource_id(resource_type, name, parent), resource_type, api_version
    rid = config.get("resource_id")
    if not _known(rid) and resource_type.lower() == SUBSCRIPTIONS and subscription:
        rid = f"/subscriptions/{subscription}"
    if not _known(rid):
        raise InvalidResourceAddress("one of `name` or `resource_id` must be set")
    if id_type(rid).lower() != resource_type.lower():
        raise InvalidResourceAddress(f"resource_id {rid} is not of type {resource_type}")
    return rid, resource_type, api_version


def _identity(body: Any) -> list[dict[str, Any]] | None:
    found = body.get("identity") if isinstance(body, dict) else None
    if not isinstance(found, dict) or not found.get("type"):
        return None
    ids = found.get("userAssignedIdentities")
    return [
        {
            "type": found.get("type"),
            "principal_id": found.get("principalId"),
            "tenant_id": found.get("tenantId"),
            "identity_ids": sorted(ids) if isinstance(ids, dict) else None,
        }
    ]


def read_state(config: dict[str, Any], rid: str, response: dict[str, Any] | None, export: Any) -> State:
    """The data source's state (wire-ready: ``output`` encoded as a dynamic value)."""
    from tenant_replicator.tfprovider.provider import export_output, normal_location

    state: dict[str, Any] = {k: config.get(k) for k in _ARGUMENTS}
    state.update(
        id=rid,
        name=rid.rstrip("/").rsplit("/", 1)[-1],
        parent_id=parent_of(rid),
        resource_id=rid,
        exists=response is not None,
        location=None,
        identity=None,
        tags=None,
        output=None,
    )
    if response is not None:
        state["tags"] = {str(k): str(v) for k, v in (response.get("tags") or {}).items()}
        location = response.get("location")
        state["location"] = normal_location(location) if isinstance(location, str) else None
        state["identity"] = _identity(response)
        state["output"] = encode_dynamic(export_output(response, export))
    state["response_export_values"] = encode_dynamic(export) if _known(export) else None
    return state


_ARGUMENTS = ("type", "ignore_not_found", "retry", "headers", "query_parameters", "timeouts")


# ---------------------------------------------------------------- data source


class AzapiResourceDataSource(DataSource):
    """GET one resource by ``name`` + ``parent_id`` (or ``resource_id``); 404 fails unless ``ignore_not_found``."""

    def __init__(self, provider: Any) -> None:
        self.provider = provider

    @classmethod
    def get_name(cls) -> str:
        return "resource"

    @classmethod
    def get_schema(cls) -> Schema:
        return data_source_schema()

    def validate(self, diags: Diagnostics, type_name: str, config: Config) -> None:
        for message in config_errors(config or {}):
            diags.add_error("Invalid configuration", message)
        rtype = (config or {}).get("type")
        if isinstance(rtype, str):
            try:
                parse_type(rtype)
            except InvalidResourceAddress as exc:
                diags.add_error("Invalid `type`", str(exc), path=["type"])

    def read(self, ctx: ReadDataContext, config: Config) -> State | None:
        config = dict(config or {})
        export = decode_dynamic(config.get("response_export_values"))
        try:
            rid, _, api_version = lookup_id(config, self.provider.subscription())
            response = self.provider.client.get(
                rid, api_version, headers=config.get("headers"), query=config.get("query_parameters")
            )
        except InvalidResourceAddress as exc:
            ctx.diagnostics.add_error("Invalid configuration", str(exc))
            return None
        except ArmError as exc:
            ctx.diagnostics.add_error("Failed to retrieve resource", f"retrieving resource {exc}")
            return None
        except requests.RequestException as exc:
            ctx.diagnostics.add_error("Failed to retrieve resource", f"{type(exc).__name__}: {exc}")
            return None
        if response is None and not config.get("ignore_not_found"):
            ctx.diagnostics.add_error("Resource not found", f'resource "{rid}" not found')
            return None
        return read_state(config, rid, response, export)
