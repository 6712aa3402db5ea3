"""No shell anywhere, no credentials in DAG code or Params, and injection-shaped Params refused by name."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tenant_replicator.campaign import CampaignInputError, parse_spec

pytestmark = pytest.mark.faults

REPO = Path(__file__).resolve().parents[2]
SRC, TGT = "3f2b8c1e-5d4a-4e7b-9c21-6a8f0d2e4b17", "c7e91a04-2b6f-4d38-a5e2-91f4b7c0d863"
# spelled apart so this file does not match itself
SHELL_NEEDLES = ("shell" + "=True", "os." + "system(", "os." + "popen(", "commands." + "getoutput(")
SUBPROCESS_CALLS = {"run", "Popen", "call", "check_call", "check_output", "getoutput", "getstatusoutput"}


def python_files() -> list[Path]:
    roots = ["include", "plugins", "dags", "tests", "bench", "setup.py"]
    files = []
    for root in roots:
        path = REPO / root
        files += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return [f for f in files if "__pycache__" not in f.parts]


def test_no_shell_true_and_no_os_system_anywhere():
    offenders = []
    for path in python_files():
        text = path.read_text(encoding="utf-8")
        for needle in SHELL_NEEDLES:
            if needle in text.replace(" ", ""):
                offenders.append(f"{path.relative_to(REPO)}: {needle}")
    assert offenders == []
    assert len(python_files()) > 100  # the walk really covered the tree


def test_every_subprocess_call_passes_an_argv_list_not_a_command_string():
    """A string command would need a shell to split it; argv lists never go through one."""
    offenders = []
    for path in python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            owner = node.func.value
            if not (isinstance(owner, ast.Name) and owner.id == "subprocess" and node.func.attr in SUBPROCESS_CALLS):
                continue
            first = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "args"), None)
            if isinstance(first, ast.JoinedStr | ast.BinOp) or (
                isinstance(first, ast.Constant) and isinstance(first.value, str)
            ):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert offenders == []


def dag_params() -> dict[str, str]:
    """Param names and their source text, from the DAG files' `params={...}` dicts (no DAG import needed)."""
    found = {}
    for path in sorted((REPO / "dags").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.keyword) and node.arg == "params" and isinstance(node.value, ast.Dict):
                for key, value in zip(node.value.keys, node.value.values, strict=True):
                    if isinstance(key, ast.Constant):
                        found[f"{path.name}:{key.value}"] = ast.get_source_segment(source, value) or ""
    return found


def test_credentials_never_come_from_params_or_dag_code():
    params = dag_params()
    assert any(name.endswith(":source_subscription") for name in params)
    secretish = re.compile(r"password|secret|token|credential|client_id|tenant_id|sas|key$", re.IGNORECASE)
    assert [name for name in params if secretish.search(name.split(":", 1)[1])] == []
    literal_secret = re.compile(
        r"(password|client_secret|secret|token|AccountKey|SharedAccessSignature)\s*[=:]\s*['\"][^'\"{}]{6,}['\"]",
        re.IGNORECASE,
    )
    for path in sorted((REPO / "dags").glob("*.py")) + sorted((REPO / "plugins").rglob("*.py")):
        assert not literal_secret.search(path.read_text(encoding="utf-8")), path


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("backend_conn_id", "state; rm -rf /"),
        ("backend_conn_id", "$(curl evil)"),
        ("slack_conn_id", "`id`"),
        ("slack_conn_id", "a b"),
        ("campaign_id", "../../etc/passwd"),
        ("campaign_id", "c1 && touch pwned"),
        ("source_subscription", f"{SRC}; terraform destroy"),
        ("target_subscription", f"{TGT}\nrm -rf /"),
        ("apply_timeout_s", "600; rm -rf /"),
        ("allow_destroy", "true; rm -rf /"),
        ("started_at", "$(date)"),
    ],
)
def test_injection_shaped_params_are_refused_naming_the_param(name, value):
    params = {"source_subscription": SRC, "target_subscription": TGT} | {name: value}
    with pytest.raises(CampaignInputError, match=name):
        parse_spec(params)
