"""Faults under the real scheduler, on one shared stack: storms, a killed scheduler, a restarted simulator,
two triggers of one campaign. Each case ends with what the campaign claims checked against the simulator."""

from __future__ import annotations

import json
import time

import faultstack as fs
import pytest

from tenant_replicator import devstack, locks
from tenant_replicator.demo import DAG_ID
from tenant_replicator.sim.seed import TARGET_SUBSCRIPTION_ID as TGT

pytestmark = [pytest.mark.faults, pytest.mark.slow]

STORM = {
    "seed": 9,
    "rates": {"429": 0.30, "500": 0.025, "503": 0.025, "drop": 0.01, "async_failed": 0.05},
    "retry_after": 1,
    "latency_ms": [5, 40],
}
BASELINE: dict[str, float] = {}
KILLED_CREATE_GAP = (
    "known gap (converge, issue 7): a create in flight when terraform was SIGKILLed exists in ARM but not in "
    "state, is not recognised as this campaign's, and the chain stops unless adopt_existing is on"
)


def task_log(stack: devstack.Stack, run_id: str, task_id: str) -> str:
    folder = stack.workdir / "airflow" / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}" / f"task_id={task_id}"
    return "".join(p.read_text(errors="replace") for p in sorted(folder.glob("attempt=*.log")))


def apply_logs(stack: devstack.Stack, run_id: str) -> list:
    folder = stack.workdir / "airflow" / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}" / "task_id=apply"
    return sorted(folder.glob("attempt=*.log"))


def assert_counters_consistent(state: dict) -> int:
    """No lost or doubled iteration: history is 1..N once each, one run each, the streak matches it.
    Returns how many iterations were lost or doubled (0)."""
    iterations = [h["iteration"] for h in state["history"]]
    run_ids = [h["run_id"] for h in state["history"]]
    lost = len(set(range(1, state["iteration"] + 1)) ^ set(iterations)) + (len(iterations) - len(set(iterations)))
    streak = 0
    for entry in state["history"]:
        streak = streak + 1 if entry["success"] else 0
        assert entry["consecutive_successes"] == streak, state["history"]
    assert state["consecutive_successes"] == streak
    assert len(set(run_ids)) == len(run_ids), run_ids
    assert lost == 0, iterations
    return lost


def wait_for_apply_in_flight(stack: devstack.Stack, client, campaign_id: str, min_writes: int = 3) -> str:
    """The run id once its `apply` task runs and terraform has written to the target."""

    def in_flight() -> str | None:
        runs = fs.campaign_runs(client, campaign_id)
        if not runs or fs.task_states(client, runs[-1]["dag_run_id"]).get("apply") != "running":
            return None
        writes = fs.sim_stats(stack)["writes"].get(TGT, 0)
        return runs[-1]["dag_run_id"] if writes >= min_writes else None

    return devstack.wait_for(in_flight, 240, "apply in flight", 0.5)


@pytest.mark.timeout(1500)
def test_two_triggers_at_once_run_one_chain_and_the_clean_baseline(fault_stack):
    """Two triggers of one campaign at the same moment: max_active_runs queues the second, the campaign lease
    refuses it with a message naming the holder; the first chain's counters are untouched. The first chain is
    also the clean baseline the storm is measured against."""
    stack, client = fault_stack
    fs.reset_simulator(stack)
    conf = fs.campaign_conf("fault-clean", required_successes=2, max_iterations=6)
    first, second = client.trigger(DAG_ID, conf), client.trigger(DAG_ID, conf)
    state = fs.follow(client, "fault-clean", 600)

    assert state["status"] == "objective_met"
    lost = assert_counters_consistent(state)
    assert [h["success"] for h in state["history"]] == [True, True]
    states = {run: fs.task_states(client, run) for run in (first, second)}
    refused = [run for run, tasks in states.items() if tasks.get("prepare") == "failed"]
    assert len(refused) == 1, states
    assert states[refused[0]]["apply"] in {"upstream_failed", None}
    assert "is locked by the chain started at" in task_log(stack, refused[0], "prepare")
    assert {h["run_id"] for h in state["history"]}.isdisjoint(refused)
    lease = locks.read_lease(fs.campaign_dir(stack, "fault-clean"))
    assert lease["phase"] == "released"
    report = fs.xcom(client, state["history"][-1]["run_id"], "record")
    claimed, missing = fs.missing_from_target(stack, "fault-clean", report["fidelity"])
    assert claimed >= report["fidelity"]["matched"] > 0 and missing == []
    requests = stack.sim_call("GET", "/_sim/stats/requests")["total"]
    BASELINE.update(iterations=state["iteration"], seconds=fs.chain_seconds(client, "fault-clean"), requests=requests)
    fs.record_outcome(
        "clean run (baseline, 2 successes required)",
        f"objective met in {state['iteration']} iterations, {BASELINE['seconds']:.0f} s",
        len(missing),
        iterations=state["iteration"],
        seconds=BASELINE["seconds"],
        arm_requests=requests,
        resources_claimed=claimed,
    )
    fs.record_outcome(
        "two triggers of one campaign at once",
        "one chain ran; the other run refused at prepare (campaign lease), nothing applied by it",
        lost,
        refused_runs=len(refused),
        chain_iterations=state["iteration"],
    )


