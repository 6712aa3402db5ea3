"""The scan of one subscription: get (ARM, or Resource Graph + ARM) -> transform -> load.

No silent loss: every listed resource is either loaded, reported `vanished` (deleted between list
and GET), or listed in `errors` with why. A scan with errors is incomplete, and an incomplete scan
never overwrites a complete one: when the subscription has a complete scan in the graph, the
incomplete scan writes nothing but its record on the Subscription node (`last_scan_complete =
false`), so readers keep the last complete data and fidelity refuses the incomplete one. Only a
complete scan removes nodes it did not see (Cartography-style `scan_id` cleanup).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from tenant_replicator.arm.pacing import Pacer, PacingPolicy, QuotaPacer
from tenant_replicator.graph.store import GraphStore, ensure_indexes
from tenant_replicator.scan import arm_get, collections, resource_graph
from tenant_replicator.scan.arm_get import ApiVersions, Progress, ProgressMeter, error_text
from tenant_replicator.scan.load import finish, load, remove_stale
from tenant_replicator.scan.read import latest_scan
from tenant_replicator.scan.transform import dedupe, group_row, resource_row
from tenant_replicator.settings import Settings

log = logging.getLogger("tenant_replicator.scan")


def log_progress(event: dict[str, Any]) -> None:
    """Default progress sink: one log line per report."""
    log.info(
        "scan %s: %d/%d (%.1f/s), throttled %d, waited %.1fs over %d waits",
        event.get("phase"), event.get("done", 0), event.get("total", 0), event.get("rate_per_s", 0.0),
        event.get("throttled", 0), event.get("waited_s", 0.0), event.get("waits", 0),
    )  # fmt: skip


def _rows_from(
    fetched: list[tuple[dict[str, Any], str]], sub: str, scan_id: str, at: str, errors: list[dict[str, str]]
) -> list[dict[str, Any]]:
    """Transform bodies one by one: a malformed body becomes an error naming it, not a crash."""
    rows = []
    for body, version in fetched:
        try:
            rows.append(resource_row(body, version, sub, scan_id, at))
        except (KeyError, ValueError, TypeError) as exc:
            errors.append({"id": str(body.get("id", "?")), "error": f"malformed resource: {error_text(exc)}"})
    return rows


def _get_arm(
    client: Any, sub: str, page_size: int | None, workers: int, meter_for: Any, scan_id: str, at: str,
    errors: list[dict[str, str]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int, list[str]]:  # fmt: skip
    groups, summaries = arm_get.list_inventory(client, sub, page_size)
    meter = meter_for("get", len(summaries))
    fetched, get_errors, vanished = arm_get.fetch_resources(
        client, summaries, workers, subscription_id=sub, meter=meter
    )
    errors.extend(get_errors)
    rows = _rows_from(fetched, sub, scan_id, at, errors)
    return groups, rows, len(summaries), vanished


def _get_resource_graph(
    client: Any, graph_client: Any, sub: str, workers: int, meter_for: Any, scan_id: str, at: str,
    errors: list[dict[str, str]], stats: dict[str, int],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int, list[str]]:  # fmt: skip
    """ARG pages -> rows as they arrive (bounded memory); the rows ARG cannot stand for come from ARM
    collections (up to 1,000 bodies a read), and one GET each only for what those cannot give."""
    # ARG answers an unknown or unreadable subscription with no rows, not an error: without this
    # ARM read a typo would pass as a complete, empty scan (and clean the real one out of the graph)
    arm_get.get_json(client, f"/subscriptions/{quote(sub)}?api-version={arm_get.LIST_API_VERSION}", "subscription")
    versions = ApiVersions(client, sub)
    groups = [g for page in resource_graph.query_pages(graph_client, sub, resource_graph.groups_query(sub))
              for g in page]  # fmt: skip
    rows: list[dict[str, Any]] = []
    to_get: list[dict[str, Any]] = []
    listed = 0
    meter = meter_for("resource-graph", 0)
    for page in resource_graph.query_pages(graph_client, sub, resource_graph.resources_query(sub)):
        listed += len(page)
        ready: list[tuple[dict[str, Any], str]] = []
        for item in page:
            if resource_graph.needs_arm_get(item):
                to_get.append({"id": item.get("id"), "type": canonical(versions, item)})
                continue
            try:
                ready.append((resource_graph.as_arm_body(item, lambda t: canonical(versions, {"type": t})),
                              versions.for_type(str(item.get("type") or ""))))  # fmt: skip
            except Exception as exc:  # unknown type/provider: say which resource
                errors.append({"id": str(item.get("id", "?")), "error": f"api-version: {error_text(exc)}"})
        rows.extend(_rows_from(ready, sub, scan_id, at, errors))
        meter.total = listed
        meter.step(len(page))
    get_meter = meter_for("get", len(to_get))
    listed_bodies, singles, collection_stats = collections.fetch_by_collections(
        client, versions, to_get, sub, max_workers=min(workers, 4), meter=get_meter
    )
    stats.update(collection_stats, single_gets=len(singles))
    rows.extend(_rows_from(listed_bodies, sub, scan_id, at, errors))
    del listed_bodies
    fetched, get_errors, vanished = arm_get.fetch_resources(
        client, singles, workers, subscription_id=sub, meter=get_meter
    )
    errors.extend(get_errors)
    rows.extend(_rows_from(fetched, sub, scan_id, at, errors))
    return groups, rows, listed, vanished


def canonical(versions: ApiVersions, item: dict[str, Any]) -> str:
    """ARM's casing of a (possibly lower-cased) type, from the providers API; as given if unknown."""
    arm_type = str(item.get("type") or "")
    try:
        return versions.canonical_type(arm_type)
    except Exception:  # noqa: BLE001 - the GET/api-version step reports the provider error
        return arm_type


