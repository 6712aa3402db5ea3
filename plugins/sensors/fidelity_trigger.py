"""FidelityTrigger: the deferrable form of FidelitySensor's poke, waiting in the triggerer.

Polls the graph for this iteration's target scan off the event loop (the graph clients are
blocking) and fires once: the fidelity report, or an error for an incomplete scan.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent


class FidelityTrigger(BaseTrigger):
    """Fires `{"status": "done", "report": {...}}` or `{"status": "error", "error": "..."}`."""

    def __init__(
        self,
        campaign: dict[str, Any],
        target_scan_id: str,
        poll_interval: float = 5.0,
        apply_failures: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__()
        self.campaign = campaign
        self.target_scan_id = target_scan_id
        self.poll_interval = float(poll_interval)
        self.apply_failures = apply_failures or []

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "campaign": self.campaign,
                "target_scan_id": self.target_scan_id,
                "poll_interval": self.poll_interval,
                "apply_failures": self.apply_failures,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from tenant_replicator import iteration
        from tenant_replicator.settings import load_settings

        while True:
            try:
                report = await asyncio.to_thread(
                    iteration.fidelity, load_settings(), self.campaign, self.target_scan_id, self.apply_failures
                )
            except Exception as error:  # incomplete scan, graph gone: the sensor decides (fail / soft_fail)
                yield TriggerEvent({"status": "error", "error": str(error)[:2000]})
                return
            if report is not None:
                yield TriggerEvent({"status": "done", "report": report})
                return
            await asyncio.sleep(self.poll_interval)
