"""TerraformApplyOperator: validate -> plan -> apply one campaign's Terraform working directory.

Thin by design: all logic (process group, timeouts, event parsing, the summary) lives in
``tenant_replicator.terraform``. What this adds is Airflow glue: templating, the XCom summary that
downstream tasks read even when the apply failed, and ``on_kill`` stopping terraform gracefully.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from tenant_replicator.terraform.runner import (
    DEFAULT_GRACE_S,
    Terraform,
    TerraformError,
    TerraformFailed,
    apply_summary,
    failure_message,
)

_EVENT_LOG_TYPES = {"apply_complete", "apply_errored", "diagnostic", "change_summary", "log"}


class TerraformApplyOperator(BaseOperator):
    """Apply the plan of ``working_dir``; returns (and pushes as ``apply_summary``) a JSON summary.

    :param working_dir: the Terraform working directory (holds the config and the local state).
    :param env: extra environment for terraform (may hold secrets: never logged).
    :param timeout: seconds for the apply (then SIGINT, ``grace_s``, SIGKILL of the group).
    :param parallelism: terraform ``-parallelism``.
    :param cli_config_file: ``TF_CLI_CONFIG_FILE`` (dev_overrides of the stand-in provider).
    :param run_init: run ``terraform init`` first; default: only when no ``cli_config_file``
        is given (dev-overridden providers need no init, DESIGN.md).
    """

    template_fields: Sequence[str] = ("working_dir", "env", "timeout", "parallelism", "cli_config_file")
    ui_color = "#7b42bc"

    def __init__(
        self,
        *,
        working_dir: str,
        env: dict[str, str] | None = None,
        timeout: float | str | None = None,
        parallelism: int | str | None = None,
        cli_config_file: str | None = None,
        run_init: bool | None = None,
        grace_s: float = DEFAULT_GRACE_S,
        max_failed_listed: int = 20,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.working_dir = working_dir
        self.env = env or {}
        self.timeout = timeout
        self.parallelism = parallelism
        self.cli_config_file = cli_config_file
        self.run_init = run_init
        self.grace_s = grace_s
        self.max_failed_listed = max_failed_listed
        self._terraform: Terraform | None = None

    def execute(self, context: Any) -> dict[str, Any]:
        ti = context["ti"]
        started = time.monotonic()
        timings: dict[str, float] = {}
        tf = self._make_runner()
        try:
            if self.run_init if self.run_init is not None else not self.cli_config_file:
                timings["init_s"] = _timed(tf.init)
            timings["validate_s"] = _timed(tf.validate)
            plan_started = time.monotonic()
            plan = tf.plan(timeout=_number(self.timeout, float), parallelism=_number(self.parallelism, int))
            timings["plan_s"] = round(time.monotonic() - plan_started, 3)
            result = None
            if plan.changes:
                result = tf.apply(plan.plan_file, timeout=_number(self.timeout, float),
                                  parallelism=_number(self.parallelism, int))
                timings["apply_s"] = result.duration_s
        except TerraformError as err:
            diagnostics = err.diagnostics[:self.max_failed_listed] if isinstance(err, TerraformFailed) else []
            ti.xcom_push(key="apply_error", value={"error": str(err)[:2000], "diagnostics": diagnostics})
            raise AirflowException(f"terraform failed before apply finished: {err}") from err
        finally:
            self._terraform = None
        summary = apply_summary(plan, result, self.max_failed_listed)
        summary.update(timings=timings, duration_s=round(time.monotonic() - started, 3))
        ti.xcom_push(key="apply_summary", value=summary)  # first, so a failed run is still recorded
        self.log.info("apply summary: %s", json.dumps({k: v for k, v in summary.items() if k != "failed"}))
        if not summary["ok"]:
            raise AirflowException(failure_message(summary))
        return summary

    def on_kill(self) -> None:
        """Called from the SIGTERM handler: only signal (SIGINT now, SIGKILL after grace); never block."""
        if self._terraform is not None:
            self._terraform.stop()

    def _make_runner(self) -> Terraform:
        workdir = Path(str(self.working_dir))
        if not workdir.is_dir():
            raise AirflowException(f"terraform working_dir {workdir} does not exist")
        env = {str(k): str(v) for k, v in (self.env or {}).items()}
        if self.cli_config_file:
            env["TF_CLI_CONFIG_FILE"] = str(self.cli_config_file)
        try:
            self._terraform = Terraform(workdir, env=env, grace_s=self.grace_s, on_line=self._log_event)
        except TerraformError as err:
            raise AirflowException(str(err)) from err
        return self._terraform

    def _log_event(self, line: str) -> None:
        """Mirror terraform's own one-line messages into the task log (no env values are in them)."""
        try:
            event = json.loads(line)
        except ValueError:
            self.log.info("terraform: %s", line[:500])
            return
        if event.get("type") in _EVENT_LOG_TYPES:
            level = logging.WARNING if event.get("@level") == "error" else logging.INFO
            self.log.log(level, "terraform: %s", str(event.get("@message", ""))[:500])


def _timed(step: Any) -> float:
    started = time.monotonic()
    step()
    return round(time.monotonic() - started, 3)


def _number(value: Any, kind: type) -> Any:
    """Templated numbers arrive as strings ("600", "None", ""): coerce, treating empties as unset."""
    if value is None or (isinstance(value, str) and value.strip() in ("", "None", "none", "null")):
        return None
    return kind(float(value)) if kind is int else kind(value)
