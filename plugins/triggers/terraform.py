"""TerraformJobTrigger: waits in the triggerer for a detached converge job (see terraform/jobs.py).

Why: a deferred TerraformApplyOperator holds no worker slot while terraform runs; this trigger
polls the job record in the working directory (cheap file reads and /proc lookups) and fires once
with the job's result. The job enforces the apply timeout itself; the trigger's deadline is only a
safety net (timeout + grace + margin) after which it stops the job. ``on_kill`` (a user marked
the deferred task failed/success or cleared it) stops terraform cleanly; ``cleanup`` does not,
because it also runs on triggerer restarts, when the job must go on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from tenant_replicator.terraform import jobs

DEADLINE_MARGIN_S = 120.0


class TerraformJobTrigger(BaseTrigger):
    """Fires ``{"status": "done", "summary": {...}}`` or ``{"status": "error", "error": ...}``."""

    def __init__(
        self,
        working_dir: str,
        job_id: str,
        poll_interval: float = 5.0,
        deadline_s: float | None = None,
        grace_s: float = 30.0,
    ) -> None:
        super().__init__()
        self.working_dir = working_dir
        self.job_id = job_id
        self.poll_interval = float(poll_interval)
        self.deadline_s = deadline_s
        self.grace_s = float(grace_s)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "working_dir": self.working_dir,
                "job_id": self.job_id,
                "poll_interval": self.poll_interval,
                "deadline_s": self.deadline_s,
                "grace_s": self.grace_s,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        record = jobs.read_job(self.working_dir) or {}
        started = float(record.get("started_at") or record.get("created_at") or time.time())
        stop_sent = False
        while True:
            state = await asyncio.to_thread(jobs.job_state, self.working_dir, self.job_id)
            if state == "finished":
                yield TriggerEvent(jobs.read_result(self.working_dir, self.job_id))
                return
            if state == "lost":
                await asyncio.to_thread(jobs.stop_job, self.working_dir, self.job_id, 0)
                yield TriggerEvent(
                    {
                        "job_id": self.job_id,
                        "status": "error",
                        "error": f"terraform job {self.job_id} ended without a result "
                        f"(killed?); see {record.get('log_path')}",
                    }
                )
                return
            if (
                not stop_sent
                and self.deadline_s is not None
                and time.time() - started > self.deadline_s + self.grace_s + DEADLINE_MARGIN_S
            ):
                self.log.warning("terraform job %s past its deadline; stopping it", self.job_id)
                stop_sent = True
                await asyncio.to_thread(jobs.stop_job, self.working_dir, self.job_id, self.grace_s)
                continue
            await asyncio.sleep(self.poll_interval)

    async def on_kill(self) -> None:
        """The user acted on the deferred task: stop terraform (SIGINT, grace, SIGKILL)."""
        await asyncio.to_thread(jobs.stop_job, self.working_dir, self.job_id, self.grace_s)
