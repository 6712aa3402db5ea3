"""Iteration steps: partial scans are never reported; safety limits end the chain with the reason."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tenant_replicator import iteration, notify
from tenant_replicator.settings import load_settings

SRC, TGT = "3f2b8c1e-5d4a-4e7b-9c21-6a8f0d2e4b17", "c7e91a04-2b6f-4d38-a5e2-91f4b7c0d863"
CTX = {
    "campaign_id": "c-test",
    "source_subscription": SRC,
    "target_subscription": TGT,
    "iteration": 2,
    "streak_before": 1,
    "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    "run_id": "run-2",
    "objective": {"fidelity_percent": 95.0, "consecutive_successes": 3, "max_iterations": 2, "max_hours": 24.0},
}


class FakeStore:
    def close(self) -> None:
        pass


def test_incomplete_target_scan_is_never_reported(monkeypatch, tmp_path):
    import tenant_replicator.graph.store as store
    import tenant_replicator.scan as scan

    monkeypatch.setattr(store, "open_graph", lambda uri, name: FakeStore())
    scans = {TGT: {"scan_id": "run-2:target", "complete": False}}
    monkeypatch.setattr(scan, "latest_scan", lambda _store, sub: scans.get(sub))
    settings = load_settings({"TENANT_REPLICATOR_HOME": str(tmp_path)})
    with pytest.raises(RuntimeError, match="incomplete"):
        iteration.fidelity(settings, CTX, "run-2:target")
    assert iteration.fidelity(settings, CTX, "run-3:target") is None  # not this iteration's scan yet: wait


def test_max_iterations_ends_the_chain_with_a_safety_stop():
    apply = {"failed_count": 0, "timed_out": False, "ok": True}
    fidelity = {"overall_percent": 80.0, "matched": 8, "source_total": 10, "property_score_percent": 99.0}
    state, decision = iteration.record(None, CTX, apply, {"complete": True}, fidelity)
    assert decision["continue"] is False and decision["objective_met"] is False
    assert decision["stop_reason"] == "max iterations reached (2)"
    assert state["status"] == "stopped" and state["consecutive_successes"] == 2
    message = notify.chain_end_message("c-test", state, decision["stop_reason"], False, None)
    assert "safety stop: max iterations reached (2)" in message["text"]


def test_filters_param_scopes_generation_and_fidelity_alike():
    rows = [
        {"id": f"/subscriptions/{SRC}/resourceGroups/rg-app/providers/Microsoft.Network/virtualNetworks/v1"},
        {"id": f"/subscriptions/{SRC}/resourceGroups/RG-APP/providers/Microsoft.Storage/storageAccounts/s1"},
        {"id": f"/subscriptions/{SRC}/resourceGroups/rg-data/providers/Microsoft.Network/virtualNetworks/v2"},
    ]
    for row in rows:
        row["type"] = row["id"].split("/providers/")[1].rsplit("/", 1)[0]
    assert iteration.in_scope(CTX, rows) == rows  # no filters: the whole subscription
    scoped = CTX | {"filters": {"resource_groups": ["rg-app"], "resource_types": ["microsoft.network/VIRTUALNETWORKS"]}}
    assert [r["id"].rsplit("/", 1)[1] for r in iteration.in_scope(scoped, rows)] == ["v1"]
    groups_only = CTX | {"filters": {"resource_groups": ["rg-app"], "resource_types": []}}
    assert [r["id"].rsplit("/", 1)[1] for r in iteration.in_scope(groups_only, rows)] == ["v1", "s1"]


@pytest.mark.parametrize(
    ("value", "named"),
    [("rg-app", "filters: must be a mapping"), ({"groups": ["x"]}, "unknown key"), ({"resource_groups": [1]}, "")],
)
def test_malformed_filters_param_is_refused_naming_it(value, named):
    from tenant_replicator.campaign import CampaignInputError

    with pytest.raises(CampaignInputError, match="filters") as raised:
        iteration._scope(value)
    assert named in str(raised.value)
