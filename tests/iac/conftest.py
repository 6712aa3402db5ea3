"""Shared by the generator tests: `terraform validate` of a generated config with the stand-in provider."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tenant_replicator.iac.generate import GenerateResult, write_config


@pytest.fixture
def terraform_validate(tmp_path: Path) -> Callable[[GenerateResult], dict[str, Any]]:
    """Write the result to a fresh directory and return `terraform validate -json`'s report."""
    install = pytest.importorskip("tenant_replicator.tfprovider.install")
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform is not on PATH")

    def validate(result: GenerateResult) -> dict[str, Any]:
        workdir = tmp_path / "work"
        write_config(result, workdir)
        env = {
            **os.environ,
            "TF_CLI_CONFIG_FILE": str(install.write_cli_config(tmp_path / "provider")),
            "TF_IN_AUTOMATION": "1",
            "CHECKPOINT_DISABLE": "1",
        }
        proc = subprocess.run(
            [terraform, "validate", "-json", "-no-color"],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        report = json.loads(proc.stdout)
        report["_output"] = proc.stdout + proc.stderr
        return report

    return validate
