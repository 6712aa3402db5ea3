"""Make terraform use the stand-in provider: a wrapper executable plus a dev_overrides CLI config.

With ``dev_overrides`` terraform runs ``terraform-provider-azapi`` from the given directory for
``azure/azapi`` and needs no ``terraform init`` for it (it prints a warning, which is expected).
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import threading
from pathlib import Path

PROVIDER_SOURCE = "azure/azapi"
EXECUTABLE = "terraform-provider-azapi"


def wrapper_script(python: str) -> str:
    """The sh wrapper terraform executes; ``exec`` so terraform's signals reach Python directly."""
    return f'#!/bin/sh\nexec {shlex.quote(python)} -m tenant_replicator.tfprovider "$@"\n'


def cli_config(bin_dir: Path) -> str:
    """A terraformrc whose dev override points ``azure/azapi`` at ``bin_dir``."""
    return (
        "provider_installation {\n"
        "  dev_overrides {\n"
        f"    {json.dumps(PROVIDER_SOURCE)} = {json.dumps(str(bin_dir))}\n"
        "  }\n"
        "  direct {}\n"
        "}\n"
    )


def _write_if_changed(path: Path, text: str, mode: int) -> None:
    if not path.exists() or path.read_text() != text:
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")  # concurrent tasks
        tmp.write_text(text)
        tmp.chmod(mode)
        tmp.replace(path)
    path.chmod(mode)


def write_cli_config(directory: Path, python: str = sys.executable) -> Path:
    """Write ``directory/bin/terraform-provider-azapi`` and ``directory/terraformrc``; idempotent.

    Returns the terraformrc path: point ``TF_CLI_CONFIG_FILE`` at it.
    """
    directory = Path(directory).resolve()
    bin_dir = directory / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    _write_if_changed(bin_dir / EXECUTABLE, wrapper_script(python), 0o755)
    rc = directory / "terraformrc"
    _write_if_changed(rc, cli_config(bin_dir), 0o644)
    return rc
