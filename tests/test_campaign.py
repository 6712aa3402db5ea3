"""Campaign rules: bad input named, success defined strictly, counters never double count."""

from datetime import UTC, datetime, timedelta

import pytest

from tenant_replicator import campaign as c

SRC, TGT = "3f2b8c1e-5d4a-4e7b-9c21-6a8f0d2e4b17", "c7e91a04-2b6f-4d38-a5e2-91f4b7c0d863"
CLEAN_APPLY = {"failed_count": 0, "timed_out": False}
SCAN_OK = {"complete": True}


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"source_subscription": SRC, "target_subscription": SRC.upper()}, "refusing to write into the source"),
        ({"source_subscription": "", "target_subscription": TGT}, "source_subscription"),
        ({"source_subscription": SRC, "target_subscription": "prod"}, "target_subscription"),
        ({"source_subscription": SRC, "target_subscription": TGT, "fidelity_target": "high"}, "fidelity_target"),
        ({"source_subscription": SRC, "target_subscription": TGT, "max_hours": -1}, "max_hours"),
        ({"source_subscription": SRC, "target_subscription": TGT, "campaign_id": "Bad Id!"}, "campaign_id"),
    ],
)
def test_bad_input_is_refused_with_its_name(params, named):
    with pytest.raises(c.CampaignInputError, match=named):
        c.parse_spec(params)


def test_campaign_id_is_stable_for_a_pair():
    first = c.parse_spec({"source_subscription": SRC, "target_subscription": TGT})
    again = c.parse_spec({"source_subscription": SRC.upper(), "target_subscription": TGT})
    assert first.campaign_id == again.campaign_id == c.campaign_id_for(SRC, TGT)


def test_success_needs_clean_apply_and_complete_rescan():
    fid = {"overall_percent": 100.0}
    assert c.iteration_outcome(1, "r", CLEAN_APPLY, fid, SCAN_OK).success
    assert not c.iteration_outcome(1, "r", None, fid, SCAN_OK).success
    assert not c.iteration_outcome(1, "r", CLEAN_APPLY | {"failed_count": 2}, fid, SCAN_OK).success
    assert not c.iteration_outcome(1, "r", CLEAN_APPLY | {"timed_out": True}, fid, SCAN_OK).success
    assert not c.iteration_outcome(1, "r", CLEAN_APPLY, fid, {"complete": False}).success
    assert not c.iteration_outcome(1, "r", CLEAN_APPLY, None, SCAN_OK).success


def test_counter_resets_on_failure_and_rerecording_a_run_does_not_double_count():
    spec = c.parse_spec({"source_subscription": SRC, "target_subscription": TGT})
    state = c.new_state(spec)
    fid = {"overall_percent": 96.0}
    state = c.record_iteration(state, c.iteration_outcome(1, "run1", CLEAN_APPLY, fid, SCAN_OK), 0)
    state = c.record_iteration(state, c.iteration_outcome(2, "run2", CLEAN_APPLY, fid, SCAN_OK), 1)
    again = c.record_iteration(state, c.iteration_outcome(2, "run2", CLEAN_APPLY, fid, SCAN_OK), 1)
    assert again["consecutive_successes"] == state["consecutive_successes"] == 2
    assert len(again["history"]) == 2
    failed = c.record_iteration(state, c.iteration_outcome(3, "run3", None, fid, SCAN_OK), 2)
    assert failed["consecutive_successes"] == 0
    assert not c.objective_met(failed, spec.objective)
    state = c.record_iteration(failed, c.iteration_outcome(4, "run4", CLEAN_APPLY, fid, SCAN_OK), 0)
    state = c.record_iteration(state, c.iteration_outcome(5, "run5", CLEAN_APPLY, fid, SCAN_OK), 1)
    state = c.record_iteration(state, c.iteration_outcome(6, "run6", CLEAN_APPLY, fid, SCAN_OK), 2)
    assert state["consecutive_successes"] == 3 and c.objective_met(state, spec.objective)


def test_objective_needs_fidelity_too_and_safety_limits_stop():
    objective = c.Objective(fidelity_percent=95, consecutive_successes=3, max_iterations=5, max_hours=24)
    state = {
        "last_fidelity": 94.9,
        "consecutive_successes": 9,
        "iteration": 1,
        "started_at": datetime.now(UTC).isoformat(),
    }
    assert not c.objective_met(state, objective)
    assert c.safety_stop_reason(state, objective) is None
    assert "max iterations" in c.safety_stop_reason(state | {"iteration": 5}, objective)
    old = (datetime.now(UTC) - timedelta(hours=25)).isoformat()
    assert "max wall time" in c.safety_stop_reason(state | {"started_at": old}, objective)


def test_refused_destroys_unadopted_resources_and_crashes_are_named():
    fid = {"overall_percent": 90.0}
    summary = CLEAN_APPLY | {
        "ok": False,
        "exit_code": 2,
        "destroy_refused_count": 2,
        "existing_not_adopted_count": 1,
        "provider_crashed": True,
        "writes": {"total": 7},
    }
    outcome = c.iteration_outcome(1, "r", summary, fid, SCAN_OK)
    assert not outcome.success
    assert outcome.reasons == [
        "the Terraform provider crashed",
        "2 delete(s)/replacement(s) refused (allow_destroy off)",
        "1 resource(s) already exist in the target (not created by this campaign; adopt_existing off)",
    ]
    assert outcome.arm_writes == 7
