"""Shared end-to-end pieces: start the loop's stack, and the policy-denied chain with its assertions.

The same chain runs on SQLite (test_replication_loop.py), on Postgres (test_postgres_e2e.py) and on
Celery (test_celery_e2e.py): the assertions live here once, behind fixtures (conftest modules are
not importable by name when several directories have one).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tenant_replicator import devstack
from tenant_replicator.campaign import campaign_id_for
from tenant_replicator.demo import DAG_ID, demo_conf, follow_chain
from tenant_replicator.slack_capture import read_messages


@contextmanager
def loop_stack(workdir: Path, **options: Any) -> Iterator[devstack.Stack]:
    """The embedded stack (options go to `devstack.start_stack`) with the status DAG paused: its
    scheduled runs must not interleave with the loop's alerts."""
    with devstack.start_stack(workdir, **options) as running:
        client = devstack.AirflowClient(running.api_url, devstack.ADMIN_USER, running.admin_password)
        devstack.wait_for(lambda: client.call("GET", "/dags/replication_status"), 120, "status DAG parsed", 1)
        client.call("PATCH", "/dags/replication_status", {"is_paused": True})
        yield running


@dataclass
class ChainOutcome:
    """What the denied-type chain left behind, for backend-specific assertions."""

    client: devstack.AirflowClient
    campaign_key: str
    state: dict
    runs: list[dict]


def run_denied_type_chain(stack: devstack.Stack, timeout: float = 600) -> ChainOutcome:
    """Iteration 1: Azure Policy denies the data collection rule (403); the loop records the failure,
    alerts, carries on; iteration 2 applies only that rule; iterations 2-4 succeed: objective met.
    Every assertion on the loop's behaviour is made here, whatever the metadata DB or executor."""
    from tenant_replicator.sim.seed import SOURCE_SUBSCRIPTION_ID as SRC
    from tenant_replicator.sim.seed import TARGET_SUBSCRIPTION_ID as TGT

    client = devstack.AirflowClient(stack.api_url, devstack.ADMIN_USER, stack.admin_password)
    devstack.wait_for(lambda: client.call("GET", f"/dags/{DAG_ID}"), 120, "DAG parsed", 1)
    denial = {
        "method": "PUT",
        "path_contains": "/providers/Microsoft.Insights/dataCollectionRules/",
        "status": 403,
        "code": "RequestDisallowedByPolicy",
        "times": 1,
    }
    stack.sim_call("POST", "/_sim/faults", {"faults": [denial]})
    client.trigger(DAG_ID, demo_conf(SRC, TGT))
    key = f"tenant_replication__{campaign_id_for(SRC, TGT)}"

    state = follow_chain(client, key, timeout=timeout, echo=lambda line: None)

    assert state["status"] == "objective_met"
    assert state["iteration"] == 4
    assert [h["success"] for h in state["history"]] == [False, True, True, True]
    assert state["consecutive_successes"] == 3
    first = state["history"][0]
    assert first["matched"] == first["source_total"] - 1  # exactly the denied rule is missing
    assert first["reasons"] == ["1 resource(s) failed to apply"]
    assert state["last_fidelity"] == 100.0
    runs = sorted(client.runs(DAG_ID), key=lambda r: r["start_date"])
    assert [r["state"] for r in runs] == ["failed", "success", "success", "success"]
    # the last run's XCom report holds the same counters as the Variable
    report = client.xcom(DAG_ID, runs[-1]["dag_run_id"], "record")
    report = json.loads(report) if isinstance(report, str) else report
    assert report["counters"]["consecutive_successes"] == state["consecutive_successes"]
    assert report["decision"]["objective_met"] is True
    assert report["fidelity"]["preexisting_target"] == 3  # reported apart, not counted
    second = client.xcom(DAG_ID, runs[1]["dag_run_id"], "record")
    second = json.loads(second) if isinstance(second, str) else second
    assert second["apply"]["plan"]["add"] == 1  # only the denied rule was written again
    # the source was only ever read
    stats = stack.sim_call("GET", "/_sim/stats")
    assert stats["writes"].get(SRC, 0) == 0
    assert stats["writes"].get(TGT, 0) > 0
    # Slack, through the real Slack provider to the loopback capture server: exactly these, in order
    texts = [m["text"] for m in read_messages(stack.slack_capture_file)]
    assert len(texts) == 4, texts
    assert "task `apply` failed in iteration 1" in texts[0]
    assert "RequestDisallowedByPolicy" in str(read_messages(stack.slack_capture_file)[0]["blocks"])
    assert "fidelity n/a -> " in texts[1] and "iteration 1" in texts[1]
    assert "-> 100.0 %" in texts[2] and "iteration 2" in texts[2]
    assert "objective met" in texts[3]
    return ChainOutcome(client, key, state, runs)


@pytest.fixture
def denied_type_chain() -> Callable[..., ChainOutcome]:
    """`run_denied_type_chain` for the test modules."""
    return run_denied_type_chain


@pytest.fixture(scope="module")
def start_loop_stack() -> Callable[..., Any]:
    """`loop_stack` for the test modules' own (module-scoped) stack fixtures."""
    return loop_stack
