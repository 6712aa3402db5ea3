"""Detached converge jobs and the trigger that waits for them, with the real terraform binary.

The trigger's ``run()`` is driven with asyncio directly (no triggerer process): it must fire once
with the job's summary, notice a job that died without a result, and ``on_kill`` must stop
terraform so that nothing carrying the job's marker survives.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import stat
import textwrap
import time
from dataclasses import asdict
from pathlib import Path

import pytest
from proc_util import marked, marker_fixture

from tenant_replicator.terraform import jobs
from tenant_replicator.terraform.converge import ConvergeOptions
from tenant_replicator_airflow.triggers.terraform import TerraformJobTrigger

pytestmark = pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform not on PATH")

SLOW = """
resource "terraform_data" "fast" {}
resource "terraform_data" "slow" {
  provisioner "local-exec" {
    command = "exec sleep 60"
  }
}
resource "terraform_data" "after" {
  input = terraform_data.slow.id
}
"""


marker = marker_fixture(within_s=10.0, kill_leftovers=True)


def start(workdir: Path, marker: str, body: str, **options) -> dict:
    (workdir / "main.tf").write_text(textwrap.dedent(body))
    opts = asdict(ConvergeOptions(run_init=True, **options))
    return jobs.start_job(workdir, opts, env={**os.environ, "TR_TEST_MARKER": marker}, grace_s=5)


async def first_event(trigger: TerraformJobTrigger, timeout: float = 120) -> dict:
    async def first() -> dict:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("trigger ended without an event")

    return await asyncio.wait_for(first(), timeout)


def test_trigger_fires_with_the_summary_of_a_detached_job(tmp_path: Path, marker: str) -> None:
    record = start(tmp_path, marker, 'resource "terraform_data" "r" {\n  count = 3\n  input = count.index\n}\n')
    assert record["pid"] == record["pgid"] and record["attached"] is False
    assert Path(record["log_path"]).parent == tmp_path and record["started_at"] > 0
    assert stat.S_IMODE((tmp_path / jobs.JOB_FILE).stat().st_mode) == 0o600
    trigger = TerraformJobTrigger(str(tmp_path), record["job_id"], poll_interval=0.2, deadline_s=120)
    classpath, kwargs = trigger.serialize()
    assert classpath == "tenant_replicator_airflow.triggers.terraform.TerraformJobTrigger"
    event = asyncio.run(first_event(TerraformJobTrigger(**kwargs)))
    json.dumps(event)  # a TriggerEvent payload must serialise
    assert event["status"] == "done" and event["job_id"] == record["job_id"]
    summary = event["summary"]
    assert summary["ok"] and summary["applied"] == 3 and summary["writes"]["create"] == 3
    assert '"type":"apply_complete"' in Path(record["log_path"]).read_text()  # terraform's events are logged
    assert jobs.job_state(tmp_path, record["job_id"]) == "finished"


def test_pre_apply_error_comes_back_as_an_error_event(tmp_path: Path, marker: str) -> None:
    record = start(tmp_path, marker, 'resource "terraform_data" "x" { input = var.nope }\n')
    event = asyncio.run(first_event(TerraformJobTrigger(str(tmp_path), record["job_id"], poll_interval=0.2)))
    assert event["status"] == "error" and "undeclared input variable" in event["error"]
    assert event["diagnostics"][0]["summary"] == "Reference to undeclared input variable"


def test_on_kill_stops_terraform_cleanly_and_a_second_start_attaches_meanwhile(tmp_path: Path, marker: str) -> None:
    record = start(tmp_path, marker, SLOW)
    again = start(tmp_path, marker, SLOW)  # e.g. a retried task while the first job still runs
    assert again["attached"] is True and again["job_id"] == record["job_id"]
    trigger = TerraformJobTrigger(str(tmp_path), record["job_id"], poll_interval=0.2, grace_s=5)

    async def kill_after_start() -> dict:
        end = time.monotonic() + 60
        while "terraform_data.slow: Provisioning" not in Path(record["log_path"]).read_text():
            assert time.monotonic() < end, "slow resource never started"
            await asyncio.sleep(0.2)
        started = time.monotonic()
        await trigger.on_kill()
        assert time.monotonic() - started < 5 + 10
        return await first_event(TerraformJobTrigger(str(tmp_path), record["job_id"], poll_interval=0.2))

    event = asyncio.run(kill_after_start())
    assert marked(marker) == []  # job, terraform and its provisioner: all gone
    assert event["status"] == "done"  # terraform stopped gracefully and the job wrote its result
    summary = event["summary"]
    assert summary["stopped"] and not summary["ok"] and summary["applied"] == 1
    assert summary["not_started"] == ["terraform_data.after"]


def test_a_job_killed_outright_is_reported_lost_and_its_terraform_killed(tmp_path: Path, marker: str) -> None:
    record = start(tmp_path, marker, SLOW)
    end = time.monotonic() + 60
    while "terraform_data.slow: Provisioning" not in Path(record["log_path"]).read_text():
        assert time.monotonic() < end
        time.sleep(0.2)
    os.kill(record["pid"], signal.SIGKILL)  # the job dies; terraform (its own group) would live on
    event = asyncio.run(first_event(TerraformJobTrigger(str(tmp_path), record["job_id"], poll_interval=0.2)))
    assert event["status"] == "error" and "ended without a result" in event["error"]
    assert marked(marker) == []