def scan_subscription(
    settings: Settings,
    store: GraphStore,
    subscription_id: str,
    scan_id: str,
    *,
    client: Any = None,
    max_workers: int = arm_get.DEFAULT_WORKERS,
    page_size: int | None = None,
    use_resource_graph: bool = False,
    progress: Progress | None = log_progress,
    pacer: Pacer | None = None,
    graph_client: Any = None,
) -> dict[str, Any]:
    """Scan one subscription into `store`; returns the scan report (see docs/ARCHITECTURE.md).

    `client` replaces the ResourceManagementClient built from `settings` (then the caller owns its
    pacing); `max_workers` bounds concurrent GETs; `page_size` sets `$top` on ARM listings;
    `use_resource_graph` discovers through Azure Resource Graph; `progress` receives
    `{phase, done, total, rate_per_s, throttled, waits, waited_s}` every few seconds.
    """
    started = time.monotonic()
    scanned_at = datetime.now(UTC).isoformat(timespec="seconds")
    pacer = pacer or Pacer()
    quota = QuotaPacer()
    own_client, own_graph_client = client is None, graph_client is None and use_resource_graph
    if own_client:
        from tenant_replicator.arm.client import resource_client

        client = resource_client(settings, subscription_id, per_retry_policies=[PacingPolicy(pacer)])
    if own_graph_client:
        graph_client = resource_graph.resource_graph_client(settings, quota)

    def throttling() -> dict[str, Any]:
        return {"throttled": pacer.stats.throttled + quota.stats.throttled,
                "waits": pacer.stats.waits + quota.stats.waits,
                "waited_s": round(pacer.stats.waited_s + quota.stats.waited_s, 1)}  # fmt: skip

    def meter_for(phase: str, total: int) -> ProgressMeter:
        return ProgressMeter(phase, total, progress, extra=throttling)

    errors: list[dict[str, str]] = []
    groups: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    listed: int | None = None
    vanished: list[str] = []
    arm_reads: dict[str, int] = {}
    try:
        if use_resource_graph:
            groups, rows, listed, vanished = _get_resource_graph(
                client, graph_client, subscription_id, max_workers, meter_for, scan_id, scanned_at, errors, arm_reads
            )
        else:
            groups, rows, listed, vanished = _get_arm(
                client, subscription_id, page_size, max_workers, meter_for, scan_id, scanned_at, errors
            )
    except Exception as exc:  # nothing trustworthy to load: record why and leave the graph as it was
        listed = None
        errors.append({"id": f"/subscriptions/{subscription_id}",
                       "error": f"list: {arm_get.describe_listing_error(exc, subscription_id)}"})  # fmt: skip
    finally:
        if own_client:
            client.close()
        if own_graph_client:
            graph_client.close()
    rows, duplicates = dedupe(rows)
    if duplicates:
        log.warning("scan %s: %d resources listed twice (IDs differ only in casing), kept once: %s",
                    scan_id, len(duplicates), duplicates[:5])  # fmt: skip
    group_rows, _ = dedupe(group_row(g, subscription_id, scan_id, scanned_at) for g in groups)
    complete = not errors and listed is not None
    ensure_indexes(store)
    previous = latest_scan(store, subscription_id)
    keep_previous = not complete and bool(previous and previous.get("last_complete_scan_id"))
    load_started = time.monotonic()
    counts = load(store, subscription_id, group_rows, rows) if listed is not None and not keep_previous else {}
    load_s = time.monotonic() - load_started
    removed = remove_stale(store, subscription_id, scan_id) if complete else {}
    finish(store, subscription_id, scan_id, complete, len(rows), len(errors))
    report = {
        "subscription_id": subscription_id,
        "scan_id": scan_id,
        "resource_groups": len(group_rows),
        "resources": len(rows),
        "listed": listed or 0,
        "depends_on": counts.get("depends_on", 0),
        "errors": errors,
        "vanished": vanished,
        "duplicates": duplicates,
        "complete": complete,
        "loaded": bool(counts),
        "kept_previous_complete_scan": previous.get("last_complete_scan_id") if keep_previous and previous else None,
        "removed": removed,
        "source": "resource-graph" if use_resource_graph else "arm",
        "arm_collections": arm_reads,
        "requests": pacer.stats.requests + quota.stats.requests,
        "throttling": throttling(),
        "load_s": round(load_s, 3),
        "duration_s": round(time.monotonic() - started, 3),
    }
    log.info(
        "scan %s of %s: %d resources, %d errors, complete=%s in %.1fs (%d requests, %s)",
        scan_id, subscription_id, len(rows), len(errors), complete, report["duration_s"],
        report["requests"], report["throttling"],
    )  # fmt: skip
    return report


def summary(report: dict[str, Any], max_errors: int = 50) -> dict[str, Any]:
    """The report for XCom / the UI: every count, the first `max_errors` errors (the count says how
    many there were), so a 100k-resource scan with many failures cannot bloat the metadata DB."""
    out = {k: v for k, v in report.items() if k not in ("errors", "vanished", "duplicates")}
    out["error_count"] = len(report.get("errors", []))
    out["errors"] = list(report.get("errors", []))[:max_errors]
    out["vanished_count"] = len(report.get("vanished", []))
    out["duplicates"] = list(report.get("duplicates", []))[:max_errors]
    return out
