"""Bad-input matrix: each bad input is a clear error naming it, and nothing is written to any subscription.

Runs the library's steps (what the DAG's tasks call) against a real simulator and graph; the simulator's
write counters prove "nothing applied". Cases covered elsewhere are listed in docs/reliability.md with
their test names (terraform state corruption: tests/terraform/test_safety.py; unreachable graph/ARM:
tests/test_preflight.py; torn simulator journal: tests/sim/test_simulator.py).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "faults"))

import faultstack  # noqa: E402

from tenant_replicator import campaign, devstack, iteration, locks  # noqa: E402
from tenant_replicator.preflight import PreflightError  # noqa: E402
from tenant_replicator.settings import ConfigurationError, load_settings  # noqa: E402
from tenant_replicator.sim.seed import SOURCE_SUBSCRIPTION_ID as SRC  # noqa: E402
from tenant_replicator.sim.seed import TARGET_SUBSCRIPTION_ID as TGT  # noqa: E402

pytestmark = pytest.mark.faults

GOOD = {"source_subscription": SRC, "target_subscription": TGT, "campaign_id": "bad-input"}


@pytest.fixture(scope="module")
def small_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[devstack.Stack]:
    with devstack.start_stack(tmp_path_factory.mktemp("badinput"), airflow=False, slack=False) as stack:
        yield stack


def env_of(stack: devstack.Stack, **extra: str) -> dict[str, str]:
    keys = ("TENANT_REPLICATOR_HOME", "TENANT_REPLICATOR_ARM_ENDPOINT", "TENANT_REPLICATOR_ARM_CA_FILE")
    return {k: stack.env[k] for k in keys} | {"TENANT_REPLICATOR_GRAPH_URI": stack.graph_uri} | extra


def writes(stack: devstack.Stack) -> int:
    return sum(faultstack.sim_stats(stack)["writes"].values())


def refused(stack: devstack.Stack, case: str, step: Callable[[], Any], error: type[Exception], named: str) -> str:
    """Run a step that must fail: the error names the input, and no ARM write happened."""
    before = writes(stack)
    with pytest.raises(error) as caught:
        step()
    message = str(caught.value)
    assert named in message, message
    lost = writes(stack) - before
    assert lost == 0
    faultstack.record_outcome(f"bad input: {case}", f"refused: {message[:160]}", lost)
    return message


PARAM_CASES = [
    ("string for a number", {"fidelity_target": "high"}, "fidelity_target"),
    ("string for an integer", {"max_iterations": "many"}, "max_iterations"),
    ("fraction for an integer", {"required_successes": 2.5}, "required_successes"),
    ("boolean for a number", {"max_iterations": True}, "max_iterations"),
    ("negative timeout", {"apply_timeout_s": -5}, "apply_timeout_s"),
    ("zero max_hours", {"max_hours": 0}, "max_hours"),
    ("NaN fidelity", {"fidelity_target": "nan"}, "fidelity_target"),
    ("negative iteration counter", {"iteration": -1}, "iteration"),
    ("not a subscription GUID", {"source_subscription": "contoso-prod"}, "source_subscription"),
    ("subscription as a resource path", {"target_subscription": f"/subscriptions/{TGT}"}, "target_subscription"),
    ("empty target", {"target_subscription": ""}, "target_subscription"),
    ("target equals source", {"target_subscription": SRC.upper()}, "refusing to write into the source"),
    ("non-boolean flag", {"allow_destroy": "sometimes"}, "allow_destroy"),
    ("connection id with shell characters", {"backend_conn_id": "x;rm -rf /"}, "backend_conn_id"),
    ("campaign id with a path", {"campaign_id": "../other"}, "campaign_id"),
    ("malformed started_at", {"started_at": "yesterday"}, "started_at"),
]


@pytest.mark.parametrize(("case", "bad", "named"), PARAM_CASES, ids=[c[0] for c in PARAM_CASES])
def test_malformed_params_are_refused_before_anything(small_stack, case, bad, named):
    settings = load_settings(env_of(small_stack))
    refused(
        small_stack,
        f"Param {case}",
        lambda: iteration.prepare(settings, GOOD | bad, f"run-{case}"),
        campaign.CampaignInputError,
        named,
    )
    directory = settings.home / "campaigns" / "bad-input"
    assert locks.read_lease(directory) is None  # no lease taken, nothing laid out for terraform
    assert not (directory / "terraform").exists()


def test_missing_terraform_is_named(small_stack, monkeypatch):
    settings = load_settings(env_of(small_stack))
    monkeypatch.setenv("PATH", "/nonexistent")
    refused(
        small_stack,
        "terraform not installed",
        lambda: iteration.prepare(settings, GOOD, "r"),
        PreflightError,
        "terraform",
    )


def test_missing_azure_connection_is_named(small_stack):
    settings = load_settings(env_of(small_stack, TENANT_REPLICATOR_AZURE_CONN_ID="tr_missing_azure_conn"))
    message = refused(
        small_stack,
        "Azure connection missing",
        lambda: iteration.prepare(settings, GOOD, "r"),
        PreflightError,
        "tr_missing_azure_conn",
    )
    assert "TENANT_REPLICATOR_AZURE_CONN_ID" in message


def test_malformed_arm_endpoint_setting_is_named(small_stack):
    refused(
        small_stack,
        "ARM endpoint not https",
        lambda: load_settings(env_of(small_stack, TENANT_REPLICATOR_ARM_ENDPOINT="http://127.0.0.1:1")),
        ConfigurationError,
        "TENANT_REPLICATOR_ARM_ENDPOINT",
    )


@pytest.mark.parametrize(
    ("case", "body"),
    [
        ("listing whose value is not a list", {"value": "garbage"}),
        ("listing that is not an object", ["not", "an", "object"]),
        ("listing of resources without id/type", {"value": [{"name": "x"}, {"unexpected": 1}]}),
    ],
)
def test_malformed_arm_payloads_mark_the_scan_incomplete(small_stack, case, body):
    """ARM answers 200 with a malformed body: the scan reports itself incomplete naming the listing,
    so the DAG's scan_source step stops the iteration (a partial source never reaches the generator)."""
    small_stack.sim_call("DELETE", "/_sim/faults")
    rule = {"method": "GET", "path_contains": f"/subscriptions/{SRC}/resources", "status": 200, "body": body}
    small_stack.sim_call("POST", "/_sim/faults", {"faults": [rule | {"times": 20}]})
    before = writes(small_stack)
    try:
        report = iteration.scan(load_settings(env_of(small_stack)), SRC, f"bad-arm-{case}")
    finally:
        small_stack.sim_call("DELETE", "/_sim/faults")
    if report["complete"]:
        faultstack.record_outcome(
            f"bad input: ARM {case}",
            f"NOT DETECTED: scan complete with {report['resources']} resources",
            writes(small_stack) - before,
        )
    assert report["complete"] is False, report
    assert report["errors"]
    assert writes(small_stack) - before == 0
    faultstack.record_outcome(
        f"bad input: ARM {case}",
        f"scan marked incomplete ({str(report['errors'][0].get('error'))[:120]}); iteration stops at scan_source",
        writes(small_stack) - before,
    )


