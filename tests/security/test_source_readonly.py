"""The source subscription is only ever read: 0 writes across every campaign of the session.

Runs after the fault and secret suites in the same session (file order), so its count covers the clean run,
the storm, the killed scheduler, the restarted simulator, the duplicate trigger and the canary campaign.
The simulator counts every write attempt it receives per subscription (before faults and validation),
and the session keeps the counts of every simulator reset and restart.
"""

from __future__ import annotations

import faultstack as fs
import pytest

from tenant_replicator.sim.seed import SOURCE_SUBSCRIPTION_ID as SRC

pytestmark = [pytest.mark.faults, pytest.mark.slow]


@pytest.mark.timeout(1200)
def test_no_write_ever_reached_the_source(fault_stack):
    stack, client = fault_stack
    if not fs.SESSION.outcomes:  # run alone: one campaign so the count covers something
        fs.reset_simulator(stack)
        client.trigger(fs.DAG_ID, fs.campaign_conf("sec-readonly", required_successes=1, max_iterations=3))
        fs.follow(client, "sec-readonly", 360)
    stats = fs.sim_stats(stack)
    source_writes = fs.total_source_writes(stack)
    source_reads = fs.SESSION.source_reads + int(stats["reads"].get(SRC, 0))
    assert source_reads > 0  # the source was scanned
    assert source_writes == 0
    fs.record_outcome(
        "source subscription written to (whole session)",
        f"0 writes; {source_reads} reads",
        source_writes,
        source_reads=source_reads,
    )
