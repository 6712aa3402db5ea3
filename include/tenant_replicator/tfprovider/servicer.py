"""Where the stand-in needs more than ``tf``'s generic gRPC servicer gives.

- ``UpgradeResourceState``: ``tf`` passes JSON state through unencoded, but a dynamic attribute
  sits in JSON state as ``{"value", "type"}`` and must go back as the msgpack pair; and it only
  calls ``upgrade`` when schema versions differ, which would skip that conversion.
- ``PlanResourceChange``: replacement rules like azapi's, which a per-attribute flag cannot say:
  an api-version bump in ``type`` is an in-place update, a different resource type or a
  different location (after normalising "West Europe" to "westeurope") replaces.
"""

from __future__ import annotations

import json
from typing import Any

import grpc
from tf.gen import tfplugin_pb2 as pb
from tf.provider import ProviderServicer
from tf.utils import Diagnostics, _to_attribute_path, read_dynamic_value, to_dynamic_value

from tenant_replicator.tfprovider.dynamic import Dynamic, state_json_to_wire
from tenant_replicator.tfprovider.ids import same_resource_type
from tenant_replicator.tfprovider.provider import normal_location


def upgrade_state(state: dict, attribute_types: dict[str, Any]) -> dict:
    """JSON state -> msgpack-ready state for the current schema (unknown keys dropped, new ones null)."""
    return {
        name: (state_json_to_wire(state.get(name)) if isinstance(kind, Dynamic) else state.get(name))
        for name, kind in attribute_types.items()
    }


def replacement_reasons(prior: dict | None, planned: dict | None) -> list[str]:
    """Attributes whose change forces a new resource beyond the simple per-attribute flags."""
    if not prior or not planned:
        return []
    reasons = []
    old_type, new_type = prior.get("type"), planned.get("type")
    if isinstance(old_type, str) and isinstance(new_type, str) and not same_resource_type(old_type, new_type):
        reasons.append("type")
    old_loc, new_loc = prior.get("location"), planned.get("location")
    if isinstance(old_loc, str) and isinstance(new_loc, str) and normal_location(old_loc) != normal_location(new_loc):
        reasons.append("location")
    return reasons


class AzapiServicer(ProviderServicer):
    def UpgradeResourceState(self, request: pb.UpgradeResourceState.Request, context: grpc.ServicerContext):  # noqa: N802
        diags = Diagnostics()
        if len(request.raw_state.flatmap) != 0:
            diags.add_error("UpgradeResourceState with flatmap state is not supported")
            return pb.UpgradeResourceState.Response(diagnostics=diags.to_pb())
        try:
            attrs = {name: a.type for name, a in self._get_res_attrs(request.type_name).items()}
            upgraded = upgrade_state(json.loads(request.raw_state.json), attrs)
        except (ValueError, KeyError) as exc:
            diags.add_error("Cannot read the stored state", f"{type(exc).__name__}: {exc}")
            return pb.UpgradeResourceState.Response(diagnostics=diags.to_pb())
        return pb.UpgradeResourceState.Response(upgraded_state=to_dynamic_value(upgraded), diagnostics=diags.to_pb())

    def PlanResourceChange(self, request: pb.PlanResourceChange.Request, context: grpc.ServicerContext):  # noqa: N802
        response = super().PlanResourceChange(request, context)
        if response.planned_state.msgpack:
            prior = read_dynamic_value(request.prior_state)
            planned = read_dynamic_value(response.planned_state)
            present = {tuple(s.attribute_name for s in p.steps) for p in response.requires_replace}
            for name in replacement_reasons(prior, planned):
                if (name,) not in present:
                    response.requires_replace.add().CopyFrom(_to_attribute_path([name]))
        return response
