"""Safety of the campaign state under ``converge``: real terraform, built-in ``terraform_data``.

Permissions, bounded timestamped backups before every apply, corrupted state refused before
anything runs, too-old terraform refused, a killed run's lock released, destroys refused.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from proc_util import marked, marker_fixture
from test_runner import SLOW_CONFIG  # same folder (rootdir import mode)

from tenant_replicator.terraform import safety
from tenant_replicator.terraform.converge import ConvergeOptions, arm_writes, converge
from tenant_replicator.terraform.runner import LOCAL_LOCK_INFO, Terraform, TerraformTooOld, version_tuple
from tenant_replicator.terraform.safety import StateCorrupted

pytestmark = pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform not on PATH")


marker = marker_fixture()


def tf_for(workdir: Path, marker: str, resources: dict[str, dict], grace_s: float = 10.0) -> Terraform:
    (workdir / "main.tf.json").write_text(json.dumps({"resource": {"terraform_data": resources}}))
    return Terraform(workdir, env={"TR_TEST_MARKER": marker}, grace_s=grace_s)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_state_dir_and_files_are_private_and_backed_up_before_each_apply(tmp_path: Path, marker: str) -> None:
    work = tmp_path / "tf"
    work.mkdir(mode=0o755)
    tf = tf_for(work, marker, {"a": {"input": "1"}})
    first = converge(tf, ConvergeOptions(run_init=True))
    assert first["ok"] and first["state_backup"] is None  # nothing to back up before the first apply
    assert mode(work) == 0o700 and mode(work / "terraform.tfstate") == 0o600 and mode(work / "tfplan") == 0o600

    before = (work / "terraform.tfstate").read_bytes()
    tf = tf_for(work, marker, {"a": {"input": "1"}, "b": {"input": "2"}})
    second = converge(tf)
    assert second["ok"] and second["plan"]["add"] == 1
    backups = safety.list_backups(work)
    assert [b.name for b in backups] == [second["state_backup"]]
    assert backups[0].read_bytes() == before  # the state as it was just before the apply
    assert mode(backups[0]) == 0o600 and mode(work / safety.BACKUP_DIR) == 0o700
    assert mode(work / "terraform.tfstate.backup") == 0o600  # written by terraform under umask 077

    nothing = converge(tf)
    assert nothing["ok"] and nothing["changes"] is False and nothing["state_backup"] is None
    assert len(safety.list_backups(work)) == 1  # no apply, no backup


def test_backups_are_bounded_oldest_first_and_the_state_never_removed(tmp_path: Path) -> None:
    (tmp_path / "terraform.tfstate").write_text('{"version": 4, "serial": 1, "resources": []}')
    start = datetime(2026, 1, 1, tzinfo=UTC)
    made = [safety.backup_state(tmp_path, keep=3, now=start + timedelta(seconds=i)) for i in range(5)]
    assert [p.name for p in safety.list_backups(tmp_path)] == [p.name for p in made[2:]]
    assert (tmp_path / "terraform.tfstate").exists()
    remote = safety.backup_state(tmp_path, text='{"version": 4}', keep=3, now=start + timedelta(seconds=9))
    assert remote.read_text() == '{"version": 4}' and len(safety.list_backups(tmp_path)) == 3


@pytest.mark.parametrize("content", ["{not json", '{"resources": "x"}', "\x00\x01garbage"])
def test_corrupted_state_is_refused_naming_the_file_and_nothing_is_applied(
    tmp_path: Path, marker: str, content: str
) -> None:
    tf = tf_for(tmp_path, marker, {"a": {"input": "1"}})
    (tmp_path / "terraform.tfstate").write_text(content)
    with pytest.raises(StateCorrupted, match=str(tmp_path / "terraform.tfstate")) as raised:
        converge(tf, ConvergeOptions(run_init=True))
    assert "nothing was applied" in str(raised.value)
    assert (tmp_path / "terraform.tfstate").read_text() == content  # untouched
    assert not (tmp_path / "tfplan").exists() and safety.list_backups(tmp_path) == []


def fake_terraform(directory: Path, version: str) -> Path:
    """A terraform stand-in that only answers ``version -json`` (an old release)."""
    directory.mkdir()
    script = directory / "terraform"
    script.write_text(
        textwrap.dedent(f"""\
        #!/bin/sh
        echo '{{"terraform_version": "{version}", "platform": "linux_amd64"}}'
    """)
    )
    script.chmod(0o755)
    return script


def test_too_old_terraform_is_a_clear_error_before_anything_runs(tmp_path: Path) -> None:
    old = fake_terraform(tmp_path / "bin", "1.4.6")
    (tmp_path / "main.tf.json").write_text("{}")
    tf = Terraform(tmp_path, binary=str(old))
    with pytest.raises(TerraformTooOld, match=r"Terraform 1\.4\.6; tenant-replicator needs >= 1\.5"):
        converge(tf)
    assert version_tuple("1.11.4") == (1, 11) and version_tuple("v1.5.0") == (1, 5)
    assert version_tuple("garbage") == (0, 0)


def test_a_killed_run_leaves_a_lock_that_the_next_converge_releases(tmp_path: Path, marker: str) -> None:
    (tmp_path / "main.tf").write_text(textwrap.dedent(SLOW_CONFIG))
    tf = Terraform(tmp_path, env={"TR_TEST_MARKER": marker}, grace_s=0)
    tf.plan()

    def kill_hard() -> None:
        time.sleep(1.5)
        os.killpg(tf._current.pid, 9)  # like a task killed with SIGKILL: no graceful stop

    killer = threading.Thread(target=kill_hard)
    killer.start()
    killed = tf.apply(timeout=60)
    killer.join()
    assert killed.killed and (tmp_path / LOCAL_LOCK_INFO).exists() and marked(marker) == []

    (tmp_path / "main.tf").write_text(textwrap.dedent(SLOW_CONFIG).replace("exec sleep 60", "true"))
    tf = Terraform(tmp_path, env={"TR_TEST_MARKER": marker})
    summary = converge(tf)
    assert summary["checks"]["stale_lock_released"] is True
    assert summary["ok"], summary
    assert not (tmp_path / LOCAL_LOCK_INFO).exists()


def test_destroy_is_refused_unless_allowed_and_counted(tmp_path: Path, marker: str) -> None:
    tf = tf_for(
        tmp_path,
        marker,
        {"keep": {"input": "k"}, "gone": {"input": "g"}, "moved": {"input": "m", "triggers_replace": "v1"}},
    )
    assert converge(tf, ConvergeOptions(run_init=True))["ok"]

    # a scan that "missed" one resource and a change that forces a replace
    tf = tf_for(tmp_path, marker, {"keep": {"input": "k"}, "moved": {"input": "m", "triggers_replace": "v2"}})
    refused = converge(tf)
    assert refused["ok"] is False and refused["applied"] == 0 and refused["plan"]["destroy"] == 2
    assert refused["destroy_refused_count"] == 2
    assert {d["address"]: d["action"] for d in refused["destroy_refused"]} == {
        "terraform_data.gone": "delete",
        "terraform_data.moved": "replace",
    }
    assert refused["writes"]["total"] == 0 and refused["state_backup"] is None
    assert sorted(tf.state_addresses()) == ["terraform_data.gone", "terraform_data.keep", "terraform_data.moved"]

    from tenant_replicator.terraform.runner import failure_message

    assert "refused to destroy 2 resource(s) without allow_destroy=True" in failure_message(refused)

    allowed = converge(tf, ConvergeOptions(allow_destroy=True))
    assert allowed["ok"] and allowed["writes"] == {
        "create": 0,
        "update": 0,
        "delete": 1,
        "replace": 1,
        "import": 0,
        "total": 3,
    }
    assert sorted(tf.state_addresses()) == ["terraform_data.keep", "terraform_data.moved"]


def test_tainted_replace_of_our_own_failed_create_is_not_a_refused_destroy(tmp_path: Path, marker: str) -> None:
    (tmp_path / "main.tf").write_text(
        textwrap.dedent("""
        resource "terraform_data" "bad" {
          provisioner "local-exec" {
            command = "test -f ${path.module}/fixed"
          }
        }
    """)
    )
    tf = Terraform(tmp_path, env={"TR_TEST_MARKER": marker})
    first = converge(tf, ConvergeOptions(run_init=True))
    assert first["failed_count"] == 1 and not first["ok"]
    (tmp_path / "fixed").write_text("")
    second = converge(tf)
    assert second["changes"] and second["destroy_refused_count"] == 0 and second["ok"], second
    assert second["writes"]["replace"] == 1


def test_arm_writes_counts_by_action() -> None:
    actions = {"a": "create", "b": "update", "c": "replace", "d": "delete", "e": "noop", "f": "read"}
    assert arm_writes(actions, {"e": "/id"}) == {
        "create": 1,
        "update": 1,
        "delete": 1,
        "replace": 1,
        "import": 1,
        "total": 6,
    }
    assert arm_writes(actions, {}, addresses={"a", "c"})["total"] == 3


def test_destructive_changes_is_pure() -> None:
    found = safety.destructive_changes(
        {"a": "delete", "b": "replace", "c": "replace", "d": "create"}, {"b": "tainted", "c": "cannot_update"}
    )
    assert found == [
        {"address": "a", "action": "delete", "reason": ""},
        {"address": "c", "action": "replace", "reason": "cannot_update"},
    ]
