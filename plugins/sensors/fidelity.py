"""FidelitySensor: waits for this iteration's target scan in the graph, then reports fidelity.

Reschedule mode by default, so waiting holds no worker slot. A target scan that finished
incomplete fails the sensor (or skips it with soft_fail): a partial scan is never reported.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from tenant_replicator import iteration
from tenant_replicator.settings import load_settings


class FidelitySensor(BaseSensorOperator):
    template_fields = ("campaign", "target_scan_id", "fidelity_target")

    def __init__(
        self,
        *,
        campaign: dict[str, Any] | str,
        target_scan_id: str,
        fidelity_target: float | str | None = None,
        mode: str = "reschedule",
        poke_interval: float = 5,
        timeout: float = 1800,
        **kwargs: Any,
    ) -> None:
        super().__init__(mode=mode, poke_interval=poke_interval, timeout=timeout, **kwargs)
        self.campaign = campaign
        self.target_scan_id = target_scan_id
        self.fidelity_target = fidelity_target

    def poke(self, context: Any) -> PokeReturnValue:
        if not isinstance(self.campaign, dict):
            raise TypeError(f"campaign must render to a dict (the prepare task's XCom), got {self.campaign!r}")
        report = iteration.fidelity(load_settings(), self.campaign, str(self.target_scan_id))
        if report is None:
            self.log.info("target scan %s not in the graph yet", self.target_scan_id)
            return PokeReturnValue(is_done=False)
        if self.fidelity_target not in (None, ""):
            report["objective_percent"] = float(self.fidelity_target)
        self.log.info(
            "fidelity %.1f %% (%s/%s matched, property score %.1f %%, %s pre-existing in target)",
            report["overall_percent"],
            report["matched"],
            report["source_total"],
            report["property_score_percent"],
            report["preexisting_target"],
        )
        return PokeReturnValue(is_done=True, xcom_value=report)
