"""The campaign page in a real headless Chromium, served by the real api-server, for a campaign run here.

The stack is the `make demo` one (simulator, FalkorDB, Slack capture, api-server, scheduler,
dag-processor); the campaign runs under the real scheduler until its objective holds; then the page
is checked against the campaign Variable the loop wrote. Screenshots are kept in pytest's tmp dir
and copied to .work/artifacts/ (gitignored).
"""

from __future__ import annotations

import html
import json
import re
import shutil
import struct
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from headless import Browser, dump_dom, ensure_chromium

from tenant_replicator import devstack
from tenant_replicator.campaign import campaign_id_for
from tenant_replicator.demo import DAG_ID, demo_conf, follow_chain

pytestmark = pytest.mark.slow
ARTIFACTS = devstack.REPO_ROOT / ".work" / "artifacts"
VIEWER = "viewer"


@pytest.fixture(scope="module")
def chromium():
    reason = ensure_chromium(devstack.REPO_ROOT)
    if reason:
        pytest.skip(reason)


def trigger(client: devstack.AirflowClient, conf: dict) -> str:
    """Trigger once the DAG is serialized (GET /dags can answer a moment before a trigger is accepted)."""

    def attempt() -> str | None:
        try:
            return client.trigger(DAG_ID, conf)
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise

    return devstack.wait_for(attempt, 120, f"{DAG_ID} to accept a trigger", 1)


@dataclass
class Campaign:
    stack: devstack.Stack
    client: devstack.AirflowClient
    state: dict  # the Variable at the end of the chain
    first: dict  # the Variable while the chain was held after iteration 1 ...
    first_dom: str  # ... and the page Chromium rendered from it
    first_held: bool  # the Variable did not move while the page was loaded


def open_browser(stack: devstack.Stack, client: devstack.AirflowClient, workdir: Path) -> Browser:
    opened = Browser(workdir)
    # what the UI's login leaves in the browser: the JWT in the `_token` cookie
    opened.get(f"{stack.api_url}/tenant-replicator/")
    opened.add_cookie("_token", client.token)
    return opened


@pytest.fixture(scope="module")
def campaign(chromium, tmp_path_factory):
    """A real campaign under the real scheduler, with its own objective (90 %, 2 successes in a row): Azure
    Policy denies one type in iteration 1; the chain is paused right after iteration 1 is recorded, the page
    is loaded then (failed apply, unmatched resource), then the chain runs on to its objective."""
    from tenant_replicator.sim.seed import SOURCE_SUBSCRIPTION_ID as SRC
    from tenant_replicator.sim.seed import TARGET_SUBSCRIPTION_ID as TGT

    workdir = tmp_path_factory.mktemp("ui-stack")
    original_env = devstack.airflow_env

    def with_viewer(stack: devstack.Stack, api_port: int) -> dict[str, str]:
        """A second, read-only user: the api-server generates its password into the passwords file."""
        env = original_env(stack, api_port)
        env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] += f",{VIEWER}:viewer"
        return env

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(devstack, "airflow_env", with_viewer)
        started = devstack.start_stack(workdir / "stack")
    with started as stack:
        client = devstack.AirflowClient(stack.api_url, devstack.ADMIN_USER, stack.admin_password)
        devstack.wait_for(lambda: client.call("GET", "/dags/replication_status"), 120, "status DAG parsed", 1)
        client.call("PATCH", "/dags/replication_status", {"is_paused": True})
        denial = {
            "method": "PUT",
            "path_contains": "/providers/Microsoft.Insights/dataCollectionRules/",
            "status": 403,
            "code": "RequestDisallowedByPolicy",
            "times": 1,
        }
        stack.sim_call("POST", "/_sim/faults", {"faults": [denial]})
        key = f"tenant_replication__{campaign_id_for(SRC, TGT)}"
        trigger(client, demo_conf(SRC, TGT, fidelity_target=90, required_successes=2))

        first = devstack.wait_for(
            lambda: (client.variable(key) or {}).get("history") and client.variable(key),
            300,
            "iteration 1 recorded",
            0.3,
        )
        client.call("PATCH", f"/dags/{DAG_ID}", {"is_paused": True})  # hold the chain: the page must not move
        try:
            first = client.variable(key)
            browser = open_browser(stack, client, workdir / "chromium-first")
            try:
                browser.get(f"{stack.api_url}/tenant-replicator/campaigns/{first['campaign_id']}")
                first_dom = browser.source()
                browser.fit_height()
                keep(browser.screenshot(workdir / "campaign_page_iteration1.png"), "campaign_page_iteration1.png")
            finally:
                browser.close()
            held = client.variable(key) == first
        finally:
            client.call("PATCH", f"/dags/{DAG_ID}", {"is_paused": False})
        state = follow_chain(client, key, 600, echo=lambda _: None)
        yield Campaign(stack, client, state, first, first_dom, held)