@pytest.mark.timeout(1500)
def test_error_storm_still_reaches_the_objective(fault_stack):
    """429 with Retry-After on 30 % of ARM requests, 2.5 % 500 + 2.5 % 503, 1 % dropped connections,
    5 % of async operations ending Failed, 5-40 ms added latency; measured against the clean run."""
    stack, client = fault_stack
    fs.reset_simulator(stack)
    stack.sim_call("POST", "/_sim/faults", {"random": STORM})
    client.trigger(DAG_ID, fs.campaign_conf("fault-storm", required_successes=2, max_iterations=10))
    try:
        state = fs.follow(client, "fault-storm", 1200)
    finally:
        requests = stack.sim_call("GET", "/_sim/stats/requests")
        stack.sim_call("DELETE", "/_sim/faults")  # the checks below must not be faulted themselves
    assert state["status"] == "objective_met", state["history"]
    lost = assert_counters_consistent(state)
    report = fs.xcom(client, state["history"][-1]["run_id"], "record")
    claimed, missing = fs.missing_from_target(stack, "fault-storm", report["fidelity"])
    assert claimed >= report["fidelity"]["matched"] > 0
    assert missing == [], missing  # nothing reported as done is absent from the target
    seconds = fs.chain_seconds(client, "fault-storm")
    statuses = _status_counts(requests)
    base = BASELINE or {"iterations": float("nan"), "seconds": float("nan")}
    fs.record_outcome(
        "error storm (30 % 429 + Retry-After, 5 % 500/503, 1 % drops, 5 % async Failed, 5-40 ms latency)",
        f"objective met in {state['iteration']} iterations ({state['iteration'] - base['iterations']:+g} vs clean), "
        f"{seconds:.0f} s ({seconds - base['seconds']:+.0f} s vs clean)",
        len(missing) + lost,
        iterations=state["iteration"],
        extra_iterations=state["iteration"] - base["iterations"],
        seconds=seconds,
        extra_seconds=round(seconds - base["seconds"], 1),
        failed_iterations=sum(1 for h in state["history"] if not h["success"]),
        injected=statuses,
        arm_requests=requests["total"],
        resources_claimed=claimed,
    )


def _status_counts(request_stats: dict) -> dict[str, int]:
    """Injected answers by status from the simulator's request counters (-1: connection dropped)."""
    return {k: v for k, v in request_stats["by_status"].items() if k in {"429", "500", "503", "-1"}}


