"""The campaign FastAPI app with an in-memory store: routes, 404s, auth hooks, JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient
from ui_fixtures import HOSTILE, make_state

from tenant_replicator_airflow.ui.app import campaign_for_run, create_app, objective_for, parse_state


class MemoryStore:
    def __init__(self, states: list[dict[str, Any]], confs: dict[tuple[str, str], dict] | None = None) -> None:
        self.states = {s["campaign_id"]: s for s in states}
        self.confs = confs or {}

    def get(self, campaign_id: str) -> dict[str, Any] | None:
        return self.states.get(campaign_id)

    def all(self) -> list[dict[str, Any]]:
        return list(self.states.values())

    def run_conf(self, dag_id: str, run_id: str) -> dict[str, Any] | None:
        return self.confs.get((dag_id, run_id))


@pytest.fixture
def store(state):
    other = make_state(campaign_id="other-campaign", status="objective_met")
    last_run = state["history"][-1]["run_id"]
    confs = {("tenant_replication", last_run): {"campaign_id": state["campaign_id"], "fidelity_target": 80}}
    return MemoryStore([state, other], confs)


def test_list_page_and_json(store, state):
    client = TestClient(create_app(store))
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert f'data-campaign="{state["campaign_id"]}"' in page.text and 'data-campaign="other-campaign"' in page.text
    listing = client.get("/api/campaigns").json()
    assert listing["total_entries"] == 2
    assert {c["campaign_id"] for c in listing["campaigns"]} == {state["campaign_id"], "other-campaign"}
    assert client.get(f"/api/campaigns/{state['campaign_id']}").json() == state


def test_campaign_page_uses_the_objective_from_the_last_run_conf(store, state):
    page = TestClient(create_app(store)).get(f"/campaigns/{state['campaign_id']}")
    assert page.status_code == 200
    assert 'data-objective="80"' in page.text and "objective 80 %" in page.text


def test_unknown_campaign_is_a_404_page_naming_it(store):
    client = TestClient(create_app(store))
    page = client.get("/campaigns/nope-" + HOSTILE.replace("/", ""))
    assert page.status_code == 404
    assert "campaign not found" in page.text and "nope-" in page.text and "<script>alert" not in page.text
    api = client.get("/api/campaigns/nope")
    assert api.status_code == 404 and api.json() == {"detail": "campaign 'nope' not found"}


def test_run_tab_finds_the_campaign_by_conf_or_history(store, state):
    client = TestClient(create_app(store))
    first_run = state["history"][0]["run_id"]  # no conf stored: found through the history
    page = client.get(f"/runs/tenant_replication/{first_run}")
    assert page.status_code == 200
    assert '<tr class="highlight" data-iteration="1">' in page.text
    assert client.get("/runs/other_dag/manual__x").status_code == 404
    source, target = state["source_subscription"], state["target_subscription"]
    store.confs[("tenant_replication", "by-subscriptions")] = {
        "source_subscription": source,
        "target_subscription": target,
    }
    from tenant_replicator.campaign import campaign_id_for

    assert campaign_for_run(store, "tenant_replication", "by-subscriptions") == campaign_id_for(source, target)


def test_without_a_token_html_asks_to_log_in_and_json_is_401(store, state):
    app = create_app(store)

    async def no_user(request):
        raise HTTPException(401, "Not authenticated")

    app.state.resolve_user = no_user
    app.state.login_url = lambda next_url: f"/auth/login?next={next_url}"
    client = TestClient(app)
    page = client.get(f"/campaigns/{state['campaign_id']}")
    assert page.status_code == 401 and "log in to Airflow first" in page.text and 'href="/auth/login?next=' in page.text
    assert state["campaign_id"] not in page.text.split("next=")[0]  # nothing of the campaign leaks
    api = client.get("/api/campaigns")
    assert api.status_code == 401 and api.json() == {"detail": "Not authenticated"}


def test_authorization_is_read_access_to_the_campaign_dag_runs(store, state):
    store.states["other-campaign"]["dag_id"] = "other_dag"
    app = create_app(store)
    seen: list[tuple[Any, str]] = []

    async def user(request):
        return "alice"

    def authorize(who, dag_id):
        seen.append((who, dag_id))
        return dag_id == "other_dag"

    app.state.resolve_user = user
    app.state.authorize = authorize
    client = TestClient(app)
    assert [c["campaign_id"] for c in client.get("/api/campaigns").json()["campaigns"]] == ["other-campaign"]
    denied = client.get(f"/campaigns/{state['campaign_id']}")
    assert denied.status_code == 403 and "may not read the runs of DAG" in denied.text
    assert client.get(f"/api/campaigns/{state['campaign_id']}").status_code == 403
    # an unknown campaign is checked against the default DAG before saying it does not exist
    assert client.get("/campaigns/unknown").status_code == 403
    assert client.get("/campaigns/other-campaign").status_code == 200
    assert ("alice", "tenant_replication") in seen and ("alice", "other_dag") in seen


def test_may_read_runs_asks_the_auth_manager_like_the_rest_api(monkeypatch):
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
    from airflow.models.dag import DagModel

    from tenant_replicator_airflow.ui.app import may_read_runs

    monkeypatch.setattr(DagModel, "get_team_name", staticmethod(lambda dag_id: "team-a"))
    calls = []

    class Manager:
        def is_authorized_dag(self, **kwargs):
            calls.append(kwargs)
            return kwargs["details"].id == "tenant_replication"

    assert may_read_runs(Manager(), "bob", "tenant_replication") is True
    assert may_read_runs(Manager(), "bob", "secret_dag") is False
    assert calls[0]["method"] == "GET" and calls[0]["access_entity"] == DagAccessEntity.RUN
    assert calls[0]["details"].team_name == "team-a" and calls[0]["user"] == "bob"


def test_parse_state_and_objective_defaults():
    assert parse_state("tenant_replication__x", "not json") is None
    assert parse_state("tenant_replication__x", "[1]") is None
    assert parse_state("tenant_replication__x", json.dumps({"status": "running"}))["campaign_id"] == "x"
    empty = MemoryStore([])
    assert objective_for({"history": []}, empty) == (95.0, None)
    assert objective_for({"objective": {"fidelity_percent": 97, "consecutive_successes": 4}}, empty) == (97.0, 4)
