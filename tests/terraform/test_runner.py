"""Runner tests with the real terraform binary and the built-in ``terraform_data`` resource.

Every process started here carries a unique marker in its environment (terraform passes its
environment on to provisioners), so "nothing is left" is checked by scanning /proc for the
marker, not by matching names other helpers' processes share.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from proc_util import marked, marker_fixture, process_state, wait_until_gone

from tenant_replicator.terraform.process import ManagedProcess, _group_members
from tenant_replicator.terraform.runner import (
    LOCAL_LOCK_INFO,
    Terraform,
    TerraformFailed,
    TerraformNotFound,
    _fcntl_lock_free,
)

pytestmark = pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform not on PATH")

SLOW_CONFIG = """
resource "terraform_data" "fast" {
  count = 3
  input = count.index
}
resource "terraform_data" "slow" {
  provisioner "local-exec" {
    command = "echo $$ > ${path.module}/sleep.pid; exec sleep 60"
  }
}
resource "terraform_data" "after_slow" {
  input = terraform_data.slow.id
}
"""

FAILING_CONFIG = """
resource "terraform_data" "ok" {
  count = 2
  input = "v${count.index}"
}
resource "terraform_data" "bad" {
  provisioner "local-exec" {
    command = "echo boom >&2; exit 1"
  }
}
resource "terraform_data" "after_bad" {
  input = terraform_data.bad.id
}
"""


marker = marker_fixture()


def make_tf(workdir: Path, marker: str, config: str, grace_s: float = 10.0) -> Terraform:
    (workdir / "main.tf").write_text(textwrap.dedent(config))
    return Terraform(workdir, env={"TR_TEST_MARKER": marker}, grace_s=grace_s)


def test_missing_binary_is_reported_with_install_hint(tmp_path: Path) -> None:
    with pytest.raises(TerraformNotFound, match="install Terraform 1.11"):
        Terraform(tmp_path, binary="terraform-does-not-exist-here")


def test_env_has_automation_flags_and_caller_values(tmp_path: Path, marker: str) -> None:
    tf = make_tf(tmp_path, marker, 'resource "terraform_data" "a" {}\n')
    assert tf.env["TF_IN_AUTOMATION"] == "1" and tf.env["TF_INPUT"] == "0"
    assert tf.env["CHECKPOINT_DISABLE"] == "1" and tf.env["TR_TEST_MARKER"] == marker
    assert tf.env["PATH"] == os.environ["PATH"]
    assert tf.version().startswith("1.")


def test_fifty_resources_apply_then_replan_is_clean(tmp_path: Path, marker: str) -> None:
    resources = {f"r{i}": {"input": f"value-{i}"} for i in range(50)}
    (tmp_path / "main.tf.json").write_text(json.dumps({"resource": {"terraform_data": resources}}))
    tf = Terraform(tmp_path, env={"TR_TEST_MARKER": marker})
    tf.init()
    assert tf.validate()["valid"] is True

    plan = tf.plan()
    assert plan.exit_code == 2 and plan.changes
    assert (plan.add, plan.change, plan.destroy) == (50, 0, 0)
    assert set(plan.actions) == {f"terraform_data.r{i}" for i in range(50)}
    assert set(plan.actions.values()) == {"create"}

    applied = tf.apply(timeout=120)
    assert applied.ok, applied.as_dict()
    assert sorted(applied.applied) == sorted(plan.actions)
    assert applied.change_summary["add"] == 50
    json.dumps(applied.as_dict())  # XCom-serialisable
    json.dumps(plan.as_dict())

    again = tf.plan()
    assert again.exit_code == 0 and not again.changes and again.actions == {}
    assert sorted(tf.state_addresses()) == sorted(plan.actions)


def test_invalid_configuration_raises_with_diagnostics(tmp_path: Path, marker: str) -> None:
    tf = make_tf(tmp_path, marker, 'resource "terraform_data" "x" { input = var.nope }\n')
    with pytest.raises(TerraformFailed) as raised:
        tf.validate()
    assert raised.value.diagnostics[0]["summary"] == "Reference to undeclared input variable"
    assert raised.value.diagnostics[0]["file"] == "main.tf"
    with pytest.raises(TerraformFailed, match="undeclared input variable") as planned:
        tf.plan()
    assert planned.value.returncode == 1


def test_failing_provisioner_yields_failed_entry_and_not_started_dependents(tmp_path: Path, marker: str) -> None:
    tf = make_tf(tmp_path, marker, FAILING_CONFIG)
    plan = tf.plan()
    assert plan.add == 4
    result = tf.apply()
    assert not result.ok and result.exit_code == 1 and not result.timed_out
    assert sorted(result.applied) == ["terraform_data.ok[0]", "terraform_data.ok[1]"]
    assert [f["address"] for f in result.failed] == ["terraform_data.bad"]
    assert result.failed[0]["summary"] == "local-exec provisioner error"
    assert "exit status 1" in result.failed[0]["detail"] and "boom" in result.failed[0]["detail"]
    assert result.not_started == ["terraform_data.after_bad"]
    # The failed resource is tainted: the next plan replaces it and still creates its dependent.
    replan = tf.plan()
    assert replan.actions == {"terraform_data.bad": "replace", "terraform_data.after_bad": "create"}


def test_timeout_stops_gracefully_and_leaves_no_process_and_intact_state(tmp_path: Path, marker: str) -> None:
    tf = make_tf(tmp_path, marker, SLOW_CONFIG, grace_s=10)
    tf.plan()
    started = time.monotonic()
    result = tf.apply(timeout=3)
    returned_after = time.monotonic() - started
    left = marked(marker)  # at once: apply() returns only when the group is gone

    assert result.timed_out and not result.ok
    assert returned_after < 3 + 10, returned_after  # within timeout + grace
    assert left == []
    sleep_pid = int((tmp_path / "sleep.pid").read_text())
    assert not Path(f"/proc/{sleep_pid}").exists() or "Z" in Path(f"/proc/{sleep_pid}/stat").read_text()
    assert result.interrupted  # terraform saw the SIGINT and stopped itself
    assert sorted(result.applied) == [f"terraform_data.fast[{i}]" for i in range(3)]
    assert [f["address"] for f in result.failed] + result.in_progress == ["terraform_data.slow"]
    assert result.not_started == ["terraform_data.after_slow"]

    # State is readable, the lock is released, and terraform works on it again.
    assert not (tmp_path / LOCAL_LOCK_INFO).exists()
    assert set(tf.state_addresses()) >= {f"terraform_data.fast[{i}]" for i in range(3)}
    assert "terraform_data.after_slow" in tf.plan().actions


def test_stop_from_another_thread_ends_apply(tmp_path: Path, marker: str) -> None:
    tf = make_tf(tmp_path, marker, SLOW_CONFIG, grace_s=10)
    tf.plan()
    stopper = threading.Timer(1.5, tf.stop)
    stopper.start()
    started = time.monotonic()
    result = tf.apply(timeout=120)
    stopper.join()
    assert time.monotonic() - started < 10
    assert result.stopped and not result.timed_out and not result.ok
    assert result.not_started == ["terraform_data.after_slow"]
    assert wait_until_gone(marker) == []
    with pytest.raises(Exception, match="runner was stopped"):
        tf.plan()  # a stopped runner starts nothing new


def test_killed_terraform_leaves_stale_lock_info_that_is_released(tmp_path: Path, marker: str) -> None:
    """A terraform killed outright (OOM, node loss) keeps its lock info file; the kernel dropped the
    fcntl lock, so ``force_unlock_if_stale`` may remove the file, but never while a run holds it."""
    tf = make_tf(tmp_path, marker, SLOW_CONFIG, grace_s=0)
    tf.plan()
    seen_while_running: list[bool] = []

    def kill_hard() -> None:
        time.sleep(1.5)
        seen_while_running.append(_fcntl_lock_free(tmp_path / "terraform.tfstate"))
        seen_while_running.append(tf.force_unlock_if_stale())
        os.killpg(tf._current.pid, 9)

    killer = threading.Thread(target=kill_hard)
    killer.start()
    result = tf.apply(timeout=60)
    killer.join()
    assert seen_while_running == [False, False]
    assert result.exit_code == -9 and result.killed
    assert (tmp_path / LOCAL_LOCK_INFO).exists()
    assert tf.force_unlock_if_stale() is True
    assert not (tmp_path / LOCAL_LOCK_INFO).exists()
    assert "terraform_data.after_slow" in tf.plan().actions


def test_process_group_is_killed_after_grace_including_grandchild(tmp_path: Path, marker: str) -> None:
    """A child that ignores SIGINT and has a grandchild ``sleep``: after the grace, both are gone."""
    script = tmp_path / "stubborn.py"
    script.write_text(
        textwrap.dedent("""
        import signal, subprocess, sys, time
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        grandchild = subprocess.Popen(["sleep", "300"])
        print(grandchild.pid, flush=True)
        time.sleep(300)
    """)
    )
    lines: list[str] = []
    proc = ManagedProcess(
        [sys.executable, str(script)], env={**os.environ, "TR_TEST_MARKER": marker}, on_line=lines.append, grace_s=1.0
    )
    result = proc.run(timeout=1.0)
    assert result.timed_out and result.killed and result.returncode == -9
    assert 1.9 <= result.duration_s < 4
    assert lines == result.lines and len(lines) == 1
    # Checked at once, no waiting: run() returns only after the kernel removed the group.
    assert _group_members(proc.pid) == []
    grandchild = Path(f"/proc/{lines[0]}")
    assert not grandchild.exists() or process_state(lines[0]) in ("Z", "X")
    assert marked(marker) == []


@pytest.mark.parametrize("parent_sigint", ["default", "ignored"])
def test_process_that_obeys_sigint_returns_quickly(marker: str, parent_sigint: str) -> None:
    """Also when the worker itself runs with SIGINT ignored (started in the background: `cmd &`, nohup),
    which children would inherit: the graceful stop must still reach them."""
    handler = signal.SIG_IGN if parent_sigint == "ignored" else signal.default_int_handler
    previous = signal.signal(signal.SIGINT, handler)
    try:
        process = ManagedProcess(["sleep", "30"], env={**os.environ, "TR_TEST_MARKER": marker}, grace_s=30)
        result = process.run(timeout=0.5)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert result.timed_out and not result.killed and result.returncode == -2
    assert result.duration_s < 2