@pytest.mark.parametrize(
    ("case", "state", "named"),
    [
        ("history not a list", {"history": "garbage", "started_at": "x"}, "'history' is not a list"),
        ("negative counter", {"history": [], "consecutive_successes": -3}, "consecutive_successes"),
        ("not an object", ["a", "list"], "is a list"),
    ],
)
def test_corrupted_campaign_state_is_not_recorded_over(small_stack, case, state, named):
    ctx = {
        "campaign_id": "bad-input",
        "source_subscription": SRC,
        "target_subscription": TGT,
        "iteration": 2,
        "streak_before": 1,
        "started_at": "x",
        "run_id": "r2",
        "objective": {"fidelity_percent": 95.0, "consecutive_successes": 3, "max_iterations": 20, "max_hours": 24.0},
    }
    refused(
        small_stack,
        f"campaign state {case}",
        lambda: iteration.record(state, ctx, None, None, None),
        campaign.CampaignStateError,
        named,
    )


def test_unknown_resource_type_is_emitted_generically_and_the_target_names_it(small_stack, tmp_path):
    """An unknown type is not dropped by the generator (generic azapi body); where the target ARM does not
    know it, its PUT is refused with an error naming the type, and nothing is written."""
    from tenant_replicator.iac.generate import generate

    source = {
        "id": f"/subscriptions/{SRC}/resourceGroups/rg-app-prod/providers/Contoso.Widgets/gadgets/g1",
        "name": "g1",
        "type": "Contoso.Widgets/gadgets",
        "location": "westeurope",
        "properties": {"size": 3},
    }
    group = {"id": f"/subscriptions/{SRC}/resourceGroups/rg-app-prod", "name": "rg-app-prod", "location": "westeurope"}
    result = generate([source], [group], SRC, TGT, "abc123")
    assert result.resource_count >= 1 and not result.skipped
    target_id = source["id"].replace(SRC, TGT)
    before = writes(small_stack)
    import urllib.error

    with pytest.raises(urllib.error.HTTPError) as caught:
        small_stack.sim_call("PUT", f"{target_id}?api-version=2024-01-01", {"location": "westeurope"})
    answer = caught.value.read().decode()
    assert "Contoso.Widgets" in answer, answer
    created = [r["id"] for r in faultstack.list_target(small_stack) if "contoso.widgets" in r["id"].lower()]
    assert created == []
    faultstack.record_outcome(
        "bad input: unknown resource type",
        f"generated generically; target ARM refuses it naming the type ({json.loads(answer)['error']['code']})",
        len(created),
        writes_attempted=writes(small_stack) - before,
    )
