"""The campaign page shows the drift watch's checks next to the fidelity history."""

from __future__ import annotations

from ui_fixtures import HOSTILE, make_state

from tenant_replicator_airflow.ui import app as ui_app
from tenant_replicator_airflow.ui import render

DRIFT = {
    "campaign_id": "aaaaaaaa-to-bbbbbbbb-12345678",
    "history": [
        {
            "checked_at": "2026-11-25T11:00:00+00:00",
            "run_id": "scheduled__2026-11-25T11:00:00+00:00",
            "baseline": True,
            "drifted": False,
            "counts": {},
            "items": [],
            "fidelity_percent": 100.0,
            "retriggered": False,
            "reasons": [],
        },
        {
            "checked_at": "2026-11-26T11:00:00+00:00",
            "run_id": "scheduled__2026-11-26T11:00:00+00:00",
            "baseline": False,
            "drifted": True,
            "counts": {"source_added": 1, "source_removed": 0, "source_changed": 2, "target_deleted": 1},
            "items": [
                {"kind": "source_added", "id": "/subscriptions/a/resourceGroups/rg-app/providers/X/y/new-one"},
                {"kind": "target_deleted", "id": f"/subscriptions/b/resourceGroups/rg/providers/X/y/{HOSTILE}"},
            ],
            "fidelity_percent": 87.5,
            "retriggered": True,
            "reasons": ["fidelity 87.5 % below the objective 95 %", "the source changed"],
        },
    ],
}


def test_drift_table_newest_first_with_counts_items_action_and_run_links():
    html = render.render_campaign_page(make_state() | {"drift": DRIFT}, ui_base="/ui")
    section = html[html.index('id="drift-history"') : html.index("<h2>Iterations</h2>")]
    assert section.index('data-drifted="true"') < section.index('data-drifted="false"')
    assert "1 added in source, 2 changed in source, 1 deleted in target" in section
    assert "rg-app/new-one" in section and "87.5 %" in section
    assert "re-triggered: fidelity 87.5 % below the objective 95 %; the source changed" in section
    assert "first check (baseline)" in section
    assert "/ui/dags/replication_drift_watch__aaaaaaaa-to-bbbbbbbb-12345678/runs/scheduled__2026-11-26T11" in section
    assert HOSTILE not in html and "&lt;script&gt;" in section
    # the fidelity chart comes first, the drift history right after it
    assert html.index("Fidelity per iteration") < html.index('id="drift-history"') < html.index("<h2>Iterations</h2>")


def test_no_drift_check_yet_says_so():
    html = render.render_campaign_page(make_state())
    assert 'id="no-drift"' in html and "has not run" in html


def test_a_drift_watch_run_belongs_to_the_campaign_its_dag_names():
    class NoConf:
        def run_conf(self, dag_id, run_id):
            raise AssertionError("the drift DAG id names the campaign; no conf lookup needed")

    assert ui_app.campaign_for_run(NoConf(), "replication_drift_watch__prod-dr", "scheduled__x") == "prod-dr"
