"""TerraformApplyOperator: converge one campaign's Terraform working directory (plan the difference, apply it).

Thin by design: the logic (checks, destroy guard, backups, process groups, event parsing, imports,
detached jobs) lives in ``tenant_replicator.terraform``. This adds Airflow glue: templating, the
backend connection, the XCom summary that downstream tasks read even when the apply failed,
deferral to the triggerer, and ``on_kill`` stopping terraform gracefully.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from airflow.sdk import BaseHook, BaseOperator
from airflow.sdk.exceptions import AirflowException

from tenant_replicator.terraform import backend, jobs
from tenant_replicator.terraform.converge import ConvergeOptions, converge, flag, templated_options
from tenant_replicator.terraform.runner import DEFAULT_GRACE_S, Terraform, TerraformError, failure_message

_EVENT_LOG_TYPES = {"apply_complete", "apply_errored", "diagnostic", "change_summary", "log"}


class TerraformApplyOperator(BaseOperator):
    """Converge ``working_dir``; returns (and pushes as ``apply_summary``) the outcome summary.

    :param working_dir: the campaign's Terraform working directory (config + local state).
    :param env: extra environment for terraform (may hold secrets: never logged).
    :param variables: Terraform input variables, passed as ``TF_VAR_*`` (never on the command line).
    :param timeout: seconds for plan and for apply (then SIGINT, ``grace_s``, SIGKILL of the group).
    :param parallelism: terraform ``-parallelism``.
    :param allow_destroy: apply plans that delete or replace target resources (default: refuse).
    :param adopt_existing: import target resources that exist but were not created by this campaign.
    :param cli_config_file: ``TF_CLI_CONFIG_FILE`` (dev_overrides of the stand-in provider).
    :param run_init: run ``terraform init``; default: when no ``cli_config_file`` or with a backend.
    :param backend_conn_id: Airflow connection of an azurerm state backend (see terraform/backend.py).
    :param backend_key: state blob name when the connection has no ``key``.
    :param deferrable: run terraform detached and wait in the triggerer (no worker slot held).
    :param campaign_tf_dir: the campaign's Terraform directory whose secret store gives ``TF_VAR_*`` for
        sensitive variables (``iac.secrets.tf_var_env``); default ``working_dir`` (a stack passes the campaign's).
    :param stack_summary: stacks mode: the merged summary of the per-stack applies; when set, it is
        published with the same XCom key and failure semantics instead of running terraform here.
    """

    template_fields: Sequence[str] = (
        "working_dir",
        "env",
        "variables",
        "timeout",
        "parallelism",
        "allow_destroy",
        "cli_config_file",
        "backend_conn_id",
        "backend_key",
        "deferrable",
        "adopt_existing",
        "campaign_tf_dir",
        "stack_summary",
    )
    ui_color = "#7b42bc"

    def __init__(
        self,
        *,
        working_dir: str,
        env: dict[str, str] | None = None,
        variables: dict[str, Any] | None = None,
        timeout: float | str | None = None,
        parallelism: int | str | None = None,
        allow_destroy: bool | str = False,
        adopt_existing: bool | str = False,
        cli_config_file: str | None = None,
        run_init: bool | None = None,
        backend_conn_id: str | None = None,
        backend_key: str = "terraform.tfstate",
        deferrable: bool | str = False,
        poll_interval: float = 5.0,
        grace_s: float = DEFAULT_GRACE_S,
        max_failed_listed: int = 20,
        campaign_tf_dir: str | None = None,
        stack_summary: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.working_dir, self.env, self.variables = working_dir, env or {}, variables or {}
        self.timeout, self.parallelism, self.allow_destroy = timeout, parallelism, allow_destroy
        self.adopt_existing = adopt_existing
        self.cli_config_file, self.run_init = cli_config_file, run_init
        self.backend_conn_id, self.backend_key = backend_conn_id, backend_key
        self.deferrable, self.poll_interval, self.grace_s = deferrable, poll_interval, grace_s
        self.max_failed_listed = max_failed_listed
        self.campaign_tf_dir, self.stack_summary = campaign_tf_dir, stack_summary
        self._terraform: Terraform | None = None

    def execute(self, context: Any) -> dict[str, Any] | None:
        if isinstance(self.stack_summary, dict) and self.stack_summary:
            self.log.info(
                "stacks mode: publishing the merged summary of %d stack(s)", len(self.stack_summary["stacks"])
            )
            return self._finish(context, self.stack_summary)
        workdir = self._workdir()
        env = self._environment(workdir)
        options = self._options()
        if flag(self.deferrable):
            from tenant_replicator_airflow.triggers.terraform import TerraformJobTrigger

            record = jobs.start_job(workdir, asdict(options), env={**os.environ, **env}, grace_s=self.grace_s)
            self.log.info("terraform job started: %s", jobs.record_fields(record))
            self.defer(
                trigger=TerraformJobTrigger(
                    str(workdir),
                    record["job_id"],
                    self.poll_interval,
                    deadline_s=_deadline(options),
                    grace_s=self.grace_s,
                ),
                method_name="execute_complete",
            )
        self._terraform = self._make_runner(env)
        try:
            summary = converge(self._terraform, options)
        except TerraformError as err:
            diagnostics = getattr(err, "diagnostics", [])[: self.max_failed_listed]
            return self._fail_before_apply(context, str(err), diagnostics)
        finally:
            self._terraform = None
        return self._finish(context, summary)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> dict[str, Any] | None:
        """Resumed from the trigger: same XCom and failure semantics as the synchronous path."""
        if not event or event.get("status") != "done":
            error = (event or {}).get("error", "terraform job returned no result")
            return self._fail_before_apply(context, error, (event or {}).get("diagnostics", []))
        return self._finish(context, event["summary"])

    def on_kill(self) -> None:
        """SIGTERM handler: only signal (SIGINT now, SIGKILL after grace); never block."""
        if self._terraform is not None:
            self._terraform.stop()

    # -- glue ---------------------------------------------------------------------------------------

    def _finish(self, context: Any, summary: dict[str, Any]) -> dict[str, Any]:
        context["ti"].xcom_push(key="apply_summary", value=summary)  # first: a failed run is still recorded
        self.log.info("apply summary: %s", json.dumps({k: v for k, v in summary.items() if k != "failed"}))
        if not summary["ok"]:
            raise AirflowException(failure_message(summary))
        return summary

    def _fail_before_apply(self, context: Any, error: str, diagnostics: list[dict[str, Any]]) -> None:
        context["ti"].xcom_push(key="apply_error", value={"error": error[:2000], "diagnostics": diagnostics})
        raise AirflowException(f"terraform failed before apply finished: {error}")

    def _workdir(self) -> Path:
        workdir = Path(str(self.working_dir))
        if not workdir.is_dir():
            raise AirflowException(f"terraform working_dir {workdir} does not exist")
        return workdir

    def _environment(self, workdir: Path) -> dict[str, str]:
        """Secret TF_VAR_* of the campaign, then ``env`` and ``variables``; never logged."""
        from tenant_replicator.iac.secrets import tf_var_env

        env = tf_var_env(Path(str(self.campaign_tf_dir or workdir)))
        env.update(_identity_env())  # the campaign identity for terraform (never logged)
        env.update({str(k): str(v) for k, v in (self.env or {}).items()})
        env.update({f"TF_VAR_{k}": v if isinstance(v, str) else json.dumps(v) for k, v in self.variables.items()})
        if self.cli_config_file:
            env["TF_CLI_CONFIG_FILE"] = str(self.cli_config_file)
        if self.backend_conn_id:
            conn = BaseHook.get_connection(self.backend_conn_id)
            env.update(
                backend.configure_azurerm(workdir, conn.login, conn.password, conn.extra_dejson or {}, self.backend_key)
            )
        return env

    def _options(self) -> ConvergeOptions:
        run_init = self.run_init if self.run_init is not None else not self.cli_config_file
        return templated_options(
            self.timeout,
            self.parallelism,
            self.allow_destroy,
            max_listed=self.max_failed_listed,
            run_init=run_init or bool(self.backend_conn_id),
            adopt_existing=flag(self.adopt_existing),
        )

    def _make_runner(self, env: dict[str, str] | None = None) -> Terraform:
        try:
            return Terraform(
                self._workdir(),
                env=self._environment(self._workdir()) if env is None else env,
                grace_s=self.grace_s,
                on_line=self._log_event,
            )
        except TerraformError as err:
            raise AirflowException(str(err)) from err

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


def _identity_env() -> dict[str, str]:
    """ARM_* for the real azapi provider, or the stand-in's TENANT_REPLICATOR_ARM_* (arm/credentials.py)."""
    from tenant_replicator.arm.credentials import resolve_source, terraform_env_for
    from tenant_replicator.settings import load_settings

    settings = load_settings()
    return terraform_env_for(resolve_source(settings), settings)


def _deadline(options: ConvergeOptions) -> float | None:
    return None if options.timeout is None else 2 * options.timeout  # plan + apply
