"""The graph store dies or restarts during a scan: the scan fails or says it is incomplete, and fidelity is
never computed from what a broken scan left behind (the DAG's scan_target/fidelity steps call exactly these)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import faultstack as fs
import pytest

from tenant_replicator import devstack, iteration
from tenant_replicator.settings import load_settings
from tenant_replicator.sim.seed import SOURCE_SUBSCRIPTION_ID as SRC
from tenant_replicator.sim.seed import TARGET_SUBSCRIPTION_ID as TGT

pytestmark = pytest.mark.faults

SLOW_TARGET_READS = {"random": {"seed": 3, "latency_ms": [150, 250], "path_contains": f"/subscriptions/{TGT}"}}


@pytest.fixture(scope="module")
def graph_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[devstack.Stack]:
    with devstack.start_stack(tmp_path_factory.mktemp("graphfaults"), airflow=False, slack=False) as stack:
        yield stack


def settings_of(stack: devstack.Stack):
    keys = ("TENANT_REPLICATOR_HOME", "TENANT_REPLICATOR_ARM_ENDPOINT", "TENANT_REPLICATOR_ARM_CA_FILE")
    return load_settings({k: stack.env[k] for k in keys} | {"TENANT_REPLICATOR_GRAPH_URI": stack.graph_uri})


def ctx_for(tmp_path: Path) -> dict[str, Any]:
    (tmp_path / "terraform").mkdir(exist_ok=True)
    return {
        "source_subscription": SRC,
        "target_subscription": TGT,
        "campaign_dir": str(tmp_path),
        "tf_dir": str(tmp_path / "terraform"),
    }


def scan_in_background(stack: devstack.Stack, scan_id: str) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["report"] = iteration.scan(settings_of(stack), TGT, scan_id)
        except Exception as error:  # what the scan_target task would fail with
            outcome["error"] = f"{type(error).__name__}: {error}"

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    devstack.wait_for(lambda: fs.sim_stats(stack)["reads"].get(TGT, 0) >= 3, 30, "target scan under way", 0.05)
    return thread, outcome


def fidelity_outcome(stack: devstack.Stack, ctx: dict[str, Any], scan_id: str) -> str:
    """'report' only when fidelity was computed; 'waits' (None) or the error otherwise."""
    try:
        report = iteration.fidelity(settings_of(stack), ctx, scan_id)
    except Exception as error:
        return f"refused: {type(error).__name__}: {str(error)[:120]}"
    return "waits (scan not recorded)" if report is None else "report"


def test_graph_down_for_the_rest_of_a_scan_never_yields_fidelity(graph_stack, tmp_path):
    stack = graph_stack
    stack.sim_call("POST", "/_sim/reset")
    assert iteration.scan(settings_of(stack), SRC, "g1:source")["complete"]
    stack.sim_call("POST", "/_sim/faults", SLOW_TARGET_READS)
    thread, outcome = scan_in_background(stack, "g1:target")
    fs.sigkill(fs.service(stack, "falkordb"))  # down until the scan has ended
    thread.join(120)
    stack.sim_call("DELETE", "/_sim/faults")
    report = outcome.get("report")
    assert "error" in outcome or (report is not None and report["complete"] is False), outcome
    fs.restart_graph(stack)
    ctx = ctx_for(tmp_path)
    during = fidelity_outcome(stack, ctx, "g1:target")
    assert during != "report"  # never from the broken scan
    retry = iteration.scan(settings_of(stack), TGT, "g1:target-retry")
    assert retry["complete"]
    assert fidelity_outcome(stack, ctx, "g1:target-retry") == "report"  # the retried scan is usable
    fs.record_outcome(
        "graph store killed during a target scan (down until it ended)",
        f"scan: {outcome.get('error', 'incomplete')[:100]}; fidelity for it: {during}; the rescan completes",
        0,
    )


def test_graph_restarted_within_a_scan_gives_a_complete_scan_or_an_incomplete_one(graph_stack, tmp_path):
    from tenant_replicator.graph.store import open_graph
    from tenant_replicator.scan import read_resources

    stack = graph_stack
    stack.sim_call("POST", "/_sim/reset")
    assert iteration.scan(settings_of(stack), SRC, "g2:source")["complete"]
    stack.sim_call("POST", "/_sim/faults", SLOW_TARGET_READS)
    thread, outcome = scan_in_background(stack, "g2:target")
    fs.restart_graph(stack)  # SIGKILL + start on its AOF while the scan still reads ARM
    thread.join(120)
    stack.sim_call("DELETE", "/_sim/faults")
    report = outcome.get("report")
    ctx = ctx_for(tmp_path)
    fidelity = fidelity_outcome(stack, ctx, "g2:target")
    lost = 0
    if report and report["complete"]:
        store = open_graph(stack.graph_uri, "tenant_replicator")
        try:
            in_graph = len(read_resources(store, TGT))
        finally:
            store.close()
        lost = report["resources"] - in_graph
        assert lost == 0  # a scan that says complete has everything in the graph
        assert fidelity == "report"
    else:
        assert fidelity != "report"
    fs.record_outcome(
        "graph store restarted while a target scan runs",
        "scan complete with every resource in the graph"
        if report and report["complete"]
        else f"scan failed/incomplete ({outcome.get('error', 'incomplete')[:80]}); fidelity {fidelity}",
        lost,
    )


def test_scan_start_with_the_graph_unreachable_is_a_clear_error(graph_stack, tmp_path):
    stack = graph_stack
    fs.sigkill(fs.service(stack, "falkordb"))
    try:
        started = time.monotonic()
        with pytest.raises(Exception) as caught:
            iteration.scan(settings_of(stack), TGT, "g3:target")
        message = f"{type(caught.value).__name__}: {caught.value}"
        assert "127.0.0.1" in message or "graph" in message.lower() or "connect" in message.lower(), message
        assert fidelity_outcome(stack, ctx_for(tmp_path), "g3:target") != "report"
    finally:
        fs.restart_graph(stack)
    fs.record_outcome(
        "graph store unreachable when a scan starts",
        f"refused in {time.monotonic() - started:.1f} s: {message[:120]}",
        0,
    )
