"""FidelityTrigger: polls until the rescan is in the graph, fires once; errors become events."""

from __future__ import annotations

import asyncio

from tenant_replicator import iteration
from tenant_replicator_airflow.sensors.fidelity_trigger import FidelityTrigger

CAMPAIGN = {"campaign_id": "c1", "source_subscription": "s", "target_subscription": "t"}


def collect(trigger: FidelityTrigger) -> list:
    async def first():
        return [event async for event in trigger.run()]

    return asyncio.run(first())


def test_serialize_round_trips():
    path, kwargs = FidelityTrigger(CAMPAIGN, "run:target", 0.5).serialize()
    assert path == "tenant_replicator_airflow.sensors.fidelity_trigger.FidelityTrigger"
    assert FidelityTrigger(**kwargs).serialize() == (path, kwargs)


def test_waits_for_the_scan_then_fires_the_report(monkeypatch):
    answers = [None, None, {"overall_percent": 100.0}]
    monkeypatch.setattr(iteration, "fidelity", lambda settings, ctx, scan_id, failures: answers.pop(0))
    events = collect(FidelityTrigger(CAMPAIGN, "run:target", 0.01))
    assert [e.payload for e in events] == [{"status": "done", "report": {"overall_percent": 100.0}}]
    assert answers == []


def test_incomplete_scan_becomes_an_error_event(monkeypatch):
    def incomplete(settings, ctx, scan_id, failures):
        raise RuntimeError(f"target scan {scan_id} is incomplete: fidelity not computed")

    monkeypatch.setattr(iteration, "fidelity", incomplete)
    events = collect(FidelityTrigger(CAMPAIGN, "run:target", 0.01))
    assert events[0].payload["status"] == "error" and "incomplete" in events[0].payload["error"]
