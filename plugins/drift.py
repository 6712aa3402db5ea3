"""Task glue of the drift watch: configuration, Variables and Slack in; `tenant_replicator.drift` does the work."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from tenant_replicator import campaigns, drift
from tenant_replicator_airflow.notifiers.slack import run_url, send_slack

log = logging.getLogger(__name__)
LOOP_DAG_ID = "tenant_replication"
ACTIVE_STATES = ["queued", "running"]


def load_config(campaign_id: str) -> campaigns.CampaignConfig:
    """The campaign as configured now (file + Variable), so an edited config applies at the next run."""
    return campaigns.find(campaigns.load_campaigns(variable_json=config_variable()), campaign_id)


def config_variable() -> str | None:
    """The Variable half of the configuration; None when unset or unreachable (the file alone then counts)."""
    try:
        from airflow.sdk import Variable

        return Variable.get(campaigns.CONFIG_VARIABLE, default=None)
    except Exception as error:  # parsing outside a task/dag-processor context: no Variable access
        log.info("Variable %s not readable here (%s); campaigns from the file only", campaigns.CONFIG_VARIABLE, error)
        return None


def loop_running(context: dict[str, Any], campaign_id: str) -> bool:
    """A chain of this campaign is in progress: its Variable says running and a loop run is queued/running.

    Both, because a chain killed mid-way leaves `running` in the Variable forever; without the run
    check the watch would never re-converge that campaign again.
    """
    from airflow.sdk import Variable

    from tenant_replicator_airflow.loop import variable_key

    state = Variable.get(variable_key(campaign_id), default=None, deserialize_json=True) or {}
    if state.get("status") != "running":
        return False
    return context["ti"].get_dr_count(dag_id=LOOP_DAG_ID, states=ACTIVE_STATES) > 0


def check(context: dict[str, Any], campaign_id: str) -> dict[str, Any]:
    """Rescan, compare, record the drift history, post ONE Slack summary when something drifted."""
    from airflow.sdk import Variable

    from tenant_replicator.settings import load_settings

    config = load_config(campaign_id)
    result = drift.check(load_settings(), config, context["run_id"])
    decision = dict(result["decision"])
    if decision["retrigger"] and loop_running(context, campaign_id):
        decision = {"retrigger": False, "reasons": [*decision["reasons"], "a chain of this campaign is running"]}
    result["decision"] = decision
    entry = drift.history_entry(
        context["run_id"], result["drift"], result["fidelity"], decision, baseline=result["baseline"]
    )
    key = drift.variable_key(campaign_id)
    record = drift.append_history(Variable.get(key, default=None, deserialize_json=True), campaign_id, entry)
    Variable.set(key, record, serialize_json=True)
    if result["drift"] and result["drift"]["drifted"]:
        message = drift.drift_message(
            campaign_id, result["drift"], result["fidelity"], decision, run_url(context), result["removals"]
        )
        send(config.slack_conn_id, config.slack_channel, message)
    elif result["baseline"] and decision["retrigger"]:
        log.info("no converged snapshot yet and %s: starting the first chain", "; ".join(decision["reasons"]))
    log.info("drift check %s: %s", campaign_id, {k: result[k] for k in ("baseline", "decision", "fidelity")})
    result["loop_conf"] = campaigns.loop_conf(config, started_at=datetime.now(UTC).isoformat(timespec="seconds"))
    result["drift"] = _trim(result["drift"])
    return result


def release_removed(result: dict[str, Any]) -> list[str]:
    """Source-deleted resources the campaign may not delete: out of its Terraform state, kept in the target."""
    from tenant_replicator.settings import load_settings

    return drift.forget(load_settings(), result["campaign_id"], result["removals"]["forget"])


def converged(campaign_id: str, started_at: str) -> str | None:
    """Sensor poke: the chain this watch started has ended (its Variable has our started_at and a final status)."""
    from airflow.sdk import Variable
    from airflow.sdk.exceptions import AirflowFailException

    from tenant_replicator_airflow.loop import variable_key

    state = Variable.get(variable_key(campaign_id), default=None, deserialize_json=True) or {}
    if state.get("started_at") != started_at or state.get("status") == "running":
        return None
    if state.get("status") != "objective_met":
        raise AirflowFailException(
            f"the re-convergence chain of {campaign_id} ended without the objective: {state.get('status')}"
        )
    return state["status"]


def snapshot(campaign_id: str) -> dict[str, Any]:
    from tenant_replicator.settings import load_settings

    return drift.converged_snapshot(load_settings(), load_config(campaign_id), reason="re-converged after drift")


def send(conn_id: str, channel: str | None, message: dict[str, Any]) -> bool:
    """A bot-token connection posts to the campaign's channel; a webhook posts where its URL points."""
    if channel:
        try:
            from airflow.providers.slack.hooks.slack import SlackHook
            from airflow.sdk import BaseHook

            if BaseHook.get_connection(conn_id).conn_type == "slack":
                SlackHook(slack_conn_id=conn_id).call(
                    "chat.postMessage", json={"channel": channel, "text": message["text"], "blocks": message["blocks"]}
                )
                return True
        except Exception as error:  # fall back to the connection's own destination
            log.warning("Slack post to %s via %r failed (%s); using the connection default", channel, conn_id, error)
    return send_slack(conn_id, message)


def _trim(found: dict[str, Any] | None) -> dict[str, Any] | None:
    if found is None:
        return None
    return found | {kind: found[kind][: drift.LISTED] for kind in drift.KINDS}
