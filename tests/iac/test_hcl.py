"""--format hcl: the same configuration as main.tf.json, terraform-valid, fmt-clean and byte-stable."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from tenant_replicator.iac.arm_json import load_arm_dir
from tenant_replicator.iac.generate import generate, write_config
from tenant_replicator.iac.hcl import dump_hcl, quote

CORPUS = Path(__file__).resolve().parents[1] / "data" / "arm_corpus"
TARGET = "c7e91a04-2b6f-4d38-a5e2-91f4b7c0d863"
TRICKY = [
    "plain",
    'quote " and backslash \\ and slash /',
    "line\nbreak\ttab\r",
    "bell \b formfeed \f nul-ish \u0001",
    "unicode é ß 漢字 😀",
    "$${escaped template} and %%{escaped directive}",
    "dollar $ alone, percent % alone, brace { }",
]


def _terraform() -> str:
    found = shutil.which("terraform")
    if found is None:
        pytest.skip("terraform is not on PATH")
    return found


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    return subprocess.run([_terraform(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_quoted_strings_mean_what_the_tf_json_strings_mean(tmp_path: Path) -> None:
    """Terraform itself evaluates each string both ways (no provider needed for locals)."""
    values = {f"v{i}": text for i, text in enumerate(TRICKY)}
    as_json, as_hcl = tmp_path / "json", tmp_path / "hcl"
    as_json.mkdir()
    as_hcl.mkdir()
    (as_json / "main.tf.json").write_text(json.dumps({"output": {k: {"value": v} for k, v in values.items()}}))
    (as_hcl / "main.tf").write_text("".join(f'output "{k}" {{\n  value = {quote(v)}\n}}\n' for k, v in values.items()))
    outputs = []
    for workdir in (as_json, as_hcl):
        applied = _run(["apply", "-auto-approve", "-input=false", "-no-color"], workdir)
        assert applied.returncode == 0, applied.stderr
        shown = _run(["output", "-json"], workdir)
        outputs.append({k: v["value"] for k, v in json.loads(shown.stdout).items()})
    assert outputs[0] == outputs[1]
    assert outputs[1]["v5"] == "${escaped template} and %{escaped directive}"


def _corpus_result():
    export = load_arm_dir(CORPUS)
    return export, generate(
        export.resources, export.resource_groups, export.subscriptions[0], TARGET, "c0rpus", emit_secrets=True
    )


def test_corpus_as_hcl_equals_the_json_validates_and_is_fmt_clean(tmp_path: Path) -> None:
    import hcl2

    install = pytest.importorskip("tenant_replicator.tfprovider.install")
    _, result = _corpus_result()
    main = write_config(result, tmp_path / "hcl", "hcl")
    assert main.name == "main.tf"
    parsed = hcl2.loads(
        main.read_text(),
        serialization_options=hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False),
    )

    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if not k.startswith("__")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    from_hcl = {
        label: strip(body)
        for block in parsed["resource"]
        for labels in block.values()
        for label, body in labels.items()
    }
    assert from_hcl == result.config["resource"]["azapi_resource"]
    variables = {name for block in parsed["variable"] for name in block}
    assert variables == set(result.config["variable"]) and len(variables) == 3
    assert _run(["fmt", "-check", "-diff", "-no-color"], main.parent).returncode == 0
    env_config = str(install.write_cli_config(tmp_path / "provider"))
    env = {**os.environ, "TF_CLI_CONFIG_FILE": env_config, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    proc = subprocess.run(
        [_terraform(), "validate", "-json", "-no-color"], cwd=main.parent, env=env, capture_output=True, text=True
    )
    report = json.loads(proc.stdout)
    assert report["valid"] and report["error_count"] == 0, proc.stdout[-3000:]


def test_output_is_byte_identical_whatever_the_input_order(tmp_path: Path) -> None:
    export, first = _corpus_result()
    resources, groups = list(export.resources), list(export.resource_groups)
    random.Random(7).shuffle(resources)
    random.Random(8).shuffle(groups)
    second = generate(resources, groups, export.subscriptions[0], TARGET, "c0rpus", emit_secrets=True)
    for fmt in ("json", "hcl"):
        a = write_config(first, tmp_path / f"a-{fmt}", fmt).read_bytes()
        b = write_config(second, tmp_path / f"b-{fmt}", fmt).read_bytes()
        assert a == b, fmt
        assert (tmp_path / f"a-{fmt}" / "name_map.json").read_bytes() == (
            tmp_path / f"b-{fmt}" / "name_map.json"
        ).read_bytes()
    assert dump_hcl(first.config) == dump_hcl(second.config)


def test_one_format_at_a_time_in_a_directory(tmp_path: Path) -> None:
    _, result = _corpus_result()
    write_config(result, tmp_path, "json")
    write_config(result, tmp_path, "hcl")
    assert (tmp_path / "main.tf").exists() and not (tmp_path / "main.tf.json").exists()
    write_config(result, tmp_path, "json")
    assert (tmp_path / "main.tf.json").exists() and not (tmp_path / "main.tf").exists()
    with pytest.raises(ValueError, match="unknown output format 'yaml'"):
        write_config(result, tmp_path, "yaml")