@pytest.mark.timeout(1500)
def test_scheduler_sigkilled_mid_apply_resumes_the_chain(fault_stack):
    """A crash while terraform applies: SIGKILL to the scheduler's process group and to every process below it
    (its LocalExecutor workers, the task supervisor and runner, terraform and the provider plugin); a new
    scheduler takes over. The killed task is failed by its missing heartbeat and recorded once, terraform's
    state still parses, the chain goes on to the objective and no process of the killed run is left."""
    stack, client = fault_stack
    fs.reset_simulator(stack)
    stack.sim_call("POST", "/_sim/lro", {"seconds": 2})
    client.trigger(DAG_ID, fs.campaign_conf("fault-kill", required_successes=1, max_iterations=5))
    killed_run = wait_for_apply_in_flight(stack, client, "fault-kill")
    writes_at_kill = fs.sim_stats(stack)["writes"].get(TGT, 0)
    old = fs.service(stack, "airflow-scheduler")
    killed = fs.crash(old)
    fs.restart(stack, "airflow-scheduler", kill=False)  # the old one is gone: just start the new one
    killed_at = time.monotonic()
    state = fs.follow(client, "fault-kill", 900)
    recovered_s = round(time.monotonic() - killed_at, 1)

    stuck = [r for h in state["history"] for r in h["reasons"] if "not created by this campaign" in r]
    if state["status"] != "objective_met" and stuck:
        fs.record_outcome(
            "scheduler and its task processes (terraform included) SIGKILLed mid-apply, scheduler restarted",
            f"NOT RECOVERED: {KILLED_CREATE_GAP}; chain stopped at iteration {state['iteration']} ({stuck[-1]})",
            int(stuck[-1].split()[0]),
            processes_killed=killed,
            apply_attempts=len(apply_logs(stack, killed_run)),
            iterations=state["iteration"],
        )
        pytest.xfail(KILLED_CREATE_GAP)
    assert state["status"] == "objective_met", state["history"]
    lost = assert_counters_consistent(state)
    apply_state = fs.task_states(client, killed_run)["apply"]
    killed_entries = [h for h in state["history"] if h["run_id"] == killed_run]
    assert len(killed_entries) == 1  # recorded once: not lost, not doubled
    attempts = sorted(p.name for p in apply_logs(stack, killed_run))
    # The new scheduler either re-runs the orphaned task (Airflow resets tasks of a dead scheduler job:
    # a second attempt converges the same state) or fails it on its missing heartbeat; either way the
    # iteration's outcome is the one recorded.
    assert (apply_state == "success" and len(attempts) >= 2) or (
        apply_state == "failed" and killed_entries[0]["success"] is False
    ), (apply_state, attempts)
    tfstate = fs.campaign_dir(stack, "fault-kill") / "terraform" / "terraform.tfstate"
    document = json.loads(tfstate.read_text())  # parses: not torn
    assert document["resources"] and tfstate.stat().st_mode & 0o777 == 0o600
    report = fs.xcom(client, state["history"][-1]["run_id"], "record")
    claimed, missing = fs.missing_from_target(stack, "fault-kill", report["fidelity"])
    assert missing == [] and report["fidelity"]["overall_percent"] >= 95.0
    devstack.wait_for(lambda: not fs.stray_processes(stack), 60, "no process left of the killed run", 1)
    assert locks.read_lease(fs.campaign_dir(stack, "fault-kill"))["phase"] == "released"
    logs = apply_logs(stack, killed_run)
    how = (
        f"the killed apply ended {apply_state} after {len(attempts)} attempt(s) (the new scheduler re-runs or "
        "heartbeat-fails an orphaned task)"
    )
    fs.record_outcome(
        "scheduler and its task processes (terraform included) SIGKILLed mid-apply, scheduler restarted",
        f"{how}; iteration recorded once; objective met at iteration {state['iteration']}, "
        f"{recovered_s:.0f} s after the kill; state parses, 0600; no process left",
        len(missing) + lost,
        processes_killed=killed,
        apply_attempts=len(attempts),
        stale_terraform_lock_removed=any("stale local lock" in log.read_text(errors="replace") for log in logs),
        target_writes_at_kill=writes_at_kill,
        iterations=state["iteration"],
        recovered_s=recovered_s,
        state_resources=len(document["resources"]),
    )


@pytest.mark.timeout(1500)
def test_simulator_restarted_mid_campaign_keeps_state_and_the_loop_recovers(fault_stack):
    """SIGKILL to the simulator during apply, 3 s outage, restart on its journal (same endpoint)."""
    stack, client = fault_stack
    fs.reset_simulator(stack)
    stack.sim_call("POST", "/_sim/lro", {"seconds": 1})
    client.trigger(DAG_ID, fs.campaign_conf("fault-simrestart", required_successes=1, max_iterations=5))
    wait_for_apply_in_flight(stack, client, "fault-simrestart")
    before = {r["id"].lower() for r in fs.list_target(stack)}
    fs.restart_simulator(stack, outage_s=3)
    after = {r["id"].lower() for r in fs.list_target(stack)}
    journal_lost = sorted(before - after)
    assert journal_lost == []  # every write the simulator acknowledged survived the SIGKILL
    state = fs.follow(client, "fault-simrestart", 900)

    assert state["status"] == "objective_met", state["history"]
    lost = assert_counters_consistent(state)
    report = fs.xcom(client, state["history"][-1]["run_id"], "record")
    claimed, missing = fs.missing_from_target(stack, "fault-simrestart", report["fidelity"])
    assert missing == []
    fs.record_outcome(
        "ARM simulator SIGKILLed mid-apply, 3 s down, restarted on its journal",
        f"{len(before)} target resources before = after the restart; objective met at iteration {state['iteration']}",
        len(journal_lost) + len(missing) + lost,
        iterations=state["iteration"],
        failed_iterations=sum(1 for h in state["history"] if not h["success"]),
        target_resources_at_kill=len(before),
    )
