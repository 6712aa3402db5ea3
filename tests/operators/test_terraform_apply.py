"""TerraformApplyOperator.execute() against the real terraform binary (terraform_data resources).

The context is a minimal dict with a recording ``ti`` (a unit test of one method); the operator
under the real scheduler is tested by the DAG's end-to-end test.
"""

from __future__ import annotations

import json
import shutil
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowException
from proc_util import marker_fixture

from tenant_replicator_airflow.operators.terraform_apply import TerraformApplyOperator

pytestmark = pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform not on PATH")


class RecordingTI:
    """Stands in for the task instance: records xcom_push calls."""

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        json.dumps(value)  # XCom values must be JSON-serialisable
        self.pushed[key] = value


marker = marker_fixture()


def write_config(workdir: Path, body: str) -> Path:
    (workdir / "main.tf").write_text(textwrap.dedent(body))
    return workdir


def run(op: TerraformApplyOperator) -> tuple[RecordingTI, dict[str, Any] | None, Exception | None]:
    ti = RecordingTI()
    try:
        return ti, op.execute({"ti": ti}), None
    except AirflowException as err:
        return ti, None, err


def test_applies_then_second_run_has_nothing_to_do(tmp_path: Path, marker: str) -> None:
    write_config(tmp_path, 'resource "terraform_data" "r" {\n  count = 5\n  input = count.index\n}\n')
    op = TerraformApplyOperator(
        task_id="apply", working_dir=str(tmp_path), env={"TR_TEST_MARKER": marker}, timeout="120", parallelism="4"
    )
    ti, summary, err = run(op)
    assert err is None and summary is not None
    assert ti.pushed["apply_summary"] == summary
    assert summary["plan"] == {"add": 5, "change": 0, "destroy": 0, "import": 0}
    assert summary["changes"] is True and summary["applied"] == 5 and summary["ok"] is True
    assert summary["failed"] == [] and summary["failed_count"] == 0 and summary["timed_out"] is False
    # no cli config file: init runs
    assert set(summary["timings"]) == {"prepare_s", "init_s", "validate_s", "plan_s", "backup_s", "apply_s"}

    ti2, again, err2 = run(op)
    assert err2 is None and again is not None
    assert again["changes"] is False and again["applied"] == 0 and again["ok"] is True
    assert "apply_s" not in again["timings"]


def test_failed_resource_pushes_summary_then_raises_with_address(tmp_path: Path, marker: str) -> None:
    write_config(
        tmp_path,
        """
        resource "terraform_data" "ok" {}
        resource "terraform_data" "vnet" {
          provisioner "local-exec" {
            command = "echo 'ARM PUT /s/t/x failed: 404 ParentResourceNotFound: no parent'; exit 1"
          }
        }
        resource "terraform_data" "subnet" {
          input = terraform_data.vnet.id
        }
    """,
    )
    op = TerraformApplyOperator(task_id="apply", working_dir=str(tmp_path), env={"TR_TEST_MARKER": marker})
    ti, summary, err = run(op)
    assert summary is None and err is not None
    assert "terraform_data.vnet (ParentResourceNotFound)" in str(err) and "1 not started" in str(err)
    pushed = ti.pushed["apply_summary"]
    assert pushed["ok"] is False and pushed["applied"] == 1
    assert pushed["failed_count"] == 1 and pushed["failed"][0]["address"] == "terraform_data.vnet"
    assert pushed["arm_error_codes"] == {"ParentResourceNotFound": 1}
    assert pushed["not_started"] == ["terraform_data.subnet"] and pushed["not_started_count"] == 1


SLOW = """
    resource "terraform_data" "fast" {}
    resource "terraform_data" "slow" {
      provisioner "local-exec" {
        command = "sleep 60"
      }
    }
"""


def test_timeout_pushes_timed_out_summary_and_leaves_no_process(tmp_path: Path, marker: str) -> None:
    write_config(tmp_path, SLOW)
    op = TerraformApplyOperator(
        task_id="apply", working_dir=str(tmp_path), env={"TR_TEST_MARKER": marker}, timeout="2", grace_s=10
    )
    started = time.monotonic()
    ti, _, err = run(op)
    assert time.monotonic() - started < 2 + 10 + 5
    assert err is not None and "timed out" in str(err)
    pushed = ti.pushed["apply_summary"]
    assert pushed["timed_out"] is True and pushed["ok"] is False and pushed["applied"] == 1


