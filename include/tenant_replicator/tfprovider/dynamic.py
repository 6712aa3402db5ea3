"""A cty ``dynamic`` attribute type for the ``tf`` package, which has none.

The real azapi provider takes ``body`` as an HCL object (a dynamic attribute), so the stand-in
must too, or the same generated config would not work with both. On the wire terraform sends a
dynamic value as the msgpack pair ``[type JSON bytes, value]``; in JSON state it stores it as
``{"value": v, "type": t}``. Both forms are type-directed: a nested attribute of type
``"dynamic"`` is itself wrapped again, so decoding walks the value alongside its type.
"""

from __future__ import annotations

import json
from typing import Any

from tf.types import TfType, Unknown

DYNAMIC = "dynamic"


def _type_bytes(cty_type: Any) -> bytes:
    return json.dumps(cty_type, separators=(",", ":"), sort_keys=True).encode()


def infer_type(value: Any) -> Any:
    """cty type JSON for a plain Python value, as terraform would type a JSON literal."""
    if value is None or value is Unknown:
        return DYNAMIC
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return ["object", {str(k): infer_type(v) for k, v in value.items()}]
    if isinstance(value, (list, tuple)):
        return ["tuple", [infer_type(v) for v in value]]
    raise TypeError(f"cannot express {type(value).__name__} as a terraform value")


def _wire_value(value: Any, cty_type: Any) -> Any:
    """Python value -> msgpack-ready value for a known cty type (nested dynamics become pairs)."""
    if value is Unknown:
        return Unknown
    if cty_type == DYNAMIC:
        return encode_dynamic(value)
    if value is None:
        return None
    if isinstance(cty_type, list):
        kind, inner = cty_type
        if kind == "object":
            return {k: _wire_value(value.get(k), t) for k, t in inner.items()}
        if kind == "tuple":
            return [_wire_value(v, t) for v, t in zip(value, inner, strict=False)]
        if kind in ("list", "set"):
            return [_wire_value(v, inner) for v in value]
        if kind == "map":
            return {k: _wire_value(v, inner) for k, v in value.items()}
    return value


def encode_dynamic(value: Any) -> Any:
    """Python value -> the msgpack form of a dynamic value: ``[type bytes, value]``, nil or unknown."""
    if value is None or value is Unknown:
        return value
    cty_type = infer_type(value)
    return [_type_bytes(cty_type), _wire_value(value, cty_type)]


def _python_value(value: Any, cty_type: Any) -> Any:
    """msgpack value of a known cty type -> plain Python (nested dynamic pairs unwrapped)."""
    if value is Unknown or value is None:
        return value
    if cty_type == DYNAMIC:
        return decode_dynamic(value)
    if isinstance(cty_type, list):
        kind, inner = cty_type
        if kind == "object":
            return {k: _python_value(value.get(k), t) for k, t in inner.items()}
        if kind == "tuple":
            return [_python_value(v, t) for v, t in zip(value, inner, strict=False)]
        if kind in ("list", "set"):
            return [_python_value(v, inner) for v in value]
        if kind == "map":
            return {k: _python_value(v, inner) for k, v in value.items()}
    return value


def decode_dynamic(value: Any) -> Any:
    """The msgpack form of a dynamic value -> plain Python (dict, list, str, number, bool, None)."""
    if value is None or value is Unknown:
        return value
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"a dynamic value must be a [type, value] pair, got {type(value).__name__}")
    raw_type, inner = value
    if isinstance(raw_type, (bytes, bytearray)):
        raw_type = raw_type.decode()
    return _python_value(inner, json.loads(raw_type))


def _state_value(value: Any, cty_type: Any) -> Any:
    """JSON-state value of a known cty type -> msgpack-ready value."""
    if value is None:
        return None
    if cty_type == DYNAMIC:
        return state_json_to_wire(value)
    if isinstance(cty_type, list):
        kind, inner = cty_type
        if kind == "object":
            return {k: _state_value(value.get(k), t) for k, t in inner.items()}
        if kind == "tuple":
            return [_state_value(v, t) for v, t in zip(value, inner, strict=False)]
        if kind in ("list", "set"):
            return [_state_value(v, inner) for v in value]
        if kind == "map":
            return {k: _state_value(v, inner) for k, v in value.items()}
    return value


def state_json_to_wire(value: Any) -> Any:
    """``{"value": v, "type": t}`` from JSON state -> the msgpack pair terraform expects back."""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"value", "type"}:
        raise ValueError("a dynamic value in JSON state must be {'value': ..., 'type': ...}")
    cty_type = value["type"]
    return [_type_bytes(cty_type), _state_value(value["value"], cty_type)]


def _canonical(value: Any) -> Any:
    """A comparable form in which True and 1 differ (Python's == conflates them)."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, dict):
        return ("object", {k: _canonical(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return ("tuple", [_canonical(v) for v in value])
    if value is Unknown:
        return ("unknown",)
    return value


class Dynamic(TfType):
    """cty ``dynamic``: any JSON-like value; its concrete type travels with it."""

    def encode(self, value: Any) -> Any:
        return encode_dynamic(value)

    def decode(self, value: Any) -> Any:
        return decode_dynamic(value)

    def semantically_equal(self, a_decoded: Any, b_decoded: Any) -> bool:
        return _canonical(a_decoded) == _canonical(b_decoded)

    def tf_type(self) -> bytes:
        return b'"dynamic"'
