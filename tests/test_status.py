"""replication_status: ETA by trend, silence when nothing changed, heartbeats on request."""

from datetime import UTC, datetime, timedelta

from tenant_replicator import status

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def state(fidelities, consecutive=0, status_="running", reasons=()):
    history = [
        {
            "iteration": i + 1,
            "fidelity_percent": f,
            "finished_at": (T0 + timedelta(minutes=10 * i)).isoformat(),
            "reasons": list(reasons) if i == len(fidelities) - 1 else [],
        }
        for i, f in enumerate(fidelities)
    ]
    return {
        "campaign_id": "c1",
        "status": status_,
        "iteration": len(fidelities),
        "last_fidelity": fidelities[-1],
        "consecutive_successes": consecutive,
        "history": history,
        "objective": {"fidelity_percent": 95.0, "consecutive_successes": 3},
    }


def test_eta_follows_the_trend():
    # +20 pts per 10-minute iteration: 75 -> 95 needs 1 more, then 3 successes: 4 iterations = 40 min
    s = state([35.0, 55.0, 75.0])
    assert status.eta(s, 95.0, 3, T0) == T0 + timedelta(minutes=20 + 40)


def test_no_eta_when_not_converging_or_too_little_history():
    assert status.eta(state([50.0, 50.0, 40.0]), 95.0, 3, T0) is None
    assert status.eta(state([50.0]), 95.0, 3, T0) is None


def test_silent_when_unchanged_unless_heartbeat():
    s = state([35.0, 55.0], reasons=["2 resource(s) failed to apply"])
    sent, digests = status.to_report([s], {}, heartbeat=False, now=T0)
    assert [x["last_error"] for x in sent] == ["2 resource(s) failed to apply"]
    again, _ = status.to_report([s], digests, heartbeat=False, now=T0 + timedelta(minutes=10))
    assert again == []
    beat, _ = status.to_report([s], digests, heartbeat=True, now=T0)
    assert len(beat) == 1


def test_only_running_campaigns_are_reported():
    sent, digests = status.to_report([state([99.0], 3, "objective_met")], {}, heartbeat=True, now=T0)
    assert sent == [] and digests == {}
