"""azurerm backend config from a connection: location in backend.tf.json, credentials only in env.

The azurerm backend itself cannot run here (no Azure Storage, and ``terraform init`` cannot fetch
providers offline); these tests pin the generated configuration and where secrets go, and that
terraform accepts the generated file as a backend block (``terraform validate`` without init).
"""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tenant_replicator.terraform import backend
from tenant_replicator.terraform.converge import ConvergeOptions, converge
from tenant_replicator.terraform.runner import Terraform, TerraformFailed

EXTRA = {
    "storage_account_name": "sttfstate01",
    "container_name": "tfstate",
    "resource_group_name": "rg-state",
    "subscription_id": "0000-sub",
    "tenant_id": "0000-tenant",
    "key": "campaigns/c1.tfstate",
}
SECRET = "s3cr3t-client-secret-value"


def test_backend_block_holds_location_and_auth_mode_only() -> None:
    config = backend.azurerm_backend(EXTRA, default_key="ignored.tfstate")
    assert config == {
        "terraform": {
            "backend": {
                "azurerm": {
                    "storage_account_name": "sttfstate01",
                    "container_name": "tfstate",
                    "key": "campaigns/c1.tfstate",
                    "resource_group_name": "rg-state",
                    "subscription_id": "0000-sub",
                    "tenant_id": "0000-tenant",
                    "use_azuread_auth": True,
                }
            }
        }
    }


def test_default_key_and_access_key_auth_switch_off_azuread() -> None:
    extra = {"storage_account_name": "sa", "container_name": "c", "access_key": "KEY==", "use_msi": "true"}
    settings = backend.azurerm_backend(extra, default_key="c9.tfstate")["terraform"]["backend"]["azurerm"]
    assert settings == {"storage_account_name": "sa", "container_name": "c", "key": "c9.tfstate", "use_msi": True}
    assert "KEY==" not in json.dumps(settings)


def test_missing_location_is_a_clear_error() -> None:
    with pytest.raises(backend.BackendConfigError, match="storage_account_name, container_name"):
        backend.azurerm_backend({"key": "k"}, default_key="k")


def test_credentials_go_to_env_only() -> None:
    env = backend.azurerm_env(
        "client-id", SECRET, {**EXTRA, "access_key": "KEY==", "use_oidc": True, "oidc_token": "tok"}
    )
    assert env == {
        "ARM_CLIENT_ID": "client-id",
        "ARM_CLIENT_SECRET": SECRET,
        "ARM_TENANT_ID": "0000-tenant",
        "ARM_SUBSCRIPTION_ID": "0000-sub",
        "ARM_ACCESS_KEY": "KEY==",
        "ARM_OIDC_TOKEN": "tok",
        "ARM_USE_OIDC": "true",
    }


def test_configure_writes_a_private_file_without_secrets(tmp_path: Path) -> None:
    env = backend.configure_azurerm(
        tmp_path, "client-id", SECRET, {**EXTRA, "sas_token": "sv=2024&sig=x"}, "default.tfstate"
    )
    path = tmp_path / backend.BACKEND_FILE
    text = path.read_text()
    assert SECRET not in text and "sig=x" not in text and "client-id" not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert env["ARM_CLIENT_SECRET"] == SECRET and env["ARM_SAS_TOKEN"] == "sv=2024&sig=x"
    assert backend.is_remote(tmp_path)
    with pytest.raises(backend.BackendConfigError, match="refusing to write access_key"):
        backend.write_backend(tmp_path, {"terraform": {"backend": {"azurerm": {"access_key": "x"}}}})


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform not on PATH")
def test_terraform_reads_the_generated_backend_block(tmp_path: Path) -> None:
    """Terraform parses backend.tf.json next to main.tf.json; without init it asks for one (as expected
    here: the azurerm backend needs Azure Storage, which this machine cannot reach)."""
    backend.configure_azurerm(tmp_path, None, None, EXTRA, "k")
    (tmp_path / "main.tf.json").write_text(json.dumps({"resource": {"terraform_data": {"a": {}}}}))
    out = subprocess.run(["terraform", "validate", "-json"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert json.loads(out.stdout)["valid"] is True  # the backend block is well-formed
    with pytest.raises(TerraformFailed, match="(?i)backend initialization required|init"):
        converge(Terraform(tmp_path), ConvergeOptions())
    assert not (tmp_path / "terraform.tfstate").exists()


def test_operator_reads_the_connection_and_keeps_secrets_out_of_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tenant_replicator_airflow.operators.terraform_apply import TerraformApplyOperator

    conn = {"conn_type": "azure", "login": "client-id", "password": SECRET, "extra": EXTRA}
    monkeypatch.setenv("AIRFLOW_CONN_TFSTATE_TEST", json.dumps(conn))
    op = TerraformApplyOperator(
        task_id="apply",
        working_dir=str(tmp_path),
        backend_conn_id="tfstate_test",
        variables={"n": 3, "name": "x"},
        cli_config_file="/x/rc",
    )
    env = op._environment(tmp_path)
    assert env["ARM_CLIENT_SECRET"] == SECRET and env["TF_VAR_n"] == "3" and env["TF_VAR_name"] == "x"
    assert op._options().run_init is True  # a backend must be initialised even with dev_overrides
    written = "".join(p.read_text() for p in tmp_path.iterdir() if p.is_file())
    assert SECRET not in written and "campaigns/c1.tfstate" in written
