"""The campaign lease: one chain per campaign; stale leases are taken over only when the holder is gone."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tenant_replicator import iteration, locks

pytestmark = pytest.mark.faults

CHAIN_A, CHAIN_B = "2026-11-25T10:00:00+00:00", "2026-11-25T10:05:00+00:00"
NOW = datetime(2026, 11, 25, 11, 0, tzinfo=UTC)


def take(directory: Path, chain: str, run_id: str, iteration_no: int = 1, **kwargs):
    return locks.acquire(directory, chain=chain, run_id=run_id, iteration=iteration_no, dag_id="d", now=NOW, **kwargs)


def test_a_second_chain_is_refused_while_the_first_runs_or_hands_over(tmp_path):
    take(tmp_path, CHAIN_A, "run-a1")
    with pytest.raises(locks.CampaignLocked, match=r"locked by the chain started at 2026-11-25T10:00:00.*run-a1"):
        take(tmp_path, CHAIN_B, "run-b1", run_state=lambda dag, run: "running")
    locks.handoff(tmp_path, "run-a1", now=NOW)
    with pytest.raises(locks.CampaignLocked, match="handed over to the chain's next run"):
        take(tmp_path, CHAIN_B, "run-b1", pending_runs=lambda: 1)  # the chain's successor is queued
    assert take(tmp_path, CHAIN_A, "run-a2", 2)["run_id"] == "run-a2"  # the successor takes it
    assert locks.read_lease(tmp_path)["iteration"] == 2


def test_airflow_run_state_enums_are_read_by_value(tmp_path):
    """Airflow hands back DagRunState members; their str() is 'DagRunState.RUNNING', which once read as a
    finished holder and let a concurrent trigger of the same campaign take the lease (fault suite, session 2)."""
    from airflow.utils.state import DagRunState

    take(tmp_path, CHAIN_A, "run-a1")
    with pytest.raises(locks.CampaignLocked):
        take(tmp_path, CHAIN_B, "run-b1", run_state=lambda dag, run: DagRunState.RUNNING)
    taken = take(tmp_path, CHAIN_B, "run-b1", run_state=lambda dag, run: DagRunState.FAILED)
    assert taken["took_over"] == "holder run run-a1 is failed"


def test_a_retried_prepare_of_the_holder_keeps_the_lease(tmp_path):
    take(tmp_path, CHAIN_A, "run-a1")
    assert take(tmp_path, CHAIN_A, "run-a1")["took_over"] is None


def test_a_non_successor_of_the_same_chain_is_refused(tmp_path):
    """A replayed conf of the chain (same started_at, same iteration) must not run beside the holder."""
    take(tmp_path, CHAIN_A, "run-a1")
    locks.handoff(tmp_path, "run-a1", now=NOW)
    with pytest.raises(locks.CampaignLocked):
        take(tmp_path, CHAIN_A, "run-replay", 1, pending_runs=lambda: 2)


def test_release_frees_the_lease_for_a_new_chain(tmp_path):
    take(tmp_path, CHAIN_A, "run-a1")
    assert locks.release(tmp_path, "run-b1", now=NOW) is None  # not the holder: nothing changes
    assert locks.release(tmp_path, "run-a1", now=NOW)["phase"] == "released"
    assert take(tmp_path, CHAIN_B, "run-b1")["took_over"] is None


@pytest.mark.parametrize("state", ["failed", "success"])
def test_a_finished_holder_run_is_stale_at_once(tmp_path, state):
    take(tmp_path, CHAIN_A, "run-a1")
    lease = take(tmp_path, CHAIN_B, "run-b1", run_state=lambda dag, run: state if run == "run-a1" else "running")
    assert lease["took_over"] == f"holder run run-a1 is {state}"


def test_a_handoff_without_any_successor_is_stale(tmp_path):
    take(tmp_path, CHAIN_A, "run-a1")
    locks.handoff(tmp_path, "run-a1", now=NOW)
    lease = take(tmp_path, CHAIN_B, "run-b1", pending_runs=lambda: 0)
    assert "no successor" in lease["took_over"]


def test_without_run_state_the_ttl_decides(tmp_path):
    take(tmp_path, CHAIN_A, "run-a1")
    with pytest.raises(locks.CampaignLocked):
        locks.acquire(tmp_path, chain=CHAIN_B, run_id="b", iteration=1, now=NOW + timedelta(hours=5))
    later = NOW + timedelta(seconds=locks.RUNNING_TTL_S + 1)
    lease = locks.acquire(tmp_path, chain=CHAIN_B, run_id="b", iteration=1, now=later)
    assert "without releasing" in lease["took_over"]


def test_a_corrupted_lease_file_counts_as_free(tmp_path):
    (tmp_path / locks.LEASE_FILE).write_text("{not json")
    assert take(tmp_path, CHAIN_A, "run-a1")["phase"] == "running"
    assert (tmp_path / locks.LEASE_FILE).stat().st_mode & 0o777 == 0o600


def _race(directory: str, index: int, barrier, results) -> None:
    barrier.wait()
    try:
        locks.acquire(Path(directory), chain=f"chain-{index}", run_id=f"run-{index}", iteration=1)
        results.put(index)
    except locks.CampaignLocked:
        results.put(-1)


def test_concurrent_prepares_of_two_chains_have_exactly_one_winner(tmp_path):
    """Eight processes released at once (a barrier) race for the lease: one wins, seven are refused."""
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(8), ctx.Queue()
    procs = [ctx.Process(target=_race, args=(str(tmp_path), i, barrier, results)) for i in range(8)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(30)
    outcomes = sorted(results.get(timeout=5) for _ in procs)
    winners = [o for o in outcomes if o >= 0]
    assert len(winners) == 1 and outcomes.count(-1) == 7
    assert locks.read_lease(tmp_path)["run_id"] == f"run-{winners[0]}"


def test_record_hands_over_while_the_chain_goes_on_and_releases_at_the_end(tmp_path):
    take(tmp_path, CHAIN_A, "run-a1")
    ctx = {"campaign_dir": str(tmp_path), "run_id": "run-a1"}
    assert iteration.settle_lease(ctx, {"continue": True})["phase"] == "handoff"
    take(tmp_path, CHAIN_A, "run-a2", 2)
    assert iteration.settle_lease(ctx | {"run_id": "run-a2"}, {"continue": False})["phase"] == "released"


def test_the_airflow_wiring_asks_run_states_and_counts_other_active_runs(monkeypatch):
    """plugins/loop.prepare_iteration hands prepare the holder's run state and the other queued/running runs
    (the supervisor calls are replaced: this checks the wiring of one function, not Airflow)."""
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    from tenant_replicator_airflow import loop

    asked: list[tuple[str, str]] = []

    def dagrun_state(dag_id: str, run_id: str) -> str:
        asked.append((dag_id, run_id))
        return "failed"

    monkeypatch.setattr(RuntimeTaskInstance, "get_dagrun_state", staticmethod(dagrun_state))
    monkeypatch.setattr(RuntimeTaskInstance, "get_dr_count", staticmethod(lambda dag_id, states=None: 3))
    captured = {}
    monkeypatch.setattr(loop.iteration, "prepare", lambda settings, params, run_id, **kw: captured.update(kw) or kw)

    class Run:
        dag_id = "tenant_replication"

    loop.prepare_iteration({"dag_run": Run(), "params": {}, "run_id": "run-b"})
    assert captured["dag_id"] == "tenant_replication"
    assert captured["run_state"]("", "run-a") == "failed" and asked == [("tenant_replication", "run-a")]
    assert captured["pending_runs"]() == 2  # this run is one of the three
