"""Pure HTML/SVG rendering of campaign state (no Airflow, no I/O): easy to test, safe to cache.

Every value from the campaign Variable is user data (resource names, error text) and goes
through `esc` or `quote`; the page needs no script from anywhere (no CDN, works offline).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

DEFAULT_OBJECTIVE = 95.0
STATUS_LABELS = {"running": "running", "objective_met": "objective met", "stopped": "stopped"}


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def seg(value: Any) -> str:
    """One URL path segment (run ids hold ':' and '+')."""
    return quote(str(value), safe="")


def pct(value: Any, digits: int = 1) -> str:
    return "n/a" if value is None else f"{float(value):.{digits}f} %"


# ---------------------------------------------------------------- chart


@dataclass(frozen=True)
class ChartGeometry:
    width: int = 880
    height: int = 320
    left: int = 56
    right: int = 110  # room for the objective label beside its line
    top: int = 20
    bottom: int = 44

    def x(self, index: int, count: int) -> float:
        inner = self.width - self.left - self.right
        if count <= 1:
            return self.left + inner / 2
        return self.left + inner * index / (count - 1)

    def y(self, percent: float) -> float:
        inner = self.height - self.top - self.bottom
        clamped = min(100.0, max(0.0, float(percent)))
        return self.top + inner * (1 - clamped / 100.0)


@dataclass(frozen=True)
class ChartPoint:
    iteration: int
    run_id: str
    success: bool
    x: float
    fidelity: float | None
    property_score: float | None
    y_fidelity: float | None
    y_property: float | None


def chart_points(history: list[dict[str, Any]], geometry: ChartGeometry | None = None) -> list[ChartPoint]:
    """One point per recorded iteration, in iteration order; y is None where a value is missing."""
    geometry = geometry or ChartGeometry()
    entries = sorted(history, key=lambda h: h.get("iteration") or 0)
    points = []
    for index, entry in enumerate(entries):
        fidelity = entry.get("fidelity_percent")
        prop = entry.get("property_score_percent")
        points.append(
            ChartPoint(
                iteration=int(entry.get("iteration") or 0),
                run_id=str(entry.get("run_id") or ""),
                success=bool(entry.get("success")),
                x=round(geometry.x(index, len(entries)), 1),
                fidelity=None if fidelity is None else float(fidelity),
                property_score=None if prop is None else float(prop),
                y_fidelity=None if fidelity is None else round(geometry.y(fidelity), 1),
                y_property=None if prop is None else round(geometry.y(prop), 1),
            )
        )
    return points


def _polyline(pairs: list[tuple[float, float | None]]) -> list[str]:
    """Polyline point lists, broken where a value is missing."""
    runs: list[list[str]] = [[]]
    for x, y in pairs:
        if y is None:
            runs.append([])
        else:
            runs[-1].append(f"{x},{y}")
    return [" ".join(run) for run in runs if len(run) > 1]


def render_chart(history: list[dict[str, Any]], objective: float = DEFAULT_OBJECTIVE) -> str:
    """Fidelity and property score per iteration, 0-100 %, objective line, success/failed markers."""
    g = ChartGeometry()
    points = chart_points(history, g)
    parts = [
        f'<svg id="fidelity-chart" class="chart" viewBox="0 0 {g.width} {g.height}" width="100%" '
        f'role="img" aria-label="fidelity and property score per iteration" xmlns="http://www.w3.org/2000/svg">'
    ]
    for tick in (0, 25, 50, 75, 100):
        y = g.y(tick)
        parts.append(f'<line class="grid" x1="{g.left}" y1="{y}" x2="{g.width - g.right}" y2="{y}"/>')
        parts.append(f'<text class="tick" x="{g.left - 8}" y="{y + 4}" text-anchor="end">{tick} %</text>')
    baseline = g.y(0)
    parts.append(f'<line class="axis" x1="{g.left}" y1="{baseline}" x2="{g.width - g.right}" y2="{baseline}"/>')
    parts.append(f'<line class="axis" x1="{g.left}" y1="{g.top}" x2="{g.left}" y2="{baseline}"/>')
    y_obj = g.y(objective)
    parts.append(
        f'<line id="objective-line" class="objective" x1="{g.left}" y1="{y_obj}" x2="{g.width - g.right}" '
        f'y2="{y_obj}" data-objective="{objective:g}"/>'
        f'<text class="objective-label" x="{g.width - g.right + 8}" y="{y_obj + 4}">'
        f"objective {objective:g} %</text>"
    )
    if not points:
        parts.append(
            f'<text class="empty" x="{g.width / 2}" y="{g.height / 2}" text-anchor="middle">'
            "no iteration recorded yet</text></svg>"
        )
        return "".join(parts)
    label_every = max(1, len(points) // 12)
    for index, p in enumerate(points):
        if index % label_every == 0 or index == len(points) - 1:
            parts.append(f'<text class="tick" x="{p.x}" y="{baseline + 18}" text-anchor="middle">{p.iteration}</text>')
    parts.append(
        f'<text class="axis-title" x="{(g.left + g.width - g.right) / 2}" y="{g.height - 6}" '
        'text-anchor="middle">iteration</text>'
    )
    for line in _polyline([(p.x, p.y_property) for p in points]):
        parts.append(f'<polyline class="series property" points="{line}"/>')
    for line in _polyline([(p.x, p.y_fidelity) for p in points]):
        parts.append(f'<polyline class="series fidelity" points="{line}"/>')
    for p in points:
        if p.y_property is not None:
            parts.append(
                f'<rect class="point property" x="{p.x - 3.5}" y="{p.y_property - 3.5}" width="7" height="7" '
                f'data-iteration="{p.iteration}" data-value="{p.property_score:g}">'
                f"<title>iteration {p.iteration}: property score {pct(p.property_score)}</title></rect>"
            )
    for p in points:
        outcome = "success" if p.success else "failed"
        y = p.y_fidelity if p.y_fidelity is not None else baseline
        value = "n/a" if p.fidelity is None else f"{p.fidelity:g}"
        title = f"iteration {p.iteration}: fidelity {pct(p.fidelity)}, {outcome}"
        attrs = f'data-iteration="{p.iteration}" data-fidelity="{value}" data-run-id="{esc(p.run_id)}"'
        if p.success:
            parts.append(
                f'<circle class="point fidelity success" cx="{p.x}" cy="{y}" r="6" {attrs}>'
                f"<title>{esc(title)}</title></circle>"
            )
        else:
            d = 5
            parts.append(
                f'<g class="point fidelity failed" {attrs}><title>{esc(title)}</title>'
                f'<circle cx="{p.x}" cy="{y}" r="7"/>'
                f'<path d="M{p.x - d},{y - d}L{p.x + d},{y + d}M{p.x - d},{y + d}L{p.x + d},{y - d}"/></g>'
            )
    parts.append("</svg>")
    return "".join(parts)


LEGEND = (
    '<div class="legend">'
    '<span><svg width="28" height="12"><line class="series fidelity" x1="0" y1="6" x2="28" y2="6"/></svg>'
    "fidelity</span>"
    '<span><svg width="28" height="12"><line class="series property" x1="0" y1="6" x2="28" y2="6"/></svg>'
    "property score</span>"
    '<span><svg width="14" height="14"><circle class="point fidelity success" cx="7" cy="7" r="5"/></svg>'
    "successful iteration</span>"
    '<span><svg width="16" height="16"><g class="point fidelity failed"><circle cx="8" cy="8" r="6"/>'
    '<path d="M4,4L12,12M4,12L12,4"/></g></svg>failed iteration</span>'
    '<span><svg width="28" height="12"><line class="objective" x1="0" y1="6" x2="28" y2="6"/></svg>objective</span>'
    "</div>"
)

# ---------------------------------------------------------------- page pieces

CSS = """
:root{--fg:#1f2933;--muted:#5f6b7a;--line:#d9dee5;--bg:#f5f7fa;--card:#fff;--blue:#1f6feb;--orange:#d97706;
--green:#15803d;--red:#b91c1c;--grey:#6b7280}
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
color:var(--fg);background:var(--bg)}main{max-width:1120px;margin:0 auto;padding:20px 24px 40px}
a{color:var(--blue);text-decoration:none}a:hover{text-decoration:underline}
h1{font-size:24px;margin:0 0 4px}h2{font-size:17px;margin:0 0 12px}.muted{color:var(--muted)}
.crumbs{font-size:13px;margin-bottom:10px}.mono{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:13px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:16px 18px;margin:16px 0}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px;margin:16px 0}
.kpi{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 14px}
.kpi .label{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}
.kpi .value{font-size:26px;font-weight:650;margin-top:2px}.kpi .sub{font-size:13px;color:var(--muted)}
.badge{display:inline-block;padding:2px 10px;border-radius:999px;font-size:13px;font-weight:600;vertical-align:middle;
color:#fff;background:var(--grey)}.badge.running{background:var(--blue)}.badge.objective_met{background:var(--green)}
.badge.stopped{background:var(--red)}.ok{color:var(--green);font-weight:600}.bad{color:var(--red);font-weight:600}
table{border-collapse:collapse;width:100%;font-size:14px}th,td{text-align:left;padding:6px 8px;
border-bottom:1px solid var(--line);vertical-align:top}th{font-size:12px;text-transform:uppercase;letter-spacing:.04em;
color:var(--muted);font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td{overflow-wrap:break-word}td.result{white-space:nowrap}td.text{overflow-wrap:anywhere;min-width:14em}
tr.highlight td{background:#fff7d6}.bar{height:8px;border-radius:4px;background:#e5e9f0;min-width:80px}
.bar>span{display:block;height:8px;border-radius:4px;background:var(--green)}.bar.partial>span{background:var(--orange)}
.bar.zero>span{background:var(--red)}
.chart{display:block;max-width:100%;height:auto}.chart .grid{stroke:#e5e9f0}.chart .axis{stroke:#9aa5b1}
.chart .tick,.chart .axis-title{font-size:12px;fill:var(--muted)}.chart .empty{font-size:15px;fill:var(--muted)}
.series{fill:none;stroke-width:2.5}.series.fidelity{stroke:var(--blue)}.series.property{stroke:var(--orange);
stroke-dasharray:6 4}.point.property{fill:var(--orange)}.point.success{fill:var(--green);stroke:#fff;stroke-width:2}
.point.failed circle{fill:#fff;stroke:var(--red);stroke-width:2.5}.point.failed path{stroke:var(--red);stroke-width:2.5}
.objective{stroke:var(--green);stroke-width:1.5;stroke-dasharray:3 3}.objective-label{font-size:12px;fill:var(--green)}
.legend{display:flex;flex-wrap:wrap;gap:18px;font-size:13px;color:var(--muted);margin-top:6px}
.legend span{display:inline-flex;align-items:center;gap:6px}.reasons{margin:0;padding-left:18px}
"""

# In the UI's sandboxed iframe (no allow-top-navigation) a target=_top link would be blocked:
# open it in the frame instead so it still works.
FRAME_SCRIPT = (
    "<script>(function(){var f=null;try{f=window.frameElement}catch(e){}"
    "if(f&&f.sandbox&&f.sandbox.length&&!f.sandbox.contains('allow-top-navigation')){"
    "document.querySelectorAll('a[target=_top]').forEach(function(a){a.removeAttribute('target')})}})();</script>"
)


def _document(title: str, body: str, refresh: int | None = None) -> str:
    meta = f'<meta http-equiv="refresh" content="{refresh}">' if refresh else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">{meta}<title>{esc(title)}</title>'
        f"<style>{CSS}</style></head><body><main>{body}</main>{FRAME_SCRIPT}</body></html>"
    )


def run_href(ui_base: str, dag_id: str, run_id: str) -> str:
    return f"{ui_base}/dags/{seg(dag_id)}/runs/{seg(run_id)}"


def campaign_href(app_base: str, campaign_id: str) -> str:
    return f"{app_base}/campaigns/{seg(campaign_id)}"


def _badge(status: Any) -> str:
    key = str(status or "unknown")
    return f'<span class="badge {esc(key)}">{esc(STATUS_LABELS.get(key, key))}</span>'


def _kpi(label: str, value: str, sub: str = "", ident: str = "") -> str:
    ident_attr = f' id="{ident}"' if ident else ""
    return (
        f'<div class="kpi"{ident_attr}><div class="label">{esc(label)}</div><div class="value">{esc(value)}</div>'
        f'<div class="sub">{esc(sub)}</div></div>'
    )


def _bar(percent: float | None) -> str:
    value = 0.0 if percent is None else min(100.0, max(0.0, float(percent)))
    kind = "" if value >= 100 else ("zero" if value == 0 else "partial")
    return f'<div class="bar {kind}"><span style="width:{value:.1f}%"></span></div>'


def _history_table(state: dict[str, Any], ui_base: str, highlight_run: str | None) -> str:
    dag_id = state.get("dag_id") or "tenant_replication"
    rows = []
    for entry in sorted(state.get("history") or [], key=lambda h: h.get("iteration") or 0, reverse=True):
        run_id = str(entry.get("run_id") or "")
        reasons = entry.get("reasons") or []
        outcome = '<span class="ok">success</span>' if entry.get("success") else '<span class="bad">failed</span>'
        matched = entry.get("matched")
        total = entry.get("source_total")
        cls = ' class="highlight"' if highlight_run and run_id == highlight_run else ""
        run_cell = (
            f'<a class="run-link mono" target="_top" href="{esc(run_href(ui_base, dag_id, run_id))}">{esc(run_id)}</a>'
            if run_id
            else "n/a"
        )
        rows.append(
            f'<tr{cls} data-iteration="{esc(entry.get("iteration"))}">'
            f'<td class="num">{esc(entry.get("iteration"))}</td>'
            f"<td class='result'>{outcome}</td><td class='num'>{esc(pct(entry.get('fidelity_percent')))}</td>"
            f"<td class='num'>{esc(pct(entry.get('property_score_percent')))}</td>"
            f"<td class='num'>{esc('n/a' if matched is None else f'{matched} / {total}')}</td>"
            f"<td class='num'>{esc(entry.get('consecutive_successes'))}</td><td>{run_cell}</td>"
            f"<td class='text'>{''.join(f'<div>{esc(r)}</div>' for r in reasons) or '<span class=muted>none</span>'}"
            "</td></tr>"
        )
    if not rows:
        return '<p class="muted">No iteration recorded yet.</p>'
    return (
        '<table id="iterations"><thead><tr><th class="num">#</th><th>result</th><th class="num">fidelity</th>'
        '<th class="num">property</th><th class="num">matched</th><th class="num">streak</th><th>DAG run</th>'
        f"<th>why it failed</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


DRIFT_KINDS = (
    ("source_added", "added in source"),
    ("source_removed", "removed from source"),
    ("source_changed", "changed in source"),
    ("target_changed", "edited in target"),
    ("target_deleted", "deleted in target"),
)


def drift_table(record: dict[str, Any], ui_base: str, campaign_id: str) -> str:
    """The drift watch's checks, newest first, beside the fidelity history (Variable tenant_replicator_drift__<id>)."""
    dag_id = f"replication_drift_watch__{campaign_id}"
    rows = []
    for entry in reversed(record.get("history") or []):
        counts = entry.get("counts") or {}
        changes = [f"{counts[k]} {label}" for k, label in DRIFT_KINDS if counts.get(k)]
        if entry.get("baseline"):
            verdict = '<span class="muted">first check (baseline)</span>'
        elif entry.get("drifted"):
            verdict = f'<span class="bad">drifted</span>: {esc(", ".join(changes))}'
        else:
            verdict = '<span class="ok">in sync</span>'
        items = "".join(
            f"<div><span class='muted'>{esc(dict(DRIFT_KINDS).get(i.get('kind'), i.get('kind')))}</span> "
            f"<span class='mono'>{esc(_short_id(i.get('id')))}</span></div>"
            for i in (entry.get("items") or [])[:10]
        )
        action = "re-triggered: " + "; ".join(entry.get("reasons") or []) if entry.get("retriggered") else "none"
        if not entry.get("retriggered") and entry.get("reasons"):
            action = "not re-triggered: " + "; ".join(entry["reasons"])
        run_id = str(entry.get("run_id") or "")
        run_cell = (
            f'<a class="run-link mono" target="_top" href="{esc(run_href(ui_base, dag_id, run_id))}">{esc(run_id)}</a>'
            if run_id
            else "n/a"
        )
        rows.append(
            f'<tr data-drifted="{str(bool(entry.get("drifted"))).lower()}"><td>{esc(entry.get("checked_at"))}</td>'
            f"<td class='text'>{verdict}{items}</td><td class='num'>{esc(pct(entry.get('fidelity_percent')))}</td>"
            f"<td class='text'>{esc(action)}</td><td>{run_cell}</td></tr>"
        )
    if not rows:
        return '<p class="muted" id="no-drift">No drift check yet (the drift watch of this campaign has not run).</p>'
    return (
        '<table id="drift"><thead><tr><th>checked</th><th>drift</th><th class="num">fidelity</th><th>action</th>'
        f"<th>DAG run</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _per_type_table(report: dict[str, Any]) -> str:
    per_type = report.get("per_type") or {}
    if not per_type:
        return '<p class="muted">No fidelity report yet.</p>'
    ordered = sorted(per_type.items(), key=lambda kv: (float(kv[1].get("percent") or 0.0), kv[0].lower()))
    rows = "".join(
        f'<tr data-type="{esc(name)}"><td class="mono">{esc(name)}</td><td class="num">{esc(row.get("source"))}</td>'
        f'<td class="num">{esc(row.get("matched"))}</td><td class="num">{esc(pct(row.get("percent")))}</td>'
        f"<td>{_bar(row.get('percent'))}</td></tr>"
        for name, row in ordered
    )
    return (
        '<table id="per-type"><thead><tr><th>resource type</th><th class="num">source</th><th class="num">matched</th>'
        f'<th class="num">%</th><th></th></tr></thead><tbody>{rows}</tbody></table>'
    )


def _unmatched_table(report: dict[str, Any]) -> str:
    unmatched = report.get("unmatched") or []
    total = None
    if report.get("source_total") is not None and report.get("matched") is not None:
        total = int(report["source_total"]) - int(report["matched"])
    if not unmatched:
        return '<p class="muted" id="unmatched-none">Every source resource in scope has its target counterpart.</p>'
    shown = f'<p class="muted">showing {len(unmatched)} of {total}</p>' if total and total > len(unmatched) else ""
    rows = "".join(
        f"<tr><td class='mono'>{esc(_short_id(item.get('id')))}</td><td class='mono'>{esc(item.get('type'))}</td>"
        f"<td class='text'>{esc(item.get('reason'))}</td></tr>"
        for item in unmatched
    )
    return (
        f'{shown}<table id="unmatched"><thead><tr><th>resource</th><th>type</th><th>reason</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )


def _short_id(resource_id: Any) -> str:
    """`rg/name[/child]` of an ARM ID: the subscription prefix is the same on every row."""
    text = str(resource_id or "")
    parts = text.split("/")
    lower = [p.lower() for p in parts]
    if "resourcegroups" in lower:
        i = lower.index("resourcegroups")
        rg = parts[i + 1] if i + 1 < len(parts) else ""
        names = [parts[j] for j in range(i + 5, len(parts), 2)] if len(parts) > i + 5 else []
        return "/".join([rg, *names]) if names else rg
    return text


def _detail(text: Any, limit: int = 300) -> str:
    text = str(text or "").strip()
    if not text:
        return ""
    return f'<div class="muted">{esc(text[:limit] + ("..." if len(text) > limit else ""))}</div>'


def _apply_section(last_apply: dict[str, Any] | None) -> str:
    if not last_apply:
        return '<p class="muted">No apply recorded yet.</p>'
    if last_apply.get("error") and last_apply.get("plan") is None:
        return f'<p class="bad">apply did not run</p><pre class="mono">{esc(last_apply["error"])}</pre>'
    plan = last_apply.get("plan") or {}
    duration = last_apply.get("duration_s")
    took = "" if duration is None else f"; {float(duration):.1f} s"
    facts = (
        f"plan: +{esc(plan.get('add', 0))} ~{esc(plan.get('change', 0))} -{esc(plan.get('destroy', 0))}; "
        f"applied {esc(last_apply.get('applied'))}; failed {esc(last_apply.get('failed_count') or 0)}"
        f"{'; timed out' if last_apply.get('timed_out') else ''}"
        f"{took}"
    )
    codes = last_apply.get("arm_error_codes") or {}
    code_text = (
        ", ".join(f"{esc(code)} x{esc(count)}" for code, count in codes.items())
        if isinstance(codes, dict)
        else ", ".join(esc(c) for c in codes)
    )
    head = f'<p><span class="{"ok" if last_apply.get("ok") else "bad"}">{"ok" if last_apply.get("ok") else "failed"}'
    head += f"</span> &middot; {facts}</p>"
    if code_text:
        head += f"<p>ARM error codes: <span class='mono'>{code_text}</span></p>"
    failed = last_apply.get("failed") or []
    if not failed:
        return head + '<p class="muted" id="apply-failures-none">No resource failed.</p>'
    rows = "".join(
        f"<tr><td class='mono'>{esc(f.get('address') or '(whole apply)')}</td>"
        f"<td class='mono'>{esc(f.get('arm_code') or 'n/a')}</td><td class='text'>{esc(f.get('summary'))}"
        f"{_detail(f.get('detail'))}</td></tr>"
        for f in failed
    )
    return (
        f'{head}<table id="apply-failures"><thead><tr><th>resource</th><th>ARM code</th><th>error</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )


# ---------------------------------------------------------------- pages


def render_campaign_page(
    state: dict[str, Any],
    *,
    ui_base: str = "",
    app_base: str = "/tenant-replicator",
    objective: float | None = None,
    required_successes: int | None = None,
    highlight_run: str | None = None,
) -> str:
    """The campaign page: KPIs, chart, iterations with run links, per-type table, unmatched, last apply."""
    campaign_id = str(state.get("campaign_id") or "")
    target = float(objective) if objective is not None else DEFAULT_OBJECTIVE
    report = state.get("last_report") or {}
    dag_id = state.get("dag_id") or "tenant_replication"
    streak_sub = f"of {required_successes} required" if required_successes else "resets on any failure"
    matched = report.get("matched")
    kpis = "".join(
        [
            _kpi("fidelity", pct(state.get("last_fidelity")), f"objective {target:g} %", "kpi-fidelity"),
            _kpi("best fidelity", pct(state.get("best_fidelity")), "", "kpi-best"),
            _kpi(
                "property score",
                pct(report.get("property_score_percent")),
                "of writable properties equal",
                "kpi-property",
            ),
            _kpi("iteration", str(state.get("iteration", 0)), "", "kpi-iteration"),
            _kpi("consecutive successes", str(state.get("consecutive_successes", 0)), streak_sub, "kpi-streak"),
            _kpi(
                "matched",
                "n/a" if matched is None else f"{matched} / {report.get('source_total')}",
                f"{report.get('preexisting_target', 0) or 0} pre-existing target resources not counted",
                "kpi-matched",
            ),
        ]
    )
    dag_link = f'<a target="_top" href="{esc(ui_base)}/dags/{esc(seg(dag_id))}/runs">all runs of {esc(dag_id)}</a>'
    body = (
        f'<div class="crumbs"><a href="{esc(app_base)}/">campaigns</a> / {esc(campaign_id)}</div>'
        f'<h1 id="campaign-title">{esc(campaign_id)} {_badge(state.get("status"))}</h1>'
        f'<div class="muted"><span class="mono">{esc(state.get("source_subscription"))}</span> &rarr; '
        f'<span class="mono">{esc(state.get("target_subscription"))}</span> &middot; started '
        f"{esc(state.get('started_at'))} &middot; {dag_link}</div>"
        f'<div class="kpis">{kpis}</div>'
        f'<section class="card"><h2>Fidelity per iteration</h2>{render_chart(state.get("history") or [], target)}'
        f"{LEGEND}</section>"
        f'<section class="card" id="drift-history"><h2>Drift since the last converged state</h2>'
        f"{drift_table(state.get('drift') or {}, ui_base, campaign_id)}</section>"
        f'<section class="card"><h2>Iterations</h2>{_history_table(state, ui_base, highlight_run)}</section>'
        f'<section class="card"><h2>Per resource type</h2>{_per_type_table(report)}</section>'
        f'<section class="card"><h2>Unmatched source resources</h2>{_unmatched_table(report)}</section>'
        f'<section class="card"><h2>Last apply</h2>{_apply_section(state.get("last_apply"))}</section>'
        f'<p class="muted">Read-only view of the Airflow Variable <span class="mono">'
        f"tenant_replication__{esc(campaign_id)}</span>; JSON at "
        f'<a href="{esc(app_base)}/api/campaigns/{esc(seg(campaign_id))}">api/campaigns/{esc(campaign_id)}</a>.</p>'
    )
    refresh = 30 if state.get("status") == "running" else None
    return _document(f"campaign {campaign_id}", body, refresh)


def campaign_summary(state: dict[str, Any]) -> dict[str, Any]:
    """The list row (also the JSON list entry)."""
    keys = (
        "campaign_id",
        "status",
        "source_subscription",
        "target_subscription",
        "iteration",
        "consecutive_successes",
        "last_fidelity",
        "best_fidelity",
        "started_at",
        "dag_id",
    )
    return {k: state.get(k) for k in keys}


def render_campaign_list(states: list[dict[str, Any]], *, app_base: str = "/tenant-replicator") -> str:
    rows = []
    for state in sorted(states, key=lambda s: str(s.get("started_at") or ""), reverse=True):
        s = campaign_summary(state)
        rows.append(
            f'<tr data-campaign="{esc(s["campaign_id"])}"><td><a href="'
            f'{esc(campaign_href(app_base, s["campaign_id"]))}">{esc(s["campaign_id"])}</a></td>'
            f"<td>{_badge(s['status'])}</td><td class='num'>{esc(pct(s['last_fidelity']))}</td>"
            f"<td class='num'>{esc(pct(s['best_fidelity']))}</td><td class='num'>{esc(s['iteration'])}</td>"
            f"<td class='num'>{esc(s['consecutive_successes'])}</td>"
            f"<td class='mono'>{esc(s['source_subscription'])} &rarr; {esc(s['target_subscription'])}</td>"
            f"<td>{esc(s['started_at'])}</td></tr>"
        )
    table = (
        '<table id="campaigns"><thead><tr><th>campaign</th><th>status</th><th class="num">fidelity</th>'
        '<th class="num">best</th><th class="num">iteration</th><th class="num">streak</th>'
        "<th>source &rarr; target</th>"
        f"<th>started</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        if rows
        else '<p class="muted" id="no-campaigns">No campaign yet: trigger the <span class="mono">tenant_replication'
        "</span> DAG.</p>"
    )
    body = f'<h1>Replication campaigns</h1><section class="card">{table}</section>'
    return _document("replication campaigns", body, 30 if any(s.get("status") == "running" for s in states) else None)


def render_message(title: str, message: str, *, app_base: str = "/tenant-replicator", link: str = "") -> str:
    """Small page for 404 / 401 / errors; `title` and `message` are escaped here."""
    extra = f'<p><a href="{esc(link)}" target="_top">log in</a></p>' if link else ""
    body = (
        f'<div class="crumbs"><a href="{esc(app_base)}/">campaigns</a></div><h1>{esc(title)}</h1>'
        f'<section class="card"><p id="message">{esc(message)}</p>{extra}</section>'
    )
    return _document(title, body)


def render_not_found(campaign_id: str, *, app_base: str = "/tenant-replicator") -> str:
    return render_message(
        "campaign not found",
        f"There is no campaign {campaign_id!r} (no Variable tenant_replication__{campaign_id}).",
        app_base=app_base,
    )
