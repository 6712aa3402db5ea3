"""The pure rendering of the campaign page: chart geometry, escaping, empty and unknown campaigns."""

from __future__ import annotations

import re
from xml.etree import ElementTree

from ui_fixtures import HOSTILE, make_state

from tenant_replicator_airflow.ui import render


def svg_of(page: str) -> ElementTree.Element:
    match = re.search(r'<svg id="fidelity-chart".*?</svg>', page, re.S)
    assert match, "no chart in the page"
    return ElementTree.fromstring(match.group(0))


def test_chart_points_follow_history_in_iteration_order():
    state = make_state()
    shuffled = list(reversed(state["history"]))
    g = render.ChartGeometry()
    points = render.chart_points(shuffled, g)

    assert [p.iteration for p in points] == [1, 2, 3]
    assert points[0].x == g.left and points[-1].x == g.width - g.right  # first and last at the plot edges
    assert points[0].x < points[1].x < points[2].x
    # y is linear in percent: 100 % at the top of the plot, 0 % at the bottom
    assert points[2].y_fidelity == g.top
    assert g.y(0) == g.height - g.bottom
    expected = g.top + (g.height - g.top - g.bottom) * (1 - 62.5 / 100)
    assert abs(points[0].y_fidelity - expected) < 0.06
    assert [p.success for p in points] == [False, True, True]
    assert points[1].property_score == 97.0


def test_single_point_is_centred_and_missing_values_leave_gaps():
    g = render.ChartGeometry()
    one = render.chart_points([{"iteration": 4, "success": True, "fidelity_percent": 50.0}], g)
    assert one[0].x == g.left + (g.width - g.left - g.right) / 2
    assert one[0].y_property is None

    assert render._polyline([(0, 1.0), (1, 2.0), (2, None), (3, 4.0), (4, 5.0)]) == ["0,1.0 1,2.0", "3,4.0 4,5.0"]


def test_chart_svg_has_one_marker_per_iteration_and_the_objective_line():
    state = make_state()
    svg = svg_of(render.render_campaign_page(state, objective=90.0))
    ns = "{http://www.w3.org/2000/svg}"
    markers = [el for el in svg.iter() if "fidelity" in el.get("class", "") and el.get("data-iteration")]
    assert [m.get("data-iteration") for m in markers] == ["1", "2", "3"]
    assert [m.get("data-fidelity") for m in markers] == ["62.5", "87.5", "100"]
    classes = [m.get("class") for m in markers]
    assert classes == ["point fidelity failed", "point fidelity success", "point fidelity success"]
    objective = svg.find(f"{ns}line[@id='objective-line']")
    assert objective is not None and objective.get("data-objective") == "90"
    assert float(objective.get("y1")) == render.ChartGeometry().y(90.0)
    property_points = [el for el in svg.iter(f"{ns}rect") if "property" in el.get("class", "")]
    assert [p.get("data-value") for p in property_points] == ["90", "97", "99.5"]


def test_user_data_is_escaped_everywhere():
    state = make_state(campaign_id=f"c{HOSTILE}", source_subscription=HOSTILE)
    state["history"][0]["run_id"] = f"manual__{HOSTILE}"
    state["history"][0]["reasons"] = [HOSTILE]
    state["last_report"]["per_type"][f"Evil/{HOSTILE}"] = {"source": 1, "matched": 0, "percent": 0.0}
    page = render.render_campaign_page(state)

    assert "<script>alert" not in page
    assert page.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;") >= 6
    # run links percent-encode the run id as one path segment
    assert "/runs/manual__%3Cscript%3Ealert%28%22x%22%29%3C%2Fscript%3E%26" in page
    listing = render.render_campaign_list([state])
    assert "<script>alert" not in listing
    missing = render.render_not_found(HOSTILE)
    assert "<script>alert" not in missing and "&lt;script&gt;" in missing


def test_page_shows_tables_apply_failures_and_run_links(state):
    page = render.render_campaign_page(state, ui_base="/base", app_base="/base/tenant-replicator", highlight_run=None)
    per_type = re.search(r'<table id="per-type">.*?</table>', page, re.S).group(0)
    rows = re.findall(
        r'<tr data-type="([^"]+)"><td class="mono">[^<]*</td><td class="num">(\d+)</td>'
        r'<td class="num">(\d+)</td><td class="num">([^<]+)</td>',
        per_type,
    )
    assert rows[0] == ("Microsoft.Insights/dataCollectionRules", "1", "0", "0.0 %")  # worst first
    assert {r[0] for r in rows} == set(state["last_report"]["per_type"])
    assert 'id="unmatched"' in page and "rg-app/dcr&lt;script&gt;" in page
    assert 'id="apply-failures"' in page and "InvalidPayload" in page and "azapi_resource.dcr" in page
    for entry in state["history"]:
        assert f'href="/base/dags/tenant_replication/runs/{render.seg(entry["run_id"])}"' in page
    assert 'href="/base/tenant-replicator/"' in page  # back to the list, under the mount point
    assert '<meta http-equiv="refresh"' in page  # running campaigns refresh themselves
    done = render.render_campaign_page(state | {"status": "objective_met"})
    assert '<meta http-equiv="refresh"' not in done and "objective met" in done


def test_empty_history_renders_an_empty_chart_not_an_error():
    state = make_state(history=[])
    state.pop("last_report")
    state.pop("last_apply")
    page = render.render_campaign_page(state)
    svg = svg_of(page)
    assert "no iteration recorded yet" in "".join(svg.itertext())
    assert not [el for el in svg.iter() if el.get("data-iteration")]
    assert "No iteration recorded yet." in page and "No fidelity report yet." in page
    assert "No apply recorded yet." in page


def test_unknown_campaign_page_names_it():
    page = render.render_not_found("no-such-campaign")
    assert "campaign not found" in page
    assert "no-such-campaign" in page and "tenant_replication__no-such-campaign" in page


def test_apply_that_never_ran_shows_its_error():
    state = make_state(last_apply={"ok": False, "error": "terraform init failed: <boom>"})
    page = render.render_campaign_page(state)
    assert "apply did not run" in page and "terraform init failed: &lt;boom&gt;" in page


def test_short_id_keeps_group_and_names():
    rid = "/subscriptions/s/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/vn1/subnets/sn1"
    assert render._short_id(rid) == "rg1/vn1/sn1"
    assert render._short_id("/subscriptions/s/resourceGroups/rg1") == "rg1"
    assert render._short_id("/subscriptions/s/providers/X/y/z") == "/subscriptions/s/providers/X/y/z"
