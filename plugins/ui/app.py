"""FastAPI app behind /tenant-replicator: campaign list, campaign page, JSON; read-only.

Mounted by the api-server (see plugins/tenant_replicator_plugin.py). A plugin app is NOT behind
Airflow's auth by itself, so every route here resolves the caller exactly as the REST API does
(`Authorization: Bearer <JWT>` or the UI's `_token` cookie) and asks the auth manager whether the
caller may read the runs of the campaign's DAG: the page is a view of those runs (the same report is
in the `record` task's XCom), so whoever sees a run also sees its Campaign tab.
Only the api-server imports this module (on the first request, through `LazyApp`); Airflow itself
is imported inside the functions that need it.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse

from tenant_replicator_airflow.ui import URL_PREFIX, VARIABLE_PREFIX, render

log = logging.getLogger(__name__)
DEFAULT_DAG_ID = "tenant_replication"
DRIFT_PREFIX = "tenant_replicator_drift__"  # tenant_replicator.drift.variable_key (not imported: keep the app light)
DRIFT_DAG_PREFIX = "replication_drift_watch__"


class CampaignStore(Protocol):
    """Where campaign state comes from (the metadata DB in the api-server; a dict in tests)."""

    def get(self, campaign_id: str) -> dict[str, Any] | None: ...

    def all(self) -> list[dict[str, Any]]: ...

    def run_conf(self, dag_id: str, run_id: str) -> dict[str, Any] | None: ...


def parse_state(key: str, raw: str | None) -> dict[str, Any] | None:
    """A campaign Variable's JSON, or None when it is not campaign state (logged, never raised)."""
    if raw is None:
        return None
    try:
        state = json.loads(raw)
    except ValueError:
        log.warning("Variable %s does not hold JSON; not shown", key)
        return None
    if not isinstance(state, dict):
        log.warning("Variable %s does not hold a JSON object; not shown", key)
        return None
    state.setdefault("campaign_id", key.removeprefix(VARIABLE_PREFIX))
    return state