def test_on_kill_stops_terraform_from_another_thread(tmp_path: Path, marker: str) -> None:
    write_config(tmp_path, SLOW)
    op = TerraformApplyOperator(task_id="apply", working_dir=str(tmp_path), env={"TR_TEST_MARKER": marker})
    killer = threading.Timer(2.0, op.on_kill)
    killer.start()
    started = time.monotonic()
    ti, _, err = run(op)
    killer.join()
    assert time.monotonic() - started < 15
    assert err is not None and "stopped" in str(err)
    assert ti.pushed["apply_summary"]["stopped"] is True


def test_invalid_config_pushes_apply_error_not_a_summary(tmp_path: Path, marker: str) -> None:
    write_config(tmp_path, 'resource "terraform_data" "x" { input = var.nope }\n')
    op = TerraformApplyOperator(task_id="apply", working_dir=str(tmp_path), env={"TR_TEST_MARKER": marker})
    ti, _, err = run(op)
    assert err is not None and "undeclared input variable" in str(err)
    assert "apply_summary" not in ti.pushed  # a missing summary records the iteration as failed
    assert ti.pushed["apply_error"]["diagnostics"][0]["summary"] == "Reference to undeclared input variable"


def test_cli_config_file_skips_init_and_reaches_terraform(tmp_path: Path, marker: str) -> None:
    cli_config = tmp_path / "terraform.rc"
    cli_config.write_text("disable_checkpoint = true\n")
    work = tmp_path / "work"
    work.mkdir()
    write_config(work, 'resource "terraform_data" "r" {}\n')
    op = TerraformApplyOperator(
        task_id="apply", working_dir=str(work), env={"TR_TEST_MARKER": marker}, cli_config_file=str(cli_config)
    )
    assert op._make_runner().env["TF_CLI_CONFIG_FILE"] == str(cli_config)
    _, summary, err = run(op)
    assert err is None and summary is not None and summary["applied"] == 1
    assert "init_s" not in summary["timings"]


def test_template_fields_render_from_params(tmp_path: Path) -> None:
    with DAG("tf_apply_render", schedule=None):
        op = TerraformApplyOperator(
            task_id="apply",
            working_dir="{{ params.dir }}",
            timeout="{{ params.t }}",
            env={"X": "{{ params.dir }}"},
            cli_config_file="{{ params.rc }}",
        )
    op.render_template_fields({"params": {"dir": str(tmp_path), "t": 600, "rc": "/x/rc"}})
    rendered = (op.working_dir, op.timeout, op.env, op.cli_config_file)
    assert rendered == (str(tmp_path), "600", {"X": str(tmp_path)}, "/x/rc")


def test_missing_working_dir_is_a_clear_error(tmp_path: Path) -> None:
    op = TerraformApplyOperator(task_id="apply", working_dir=str(tmp_path / "nope"))
    _, _, err = run(op)
    assert err is not None and "does not exist" in str(err)


def _resume(op: TerraformApplyOperator, deferred: Any) -> tuple[RecordingTI, dict[str, Any] | None, Exception | None]:
    """What the triggerer + a worker do after ``defer``: run the trigger, call ``execute_complete``."""
    import asyncio

    async def first_event() -> dict[str, Any]:
        async for event in deferred.trigger.run():
            return event.payload
        raise AssertionError("no event")

    payload = asyncio.run(asyncio.wait_for(first_event(), 120))
    ti = RecordingTI()
    try:
        return ti, getattr(op, deferred.method_name)({"ti": ti}, payload), None
    except AirflowException as err:
        return ti, None, err


def test_deferrable_runs_detached_and_resumes_with_the_same_summary(tmp_path: Path, marker: str) -> None:
    from airflow.sdk.exceptions import TaskDeferred

    write_config(tmp_path, 'resource "terraform_data" "r" {\n  count = 2\n  input = count.index\n}\n')
    op = TerraformApplyOperator(
        task_id="apply",
        working_dir=str(tmp_path),
        env={"TR_TEST_MARKER": marker},
        deferrable=True,
        poll_interval=0.2,
        timeout="120",
    )
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"ti": RecordingTI()})
    assert deferred.value.trigger.serialize()[1]["deadline_s"] == 240.0
    ti, summary, err = _resume(op, deferred.value)
    assert err is None and summary["ok"] and summary["applied"] == 2
    assert ti.pushed["apply_summary"] == summary


def test_deferrable_failure_pushes_summary_then_fails_like_the_sync_path(tmp_path: Path, marker: str) -> None:
    from airflow.sdk.exceptions import TaskDeferred

    write_config(
        tmp_path,
        """
        resource "terraform_data" "bad" {
          provisioner "local-exec" {
            command = "echo 'ARM PUT /s/t/x failed: 409 Conflict: busy'; exit 1"
          }
        }
    """,
    )
    op = TerraformApplyOperator(
        task_id="apply", working_dir=str(tmp_path), env={"TR_TEST_MARKER": marker}, deferrable=True, poll_interval=0.2
    )
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"ti": RecordingTI()})
    ti, _, err = _resume(op, deferred.value)
    assert err is not None and "terraform_data.bad (Conflict)" in str(err)
    assert ti.pushed["apply_summary"]["arm_error_codes"] == {"Conflict": 1}


