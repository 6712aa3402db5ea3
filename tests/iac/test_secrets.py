"""The campaign secret store: strong values, private files, TF_VAR_ environment for terraform."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from tenant_replicator.iac import secrets


def test_password_meets_azure_complexity() -> None:
    seen = set()
    for _ in range(200):
        value = secrets.new_password()
        seen.add(value)
        assert len(value) == 28 and value[0].isalpha()
        assert re.search(r"[a-z]", value) and re.search(r"[A-Z]", value) and re.search(r"[0-9]", value)
        assert re.search(r"[!#*+\-=@_]", value)
        assert "$" not in value and "%" not in value and "{" not in value
    assert len(seen) == 200  # random, not derived


def test_store_is_private_stable_and_feeds_tf_var_env(tmp_path: Path) -> None:
    campaign = tmp_path / "campaign"
    tf_dir = campaign / "terraform"
    tf_dir.mkdir(parents=True)
    assert secrets.tf_var_env(tf_dir) == {}
    wanted = [{"name": "secret_vm_a", "kind": "password"}, {"name": "k", "kind": "key"}]
    counts = secrets.ensure_secrets(campaign, wanted)
    assert counts == {"created": 2, "stored": 2}
    store = campaign / "secrets" / "tf_vars.json"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.parent.stat().st_mode) == 0o700
    env = secrets.tf_var_env(tf_dir)
    assert set(env) == {"TF_VAR_secret_vm_a", "TF_VAR_k"}
    # a second iteration keeps every value (and a value the user put there)
    store.write_text(store.read_text().replace(env["TF_VAR_k"], "user-chosen"))
    again = secrets.ensure_secrets(campaign, wanted)
    assert again == {"created": 0, "stored": 2}
    assert secrets.tf_var_env(tf_dir) == {**env, "TF_VAR_k": "user-chosen"}


def test_unknown_kind_and_bad_store_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown secret kind"):
        secrets.new_secret("pin")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "tf_vars.json").write_text('["not", "an object"]')
    with pytest.raises(ValueError, match="not an object"):
        secrets.tf_var_env(tmp_path / "terraform")


def test_every_registry_secret_is_write_only_in_the_simulator() -> None:
    """The generator's secret paths and the simulator's write-only table agree (two independent tables)."""
    from tenant_replicator.iac.registry import _BY_LOWER
    from tenant_replicator.sim.readonly import WRITE_ONLY, drop_write_only

    with_secrets = {t: info for t, info in _BY_LOWER.items() if info.secret_paths}
    assert len(with_secrets) >= 6
    for arm_type, info in with_secrets.items():
        for spec in info.secret_paths:
            assert spec.path.startswith("properties."), spec
            inner = spec.path.removeprefix("properties.")
            assert inner in WRITE_ONLY.get(arm_type, ()), (arm_type, inner)
            props: dict = {}
            node = props
            *parents, leaf = inner.split(".")
            for seg in parents:
                node = node.setdefault(seg, {})
            node[leaf] = "s3cret"
            node["kept"] = 1
            drop_write_only(info.canonical, props)
            assert "s3cret" not in str(props) and "kept" in str(props)