class AirflowCampaignStore:
    """Reads Variables and DAG run conf straight from the metadata DB (the api-server's own session)."""

    def get(self, campaign_id: str) -> dict[str, Any] | None:
        from airflow.models.variable import Variable
        from airflow.utils.session import create_session
        from sqlalchemy import select

        key = VARIABLE_PREFIX + campaign_id
        with create_session() as session:
            row = session.scalar(select(Variable).where(Variable.key == key))
            state = None if row is None else parse_state(key, row.val)
            if state is not None:
                drift = session.scalar(select(Variable).where(Variable.key == DRIFT_PREFIX + campaign_id))
                state["drift"] = parse_state(DRIFT_PREFIX + campaign_id, drift.val if drift else None) or {}
            return state

    def all(self) -> list[dict[str, Any]]:
        from airflow.models.variable import Variable
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            rows = session.scalars(
                select(Variable).where(Variable.key.startswith(VARIABLE_PREFIX, autoescape=True)).limit(1000)
            ).all()
            pairs = [(row.key, row.val) for row in rows]
        return [state for key, raw in pairs if (state := parse_state(key, raw)) is not None]

    def run_conf(self, dag_id: str, run_id: str) -> dict[str, Any] | None:
        from airflow.models.dagrun import DagRun
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            conf = session.scalar(select(DagRun.conf).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        return conf if isinstance(conf, dict) else None


def objective_for(state: dict[str, Any], store: CampaignStore) -> tuple[float, int | None]:
    """The campaign's fidelity target and required streak: from its state, else its latest run's conf."""
    objective = state.get("objective") or {}
    if objective.get("fidelity_percent") is not None:
        return float(objective["fidelity_percent"]), objective.get("consecutive_successes")
    history = state.get("history") or []
    if history:
        last = max(history, key=lambda h: h.get("iteration") or 0)
        try:
            conf = store.run_conf(dag_of(state), str(last.get("run_id"))) or {}
        except Exception:  # the page must render without it
            log.exception("could not read the conf of run %s", last.get("run_id"))
            conf = {}
        target, required = conf.get("fidelity_target"), conf.get("required_successes")
        try:
            return (
                float(target) if target not in (None, "") else render.DEFAULT_OBJECTIVE,
                int(required) if required not in (None, "") else None,
            )
        except (TypeError, ValueError):
            pass
    return render.DEFAULT_OBJECTIVE, None


def dag_of(state: dict[str, Any] | None) -> str:
    return str((state or {}).get("dag_id") or DEFAULT_DAG_ID)


def campaign_for_run(store: CampaignStore, dag_id: str, run_id: str) -> str | None:
    """Which campaign a DAG run belongs to: its conf names it (or its subscriptions), else a history hit."""
    if dag_id.startswith(DRIFT_DAG_PREFIX):  # one drift-watch DAG per campaign: the DAG names it
        return dag_id.removeprefix(DRIFT_DAG_PREFIX)
    conf = store.run_conf(dag_id, run_id) or {}
    if conf.get("campaign_id"):
        return str(conf["campaign_id"]).strip().lower()
    if conf.get("source_subscription") and conf.get("target_subscription"):
        from tenant_replicator.campaign import campaign_id_for

        return campaign_id_for(str(conf["source_subscription"]).strip(), str(conf["target_subscription"]).strip())
    for state in store.all():
        if any(h.get("run_id") == run_id for h in state.get("history") or []):
            return str(state.get("campaign_id"))
    return None


def create_app(store: CampaignStore | None = None) -> Any:
    """Build the app; `store` defaults to the metadata DB. Auth is the `reader` dependency."""
    store = store or AirflowCampaignStore()
    app = FastAPI(title="Tenant Replicator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store = store

    def bases(request: Request) -> tuple[str, str]:
        """(UI base, this app's base), both from the mount point, so a base_url sub-path works."""
        app_base = str(request.scope.get("root_path") or "").rstrip("/")
        ui_base = app_base[: -len(URL_PREFIX)] if app_base.endswith(URL_PREFIX) else ""
        return ui_base, app_base

    def can_read(request: Request, state: dict[str, Any] | None) -> bool:
        check = getattr(request.app.state, "authorize", None)
        user = getattr(request.state, "campaign_reader", None)
        return True if check is None else bool(check(user, dag_of(state)))

    async def reader(request: Request) -> Any:
        """The caller, resolved like the REST API does; 401 without a valid token."""
        resolve = getattr(request.app.state, "resolve_user", None)
        if resolve is None:
            return None
        user = await resolve(request)
        request.state.campaign_reader = user
        return user

    def wants_html(request: Request) -> bool:
        return not request.url.path.removeprefix(str(request.scope.get("root_path") or "")).startswith("/api/")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Any:
        if not wants_html(request):
            return JSONResponse({"detail": error.detail}, status_code=error.status_code, headers=error.headers)
        _, app_base = bases(request)
        login = ""
        if error.status_code == 401:
            login = login_url(request)
            title, text = "log in to Airflow first", "This page shows Airflow data: log in to the Airflow UI first."
        elif error.status_code == 403:
            title, text = "not allowed", str(error.detail)
        elif error.status_code == 404:
            title, text = "not found", str(error.detail)
        else:
            title, text = f"error {error.status_code}", str(error.detail)
        page = render.render_message(title, text, app_base=app_base, link=login)
        return HTMLResponse(page, status_code=error.status_code)

    def login_url(request: Request) -> str:
        finder = getattr(request.app.state, "login_url", None)
        try:
            return finder(str(request.url)) if finder else ""
        except Exception:
            return ""

    def load(request: Request, campaign_id: str) -> dict[str, Any] | None:
        """The campaign's state, None when unknown; 403 (before saying whether it exists) when not allowed."""
        state = store.get(campaign_id)
        if not can_read(request, state):
            raise HTTPException(403, f"you may not read the runs of DAG {dag_of(state)!r}")
        return state

    def readable(request: Request) -> list[dict[str, Any]]:
        return [s for s in store.all() if can_read(request, s)]

    def page(request: Request, state: dict[str, Any], highlight: str | None) -> HTMLResponse:
        ui_base, app_base = bases(request)
        target, required = objective_for(state, store)
        html = render.render_campaign_page(
            state,
            ui_base=ui_base,
            app_base=app_base,
            objective=target,
            required_successes=required,
            highlight_run=highlight,
        )
        return HTMLResponse(html)

    @app.get("/", response_class=HTMLResponse, dependencies=[Depends(reader)])
    def campaign_list(request: Request) -> HTMLResponse:
        _, app_base = bases(request)
        return HTMLResponse(render.render_campaign_list(readable(request), app_base=app_base))

    @app.get("/campaigns/{campaign_id}", response_class=HTMLResponse, dependencies=[Depends(reader)])
    def campaign_page(request: Request, campaign_id: str, run: str | None = None) -> HTMLResponse:
        state = load(request, campaign_id)
        if state is None:
            _, app_base = bases(request)
            return HTMLResponse(render.render_not_found(campaign_id, app_base=app_base), status_code=404)
        return page(request, state, run)

    @app.get("/runs/{dag_id}/{run_id:path}", response_class=HTMLResponse, dependencies=[Depends(reader)])
    def run_page(request: Request, dag_id: str, run_id: str) -> HTMLResponse:
        campaign_id = campaign_for_run(store, dag_id, run_id)
        if campaign_id is None:
            raise HTTPException(404, f"run {run_id!r} of DAG {dag_id!r} is not part of a replication campaign")
        state = load(request, campaign_id)
        if state is None:
            raise HTTPException(404, f"campaign {campaign_id!r} of run {run_id!r} not found")
        return page(request, state, run_id)

    @app.get("/api/campaigns", dependencies=[Depends(reader)])
    def api_campaigns(request: Request) -> dict[str, Any]:
        rows = [render.campaign_summary(s) for s in readable(request)]
        return {"campaigns": sorted(rows, key=lambda r: str(r["campaign_id"])), "total_entries": len(rows)}

    @app.get("/api/campaigns/{campaign_id}", dependencies=[Depends(reader)])
    def api_campaign(request: Request, campaign_id: str) -> dict[str, Any]:
        state = load(request, campaign_id)
        if state is None:
            raise HTTPException(404, f"campaign {campaign_id!r} not found")
        return state

    return app


def may_read_runs(auth_manager: Any, user: Any, dag_id: str) -> bool:
    """What the REST API asks before listing a DAG's runs (team-aware like `requires_access_dag`)."""
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
    from airflow.models.dag import DagModel

    team = DagModel.get_team_name(dag_id)
    return bool(
        auth_manager.is_authorized_dag(
            method="GET", access_entity=DagAccessEntity.RUN, details=DagDetails(id=dag_id, team_name=team), user=user
        )
    )


def create_airflow_app() -> Any:
    """The app as the api-server mounts it: DB store, Airflow's own token check and authorization."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi.security import HTTPBearer

    app = create_app(AirflowCampaignStore())
    bearer = HTTPBearer(auto_error=False)

    async def resolve_user(request: Any) -> Any:
        # the same resolution the REST API does: explicit Bearer token first, else the UI cookie
        credentials = await bearer(request)
        return await get_user(request, None, credentials)

    app.state.resolve_user = resolve_user
    app.state.authorize = lambda user, dag_id: may_read_runs(get_auth_manager(), user, dag_id)
    app.state.login_url = lambda next_url: get_auth_manager().get_url_login(next_url=next_url)
    return app
