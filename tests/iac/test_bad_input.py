"""Bad input to generate(): a clear error or a skip with the reason, never a silently smaller file."""

from __future__ import annotations

import pytest

from tenant_replicator.iac.generate import generate

SRC = "9b00bc5e-1f2a-4c3d-8e4f-5a6b7c8d9e0f"
TGT = "c190c55a-0a1b-4c2d-9e3f-4a5b6c7d8e9f"
RG = f"/subscriptions/{SRC}/resourceGroups/rg"
GROUPS = [{"id": RG, "name": "rg", "location": "westeurope"}]


def _identity(name: str, **extra: object) -> dict:
    return {
        "id": f"{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}",
        "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
        "location": "westeurope",
        **extra,
    }


def _accounted(res, inputs: int) -> None:
    assert res.resource_count + len(res.skipped) + len(res.inline) == inputs


@pytest.mark.parametrize("payload", [{}, {"id": None}, {"id": "   "}, {"name": "x", "type": "A.B/c"}])
def test_payload_without_an_id_is_an_error(payload: dict) -> None:
    with pytest.raises(ValueError, match="resource without an id"):
        generate([payload], GROUPS, SRC, TGT, "n")


def test_payload_without_a_type_takes_the_type_of_its_id() -> None:
    payload = _identity("a")
    del payload["type"]
    res = generate([payload], GROUPS, SRC, TGT, "n")
    _accounted(res, 2)
    types = sorted(b["type"] for b in res.config["resource"]["azapi_resource"].values())
    assert types == [
        "Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31",
        "Microsoft.Resources/resourceGroups@2021-04-01",
    ]


@pytest.mark.parametrize("api", ["latest", "2023-13", "", 20230101, "2023-01-01-preview; drop"])
def test_unknown_api_version_is_skipped_with_the_reason(api: object) -> None:
    res = generate([_identity("a", apiVersion=api), _identity("b", apiVersion="2023-01-31")], GROUPS, SRC, TGT, "n")
    _accounted(res, 3)
    assert [s["id"].rsplit("/", 1)[-1] for s in res.skipped] == ["a"]
    assert "unknown api-version" in res.skipped[0]["reason"] and repr(api) in res.skipped[0]["reason"]


def test_preview_api_versions_are_accepted() -> None:
    res = generate([_identity("a", apiVersion="2024-05-01-preview")], GROUPS, SRC, TGT, "n")
    assert res.skipped == [] and res.resource_count == 2


def test_circular_references_are_broken_and_every_resource_is_emitted() -> None:
    ids = [f"{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{n}" for n in ("a", "b", "c")]
    payloads = [
        {**_identity(n), "tags": {"next": ids[(i + 1) % 3]}} for i, n in enumerate(("a", "b", "c"))
    ]  # a -> b -> c -> a
    res = generate(payloads, GROUPS, SRC, TGT, "n")
    _accounted(res, 4)
    tags = [b.get("tags", {}).get("next", "") for b in res.config["resource"]["azapi_resource"].values()]
    references = [t for t in tags if t.startswith("${azapi_resource.")]
    literals = [t for t in tags if t.startswith(f"/subscriptions/{TGT}/")]
    assert len(references) == 2 and len(literals) == 1  # one edge of the cycle became the literal target id


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("bad?name", "which no Azure resource name may contain"),
        ("a<b>", "which no Azure resource name may contain"),
        ("trailing.", "ends with '.'"),
        ("tab\tname", "which no Azure resource name may contain"),
    ],
)
def test_names_impossible_to_make_valid_are_skipped_with_the_reason(name: str, why: str) -> None:
    res = generate([_identity(name, apiVersion="2023-01-31")], GROUPS, SRC, TGT, "n")
    _accounted(res, 2)
    assert len(res.skipped) == 1 and why in res.skipped[0]["reason"], res.skipped
