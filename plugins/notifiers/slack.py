"""Send tenant-replicator Slack messages through the Slack provider's webhook hook.

No connection configured -> the message is logged (redacted) and the task goes on: alerts must
never be the reason an iteration fails.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import BaseNotifier

from tenant_replicator import notify

log = logging.getLogger(__name__)
DEFAULT_SLACK_CONN_ID = "tenant_replicator_slack"


def send_slack(conn_id: str | None, message: dict[str, Any]) -> bool:
    """True when Slack accepted the message.

    A `slackwebhook` connection posts to its incoming webhook; a `slack` (bot token) connection calls
    chat.postMessage on the channel in its extra `channel` (default `#tenant-replicator`).
    """
    from airflow.sdk import BaseHook

    connection = _connection(BaseHook, conn_id) if conn_id else None
    if connection is None:
        log.info("Slack connection %r not configured; alert logged only: %s", conn_id, message["text"])
        return False
    try:
        if connection.conn_type == "slack":
            from airflow.providers.slack.hooks.slack import SlackHook

            channel = (connection.extra_dejson or {}).get("channel") or "#tenant-replicator"
            SlackHook(slack_conn_id=conn_id).call(
                "chat.postMessage", json={"channel": channel, "text": message["text"], "blocks": message["blocks"]}
            )
        else:
            from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

            SlackWebhookHook(slack_webhook_conn_id=conn_id).send(text=message["text"], blocks=message["blocks"])
    except Exception as error:  # an alert failing must not fail the iteration
        log.warning("Slack alert via %r failed: %s", conn_id, notify.redact(str(error)))
        return False
    return True


def _connection(base_hook: Any, conn_id: str) -> Any | None:
    try:
        return base_hook.get_connection(conn_id)
    except Exception:  # not defined (or the secrets backend is down): alerts degrade to the log
        return None


def run_url(context: dict[str, Any]) -> str | None:
    """Link to the run in the UI (the api-server's base_url + the run page)."""
    from airflow.configuration import conf

    base = conf.get("api", "base_url", fallback="") or ""
    dag_run = context.get("dag_run")
    if not base or dag_run is None:
        return None
    return f"{base.rstrip('/')}/dags/{dag_run.dag_id}/runs/{dag_run.run_id}"


class TaskFailureSlackNotifier(BaseNotifier):
    """on_failure_callback: which step failed, in which iteration, with the (redacted) error."""

    template_fields = ("slack_conn_id",)

    def __init__(self, slack_conn_id: str = DEFAULT_SLACK_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.slack_conn_id = slack_conn_id

    def notify(self, context: dict[str, Any]) -> None:
        params = context.get("params") or {}
        ti = context.get("ti") or context.get("task_instance")
        error = str(context.get("exception") or "task failed")
        summary = _apply_summary(ti)
        if summary and summary.get("failed"):
            lines = [
                f"{f.get('address') or '?'}: {f.get('arm_code') or f.get('summary', '')}"
                for f in summary["failed"][:10]
            ]
            error += f"\n{summary.get('failed_count')} failed resource(s):\n" + "\n".join(lines)
        prepared = _xcom(ti, "prepare") or {}
        message = notify.task_failure_message(
            campaign_id=str(prepared.get("campaign_id") or params.get("campaign_id") or "(not prepared)"),
            iteration=prepared.get("iteration") or params.get("iteration") or 1,
            task_id=getattr(ti, "task_id", "?"),
            error=error,
            run_url=run_url(context),
        )
        send_slack(params.get("slack_conn_id") or self.slack_conn_id, message)


def _apply_summary(ti: Any) -> dict[str, Any] | None:
    """The failed apply's per-resource outcome, when the failed task is the apply."""
    if getattr(ti, "task_id", None) != "apply":
        return None
    return _xcom(ti, "apply", "apply_summary")


def _xcom(ti: Any, task_id: str, key: str = "return_value") -> Any:
    if ti is None:
        return None
    try:
        return ti.xcom_pull(task_ids=task_id, key=key)
    except Exception:  # no XCom access in this callback context: the message goes out without it
        return None
