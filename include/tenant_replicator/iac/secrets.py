"""The campaign's secret store: values for properties Azure never returns (admin passwords, keys).

Why: a GET never returns ``osProfile.adminPassword`` or ``administratorLoginPassword``, yet the PUT
that recreates the resource requires them. The generator writes such properties as
``${var.<name>}`` with ``variable "<name>" { type = string, sensitive = true }``; the values are
generated here once per campaign (strong random, within Azure's complexity rules), kept only in
``<campaign_dir>/secrets/tf_vars.json`` (directory 0700, file 0600), and reach terraform through
its environment (``TF_VAR_<name>``, ``tf_var_env``) at apply time. Never in main.tf.json, logs,
XCom or Slack: functions here return names and counts, never values, except ``tf_var_env``.

Layout rule: the campaign's Terraform directory is ``<campaign_dir>/terraform`` (``iteration.prepare``),
so the store of a Terraform directory is ``<tf_dir>/../secrets``. A user may edit the store to put a
real value in place of a generated one: existing values are never replaced.
"""

from __future__ import annotations

import json
import os
import secrets as _random
import string
from collections.abc import Iterable, Mapping
from pathlib import Path

SECRETS_DIR = "secrets"
STORE_FILE = "tf_vars.json"

# Specials accepted by VM, SQL, PostgreSQL/MySQL flexible server and AKS password rules; none of
# them needs quoting in JSON, HCL or a shell, and none starts a Terraform template ('$', '%').
_SPECIALS = "!#*+-=@_"
_PASSWORD_LEN = 28
_KEY_BYTES = 32


def secrets_dir(campaign_dir: Path) -> Path:
    """``<campaign_dir>/secrets``: where a campaign's secret values live (and nowhere else)."""
    return Path(campaign_dir) / SECRETS_DIR


def store_path_for_tf_dir(tf_dir: Path) -> Path:
    """The secret store serving a Terraform directory (``<tf_dir>/../secrets/tf_vars.json``)."""
    return secrets_dir(Path(tf_dir).resolve().parent) / STORE_FILE


def new_password(length: int = _PASSWORD_LEN) -> str:
    """A random password with every character class (Azure wants 3 of 4: lower, upper, digit, special).

    Starts with a letter (some services refuse a leading special character) and never repeats a
    character three times in a row; ``secrets`` (the OS CSPRNG) picks every character.
    """
    if length < 12:
        raise ValueError("passwords shorter than 12 characters are refused by Azure VM rules")
    classes = (string.ascii_lowercase, string.ascii_uppercase, string.digits, _SPECIALS)
    alphabet = "".join(classes)
    while True:
        chars = [_random.choice(string.ascii_letters)]
        chars += [_random.choice(c) for c in classes for _ in range(2)]
        chars += [_random.choice(alphabet) for _ in range(length - len(chars))]
        head, tail = chars[0], chars[1:]
        _random.SystemRandom().shuffle(tail)
        value = head + "".join(tail)
        if all(any(ch in c for ch in value) for c in classes) and not any(
            value[i] == value[i + 1] == value[i + 2] for i in range(len(value) - 2)
        ):
            return value


def new_key() -> str:
    """A random opaque secret value (URL-safe base64 of 32 random bytes)."""
    return _random.token_urlsafe(_KEY_BYTES)


def new_secret(kind: str) -> str:
    """A fresh value for a secret of ``kind`` (``password`` or ``key``)."""
    if kind == "password":
        return new_password()
    if kind == "key":
        return new_key()
    raise ValueError(f"unknown secret kind {kind!r} (expected 'password' or 'key')")


def _read(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8") or "{}")
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise ValueError(f"secret store {path} is not an object of name -> string")
    return data


def _write_private(path: Path, values: Mapping[str, str]) -> None:
    """Write 0600 in a 0700 directory, atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(json.dumps(dict(sorted(values.items())), indent=1) + "\n")
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def ensure_secrets(campaign_dir: Path, variables: Iterable[Mapping[str, str]]) -> dict[str, int]:
    """Make sure the store holds a value for every ``{name, kind}`` variable; returns counts only.

    Existing values are kept (stable across iterations; a user may have put a real one there).
    """
    path = secrets_dir(campaign_dir) / STORE_FILE
    values = _read(path)
    created = 0
    for var in variables:
        if var["name"] not in values:
            values[var["name"]] = new_secret(var.get("kind", "password"))
            created += 1
    if created or (values and not path.is_file()):
        _write_private(path, values)
    elif path.is_file():
        os.chmod(path, 0o600)
        os.chmod(path.parent, 0o700)
    return {"created": created, "stored": len(values)}


def tf_var_env(tf_dir: Path) -> dict[str, str]:
    """``{"TF_VAR_<name>": value}`` for the campaign owning ``tf_dir`` ({} when it has no secrets).

    Terraform ignores TF_VAR_ variables the configuration does not declare, so the whole store is
    returned; the caller must pass it only to terraform's environment, never to a log.
    """
    path = store_path_for_tf_dir(tf_dir)
    return {f"TF_VAR_{name}": value for name, value in sorted(_read(path).items())}


__all__ = ["ensure_secrets", "new_password", "new_secret", "secrets_dir", "store_path_for_tf_dir", "tf_var_env"]
