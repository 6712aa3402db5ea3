"""The plugin as Airflow loads it: found in the plugins folder, cheap to import, UI entries well formed.

Each check runs in a fresh interpreter so sys.modules tells what the import really pulled in.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tenant_replicator import devstack

PLUGINS = devstack.REPO_ROOT / "plugins"

LOAD_FOLDER = textwrap.dedent(
    """
    import json, sys
    from airflow._shared.plugins_manager import _load_plugins_from_plugin_directory
    plugins, errors = _load_plugins_from_plugin_directory(plugins_folder=sys.argv[1])
    mine = [p for p in plugins if p.name == "tenant_replicator"]
    apps = [(a["url_prefix"], a["name"], type(a["app"]).__name__) for a in mine[0].fastapi_apps] if mine else None
    print(json.dumps({
        "names": [p.name for p in plugins],
        "errors": errors,
        "views": mine[0].external_views if mine else None,
        "apps": apps,
        "stray": [m for m in ("app", "render") if m in sys.modules],
    }))
    """
)

IMPORT_ONE = textwrap.dedent(
    """
    import importlib.util, json, sys, time
    import airflow.plugins_manager
    before = set(sys.modules)
    started = time.perf_counter()
    spec = importlib.util.spec_from_file_location("tenant_replicator_plugin", sys.argv[1])
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    took = time.perf_counter() - started
    print(json.dumps({"took": took, "new": sorted(set(sys.modules) - before)}))
    """
)


def run_python(code: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_airflow_loads_the_plugin_from_the_folder_without_stray_ui_modules():
    found = run_python(LOAD_FOLDER, str(PLUGINS))
    assert found["names"].count("tenant_replicator") == 1
    assert not [e for e in found["errors"] if "tenant_replicator_plugin" in e or "/ui/" in e]
    assert found["stray"] == []  # plugins/ui/.airflowignore keeps the loader from exec-ing app.py/render.py
    assert found["apps"] == [["/tenant-replicator", "Tenant Replicator", "LazyApp"]]
    views = {v["destination"]: v for v in found["views"]}
    assert views["nav"]["href"] == "tenant-replicator/" and views["nav"]["url_route"]
    assert views["dag_run"]["href"] == "tenant-replicator/runs/{DAG_ID}/{RUN_ID}" and views["dag_run"]["url_route"]


def test_plugin_import_is_cheap_no_fastapi_no_db():
    result = run_python(IMPORT_ONE, str(PLUGINS / "tenant_replicator_plugin.py"))
    heavy = [m for m in result["new"] if m.split(".")[0] in {"fastapi", "starlette", "sqlalchemy", "pydantic"}]
    assert heavy == []
    assert not [m for m in result["new"] if m.startswith("tenant_replicator_airflow.ui.")]  # app/render stay lazy
    assert result["took"] < 0.5, result
