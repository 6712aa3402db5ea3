"""Terraform runner: init/validate/plan/apply in an own process group, ``-json`` event parsing."""

from tenant_replicator.terraform.events import summarise_apply, summarise_plan
from tenant_replicator.terraform.process import ManagedProcess, ProcessResult, run_command
from tenant_replicator.terraform.runner import (
    ApplyResult,
    PlanResult,
    ProviderCrashed,
    Terraform,
    TerraformError,
    TerraformFailed,
    TerraformNotFound,
    TerraformTimeout,
)

__all__ = [
    "ApplyResult",
    "ManagedProcess",
    "PlanResult",
    "ProcessResult",
    "ProviderCrashed",
    "Terraform",
    "TerraformError",
    "TerraformFailed",
    "TerraformNotFound",
    "TerraformTimeout",
    "run_command",
    "summarise_apply",
    "summarise_plan",
]
