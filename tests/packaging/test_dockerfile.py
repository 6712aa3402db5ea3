"""The Dockerfile, parsed: official Airflow base, checksum-verified terraform, the project as a provider
package, DAGs and plugins where Airflow looks, no secrets. No Docker engine is needed (none exists here)."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    logical, current = [], ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        current += " " + line.rstrip("\\").strip() if current else line.rstrip("\\").strip()
        if not line.endswith("\\"):
            logical.append(current)
            current = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1] if " " in text else "") for text in logical]


def _args() -> dict[str, str]:
    return dict(a.split("=", 1) for kind, a in _instructions() if kind == "ARG" and "=" in a)


def _makefile(name: str) -> str:
    match = re.search(rf"^{name}\s*:=\s*(\S+)", (ROOT / "Makefile").read_text(), re.M)
    assert match, name
    return match[1]


def test_base_is_the_official_airflow_image_matching_the_pins() -> None:
    froms = [a for kind, a in _instructions() if kind == "FROM"]
    assert froms == ["apache/airflow:3.3.2-python3.11"]
    pinned = re.search(r"^apache-airflow==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)
    assert pinned and froms[0].startswith(f"apache/airflow:{pinned[1]}-")  # image and constraints agree
    assert "3.11" in (ROOT / "pyproject.toml").read_text()


def test_terraform_is_pinned_and_checksum_verified_before_it_is_installed() -> None:
    args = _args()
    assert args["TERRAFORM_VERSION"] == _makefile("TERRAFORM_VERSION") == "1.11.4"
    assert args["TERRAFORM_SHA256"] == _makefile("TERRAFORM_SHA256_linux_amd64")
    assert re.fullmatch(r"[0-9a-f]{64}", args["TERRAFORM_SHA256"])
    (step,) = [a for kind, a in _instructions() if kind == "RUN" and "releases.hashicorp.com/terraform" in a]
    assert "${TERRAFORM_VERSION}/terraform_${TERRAFORM_VERSION}_linux_amd64.zip" in step
    verify = step.index('echo "${TERRAFORM_SHA256}  /tmp/tf/terraform" | sha256sum -c -')
    install = step.index("install -m 0755 /tmp/tf/terraform /usr/local/bin/terraform")
    assert verify < install, "the binary must be verified before it lands on PATH"
    assert "set -eu" in step and "curl -fsSL" in step  # a failed download or mismatch fails the build
    assert "amd64" in step and "exit 1" in step  # other architectures are refused, not silently unverified


def test_the_pinned_checksum_is_the_real_binary_where_we_can_tell() -> None:
    """On a linux/amd64 machine with terraform 1.11.4 installed, the pin is that binary's sha256."""
    binary = shutil.which("terraform")
    if not binary:
        pytest.skip("terraform not on PATH")
    version = subprocess.run([binary, "version"], capture_output=True, text=True, timeout=60).stdout
    machine = subprocess.run(["uname", "-m"], capture_output=True, text=True, timeout=10).stdout.strip()
    if "v1.11.4" not in version or machine != "x86_64":
        pytest.skip(f"terraform here is not 1.11.4 on amd64 ({version.splitlines()[:1]}, {machine})")
    assert hashlib.sha256(Path(binary).read_bytes()).hexdigest() == _args()["TERRAFORM_SHA256"]


def test_the_project_is_installed_as_a_provider_package() -> None:
    steps = _instructions()
    copies = [a for kind, a in steps if kind == "COPY"]
    installs = [i for i, (kind, a) in enumerate(steps) if kind == "RUN" and "pip install" in a]
    assert len(installs) == 1
    install = steps[installs[0]][1]
    assert "-c /opt/tenant-replicator/constraints.txt /opt/tenant-replicator" in install
    assert "tenant_replicator_airflow.provider_info" in install and "tenant-replicator --help" in install
    copied_before = " ".join(a for kind, a in steps[: installs[0]] if kind == "COPY")
    for needed in ("pyproject.toml", "setup.py", "constraints.txt", "README.md", "include ", "plugins "):
        assert needed in copied_before, needed
    # every COPY source exists in the build context
    for copy in copies:
        sources = [s for s in copy.split()[:-1] if not s.startswith("--")]
        for source in sources:
            assert (ROOT / source).exists(), source
    # the provider entry point the install registers
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'provider_info = "tenant_replicator_airflow.provider_info:get_provider_info"' in pyproject


def test_provider_is_registered_with_airflow() -> None:
    """What `pip install` of the package gives Airflow (checked on this machine's editable install)."""
    from importlib.metadata import entry_points

    (entry,) = [e for e in entry_points(group="apache_airflow_provider") if e.value.startswith("tenant_replicator")]
    info = entry.load()()
    assert info["package-name"] == "tenant-replicator"


def test_dags_plugins_and_campaign_home_are_in_place() -> None:
    steps = _instructions()
    copies = [a for kind, a in steps if kind == "COPY"]
    assert "--chown=airflow:root dags /opt/airflow/dags" in copies
    assert "--chown=airflow:root plugins /opt/airflow/plugins" in copies
    env = [a for kind, a in steps if kind == "ENV"]
    assert "TENANT_REPLICATOR_HOME=/opt/airflow/tenant-replicator" in env
    assert any("mkdir -p -m 0700 /opt/airflow/tenant-replicator" in a for kind, a in steps if kind == "RUN")
    assert [a for kind, a in steps if kind == "USER"][-1] == "airflow"  # never runs as root
    # the compose simulator's volumes start from these (owned by airflow, or it could not write its state)
    assert any("chown -R airflow:root /opt/simulator" in a for kind, a in steps if kind == "RUN")


def test_no_secrets_in_the_image() -> None:
    for kind, text in _instructions():
        if kind in ("ENV", "ARG"):
            name = text.split("=", 1)[0]
            assert not re.search(r"PASSWORD|SECRET|TOKEN|FERNET|CLIENT_SECRET", name), text
        if kind in ("COPY", "ADD"):
            assert ".env" not in text.split() and "tfstate" not in text, text
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    for pattern in (".env", ".venv", ".git", "**/*.tfstate", "tests"):
        assert pattern in ignored, pattern
    assert "!.env.example" in ignored