def test_deferrable_pre_apply_error_pushes_apply_error(tmp_path: Path, marker: str) -> None:
    op = TerraformApplyOperator(task_id="apply", working_dir=str(tmp_path), deferrable=True)
    ti = RecordingTI()
    with pytest.raises(AirflowException, match="terraform job ended"):
        op.execute_complete({"ti": ti}, {"status": "error", "error": "terraform job ended without a result"})
    assert ti.pushed["apply_error"]["error"].startswith("terraform job ended")


def test_destroy_refused_by_default_and_allowed_by_template(tmp_path: Path, marker: str) -> None:
    write_config(tmp_path, 'resource "terraform_data" "a" {}\nresource "terraform_data" "b" {}\n')
    op = TerraformApplyOperator(task_id="apply", working_dir=str(tmp_path), env={"TR_TEST_MARKER": marker})
    assert run(op)[2] is None
    write_config(tmp_path, 'resource "terraform_data" "a" {}\n')
    ti, _, err = run(op)
    assert err is not None and "refused to destroy 1 resource(s)" in str(err)
    assert ti.pushed["apply_summary"]["destroy_refused"][0]["address"] == "terraform_data.b"
    with DAG("tf_apply_destroy", schedule=None):
        allowing = TerraformApplyOperator(
            task_id="apply", working_dir=str(tmp_path), allow_destroy="{{ params.d }}", env={"TR_TEST_MARKER": marker}
        )
    allowing.render_template_fields({"params": {"d": True}})
    _, summary, err = run(allowing)
    assert err is None and summary["writes"]["delete"] == 1


def test_campaign_secrets_reach_terraform_but_not_the_log(
    tmp_path: Path, marker: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A stack's directory is not the campaign's: ``campaign_tf_dir`` names whose secret store feeds TF_VAR_*."""
    from tenant_replicator.iac.secrets import ensure_secrets, store_path_for_tf_dir

    campaign = tmp_path / "campaign"
    tf_dir = campaign / "terraform"
    tf_dir.mkdir(parents=True)
    ensure_secrets(campaign, [{"name": "secret_vm_pw", "kind": "password"}])
    secret = json.loads(store_path_for_tf_dir(tf_dir).read_text())["secret_vm_pw"]
    stack_dir = campaign / "stacks" / "rg-app"
    stack_dir.mkdir(parents=True)
    write_config(
        stack_dir,
        """
        variable "secret_vm_pw" {
          type      = string
          sensitive = true
        }
        resource "terraform_data" "vm" {
          input = var.secret_vm_pw
        }
        """,
    )
    op = TerraformApplyOperator(
        task_id="apply_stacks_0",
        working_dir=str(stack_dir),
        campaign_tf_dir=str(tf_dir),
        env={"TR_TEST_MARKER": marker},
    )
    with caplog.at_level("DEBUG"):
        ti, summary, err = run(op)
    assert err is None and summary["ok"] and summary["applied"] == 1
    state = json.loads((stack_dir / "terraform.tfstate").read_text())
    assert state["resources"][0]["instances"][0]["attributes"]["input"]["value"] == secret  # terraform got it
    assert secret not in caplog.text and secret not in json.dumps(ti.pushed)  # nobody printed it


def test_stack_summary_is_published_with_the_single_state_semantics(tmp_path: Path) -> None:
    """Stacks mode: ``apply`` runs no terraform; it pushes the merged summary and fails like a failed apply."""
    from tenant_replicator.terraform.stacks import merge_summaries

    merged = merge_summaries({"rg-net": None}, {"rg-net": "the provider plugin crashed during terraform plan"})
    op = TerraformApplyOperator(task_id="apply", working_dir=str(tmp_path), stack_summary=merged)
    ti, summary, err = run(op)
    assert ti.pushed["apply_summary"] == merged and summary is None
    assert "1 failed" in str(err) and "provider plugin crashed during terraform plan" in str(err)
    assert list(tmp_path.iterdir()) == []  # no terraform ran here
    clean = merge_summaries({"rg-net": {"ok": True, "applied": 3, "writes": {"total": 3}}})
    ti, summary, err = run(TerraformApplyOperator(task_id="apply", working_dir=str(tmp_path), stack_summary=clean))
    assert err is None and summary == clean == ti.pushed["apply_summary"]
