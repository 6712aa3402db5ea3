"""FidelitySensor: waits for this iteration's target scan in the graph, then reports fidelity.

Reschedule mode by default, so waiting holds no worker slot; `deferrable=True` waits in the
triggerer instead (FidelityTrigger). A target scan that finished incomplete fails the sensor
(or skips it with soft_fail): a partial scan is never reported.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from tenant_replicator import iteration
from tenant_replicator.settings import load_settings


class FidelitySensor(BaseSensorOperator):
    template_fields = ("campaign", "target_scan_id", "fidelity_target", "deferrable")

    def __init__(
        self,
        *,
        campaign: dict[str, Any] | str,
        target_scan_id: str,
        fidelity_target: float | str | None = None,
        mode: str = "reschedule",
        poke_interval: float = 5,
        timeout: float = 1800,
        deferrable: bool | str = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(mode=mode, poke_interval=poke_interval, timeout=timeout, **kwargs)
        self.campaign = campaign
        self.target_scan_id = target_scan_id
        self.fidelity_target = fidelity_target
        self.deferrable = deferrable

    def execute(self, context: Any) -> Any:
        if str(self.deferrable).lower() not in {"true", "1"}:
            return super().execute(context)
        from datetime import timedelta

        from tenant_replicator_airflow.sensors.fidelity_trigger import FidelityTrigger

        self._check_campaign()
        self.defer(
            trigger=FidelityTrigger(self.campaign, str(self.target_scan_id), self.poke_interval, _failures(context)),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def execute_complete(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        if event.get("status") != "done":
            from airflow.sdk.exceptions import AirflowException, AirflowSkipException

            error = f"fidelity not computed: {event.get('error')}"
            raise AirflowSkipException(error) if self.soft_fail else AirflowException(error)
        return self._finish(event["report"])

    def _check_campaign(self) -> None:
        if not isinstance(self.campaign, dict):
            raise TypeError(f"campaign must render to a dict (the prepare task's XCom), got {self.campaign!r}")

    def poke(self, context: Any) -> PokeReturnValue:
        self._check_campaign()
        report = iteration.fidelity(load_settings(), self.campaign, str(self.target_scan_id), _failures(context))
        if report is None:
            self.log.info("target scan %s not in the graph yet", self.target_scan_id)
            return PokeReturnValue(is_done=False)
        return PokeReturnValue(is_done=True, xcom_value=self._finish(report))

    def _finish(self, report: dict[str, Any]) -> dict[str, Any]:
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
        return report


def _failures(context: Any) -> list[dict[str, Any]]:
    """The apply's failed resources (so unmatched ones carry their ARM error), if the apply reported."""
    summary = context["ti"].xcom_pull(task_ids="apply", key="apply_summary") or {}
    return list(summary.get("failed") or [])