@pytest.fixture
def browser(campaign, tmp_path):
    opened = open_browser(campaign.stack, campaign.client, tmp_path / "chromium")
    try:
        yield opened
    finally:
        opened.close()


def keep(screenshot: Path, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    kept = ARTIFACTS / name
    shutil.copyfile(screenshot, kept)
    return kept


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", header[16:24])


def test_without_login_the_browser_gets_a_login_page_and_no_data(campaign, tmp_path):
    stack, state = campaign.stack, campaign.state
    dom = dump_dom(f"{stack.api_url}/tenant-replicator/campaigns/{state['campaign_id']}", tmp_path / "profile")
    assert "log in to Airflow first" in dom
    assert 'href="/auth/login?next=' in dom
    assert "fidelity-chart" not in dom and state["source_subscription"] not in dom


def test_campaign_page_shows_chart_and_tables_of_the_campaign_run_here(campaign, browser, tmp_path):
    stack, client, state = campaign.stack, campaign.client, campaign.state
    assert state["status"] == "objective_met" and len(state["history"]) >= 3
    assert state["objective"]["fidelity_percent"] == 90

    browser.get(f"{stack.api_url}/tenant-replicator/campaigns/{state['campaign_id']}")
    dom = browser.source()

    # the chart: one fidelity marker per recorded iteration, at the recorded value, and the objective line
    svg = re.search(r'<svg id="fidelity-chart".*?</svg>', dom, re.S)
    assert svg, "no chart on the page"
    markers = re.findall(
        r'class="point fidelity (success|failed)"[^>]*data-iteration="(\d+)" data-fidelity="([^"]+)"', svg.group(0)
    )
    history = sorted(state["history"], key=lambda h: h["iteration"])
    assert [int(m[1]) for m in markers] == [h["iteration"] for h in history]
    assert [float(m[2]) for m in markers] == [h["fidelity_percent"] for h in history]
    assert [m[0] == "success" for m in markers] == [h["success"] for h in history]
    assert not history[0]["success"] and history[-1]["success"]  # a failed marker and successful ones
    assert 'data-objective="90"' in svg.group(0)  # the campaign's own target, not the default
    assert browser.script("return document.querySelectorAll('#fidelity-chart .point.fidelity').length") == len(history)

    # the per-type table: every type of the last report with its numbers
    per_type = state["last_report"]["per_type"]
    rows = browser.script(
        "return [...document.querySelectorAll('#per-type tbody tr')].map(r => [...r.cells].slice(0, 4)"
        ".map(c => c.textContent))"
    )
    assert {r[0]: (int(r[1]), int(r[2])) for r in rows} == {t: (v["source"], v["matched"]) for t, v in per_type.items()}
    assert len(rows) >= 5

    # KPIs and links to the DAG runs that really exist
    kpi = browser.script("return document.querySelector('#kpi-streak .value').textContent")
    assert int(kpi) == state["consecutive_successes"]
    first = browser.script("return document.querySelector('#iterations tr[data-iteration=\\'1\\']').textContent")
    assert "failed" in first and history[0]["reasons"][0] in first
    links = browser.script("return [...document.querySelectorAll('a.run-link')].map(a => a.getAttribute('href'))")
    targets = browser.script("return [...document.querySelectorAll('a.run-link')].map(a => a.target)")
    assert set(targets) == {"_top"}  # opened on its own, a run link leaves the page for the Airflow UI
    real_runs = {r["dag_run_id"] for r in client.runs(DAG_ID)}
    assert sorted(links) == sorted(f"/dags/{DAG_ID}/runs/{quote(h['run_id'], safe='')}" for h in history)
    assert {h["run_id"] for h in history} <= real_runs

    # the JSON behind it is the campaign Variable itself (plus the drift watch's record, none here),
    # with the same token the REST API takes
    request = urllib.request.Request(
        f"{stack.api_url}/tenant-replicator/api/campaigns/{state['campaign_id']}",
        headers={"Authorization": f"Bearer {client.token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        served = json.loads(response.read())
    assert served.pop("drift") == {}
    assert served == client.variable(f"tenant_replication__{state['campaign_id']}")

    browser.get(f"{stack.api_url}/tenant-replicator/campaigns/{state['campaign_id']}")
    height = browser.fit_height()
    shot = browser.screenshot(tmp_path / "campaign_page.png")
    kept = keep(shot, "campaign_page.png")
    width, shot_height = png_size(kept)
    assert width >= 1000 and shot_height >= min(height, 1000)


def test_campaign_is_a_tab_of_its_dag_runs_in_the_airflow_ui(campaign, browser, tmp_path):
    stack, state = campaign.stack, campaign.state
    last = max(state["history"], key=lambda h: h["iteration"])
    browser.get(
        f"{stack.api_url}/dags/{DAG_ID}/runs/{quote(last['run_id'], safe='')}/plugin/tenant-replicator-campaign"
    )
    frame = devstack.wait_for(lambda: browser.find("iframe"), 60, "the Campaign tab's iframe", 0.5)
    src = browser.script("return arguments[0].getAttribute('src')", frame)
    assert src == f"tenant-replicator/runs/{DAG_ID}/{quote(last['run_id'], safe='')}"
    tab = browser.script(
        "return [...document.querySelectorAll('a, button')].some(e => e.textContent.trim() === 'Campaign')"
    )
    assert tab, "no 'Campaign' tab on the DAG run page"
    devstack.wait_for(lambda: browser.script("return document.readyState") == "complete", 30, "UI loaded", 0.5)
    shot = browser.screenshot(tmp_path / "campaign_tab.png")
    keep(shot, "campaign_tab.png")

    browser.switch_to_frame(frame)
    devstack.wait_for(lambda: "fidelity-chart" in browser.source(), 30, "the page inside the tab", 0.5)
    # in the UI's sandboxed iframe the run links open in the frame (a target=_top link would be blocked)
    targets = browser.script("return [...document.querySelectorAll('a.run-link')].map(a => a.target)")
    assert targets and set(targets) == {""}
    highlighted = browser.script("return document.querySelector('#iterations tr.highlight').dataset.iteration")
    assert int(highlighted) == last["iteration"]
    assert browser.script("return document.querySelector('#campaign-title').textContent").startswith(
        state["campaign_id"]
    )


def test_campaign_list_is_a_nav_entry_of_the_airflow_ui(campaign, browser):
    stack, state = campaign.stack, campaign.state
    browser.get(f"{stack.api_url}/plugin/tenant-replicator")
    frame = devstack.wait_for(lambda: browser.find("iframe"), 60, "the Campaigns page's iframe", 0.5)
    assert browser.script("return arguments[0].getAttribute('src')", frame) == "tenant-replicator/"
    nav = browser.script(
        "return [...document.querySelectorAll('a, button')].some(e => e.textContent.trim() === 'Campaigns')"
    )
    assert nav, "no 'Campaigns' entry in the UI's navigation"
    browser.switch_to_frame(frame)
    devstack.wait_for(lambda: 'id="campaigns"' in browser.source(), 30, "the list inside the UI", 0.5)
    row = browser.script(
        "const r = document.querySelector(`tr[data-campaign='${arguments[0]}']`);"
        "return r && [...r.cells].map(c => c.textContent)",
        state["campaign_id"],
    )
    assert row is not None, "campaign missing from the list"
    assert row[1] == "objective met"
    assert row[2] == f"{state['last_fidelity']:.1f} %"
    assert int(row[4]) == state["iteration"] and int(row[5]) == state["consecutive_successes"]


def test_page_after_the_failed_first_iteration_shows_the_denied_apply_and_the_missing_resource(campaign):
    first, dom = campaign.first, campaign.first_dom
    assert campaign.first_held, "the campaign Variable moved while the page was loaded (the pause did not hold)"
    assert first["iteration"] == 1 and first["history"][0]["success"] is False

    # the chart: a single failed marker
    markers = re.findall(r'class="point fidelity (success|failed)"[^>]*data-iteration="(\d+)"', dom)
    assert markers == [("failed", "1")]

    # the last apply's failures, with the ARM code the simulator's policy returned
    apply_table = re.search(r'<table id="apply-failures">.*?</table>', dom, re.S)
    assert apply_table, "no apply failure table"
    failed = first["last_apply"]["failed"]
    assert failed and all(f["arm_code"] == "RequestDisallowedByPolicy" for f in failed)
    for failure in failed:
        assert html.escape(failure["address"]) in apply_table.group(0)
    assert apply_table.group(0).count("RequestDisallowedByPolicy") >= len(failed)

    # the unmatched source resources with their reasons: exactly the denied type
    unmatched = re.search(r'<table id="unmatched">.*?</table>', dom, re.S)
    assert unmatched, "no unmatched table"
    rows = re.findall(
        r"<tr><td class=\"mono\">([^<]*)</td><td class=\"mono\">([^<]*)</td><td class=\"text\">([^<]*)</td>",
        unmatched.group(0),
    )
    assert [r[1] for r in rows] == [u["type"] for u in first["last_report"]["unmatched"]]
    assert {r[1] for r in rows} == {"Microsoft.Insights/dataCollectionRules"}
    assert [html.unescape(r[2]) for r in rows] == [u["reason"] for u in first["last_report"]["unmatched"]]

    # the per-type row of the denied type: 0 of its source resources matched
    dcr = first["last_report"]["per_type"]["Microsoft.Insights/dataCollectionRules"]
    assert dcr["matched"] == 0
    assert re.search(
        rf'<tr data-type="Microsoft.Insights/dataCollectionRules"><td class="mono">[^<]*</td>'
        rf'<td class="num">{dcr["source"]}</td><td class="num">0</td><td class="num">0.0 %</td>',
        dom,
    )


def test_a_viewer_who_may_not_read_variables_still_sees_the_campaign_of_runs_it_can_see(campaign):
    stack, state = campaign.stack, campaign.state
    passwords = json.loads((stack.workdir / "airflow" / "simple_auth_passwords.json").read_text())
    viewer = devstack.AirflowClient(stack.api_url, VIEWER, passwords[VIEWER])
    with pytest.raises(urllib.error.HTTPError) as refused:
        viewer.call("GET", f"/variables/tenant_replication__{state['campaign_id']}")
    assert refused.value.code == 403
    assert viewer.call("GET", f"/dags/{DAG_ID}/dagRuns")["total_entries"] == state["iteration"]
    request = urllib.request.Request(
        f"{stack.api_url}/tenant-replicator/campaigns/{state['campaign_id']}",
        headers={"Authorization": f"Bearer {viewer.token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200 and 'id="fidelity-chart"' in response.read().decode()
