"""A campaign state shaped like the one the loop's record step writes (see plugins/loop.py)."""

from __future__ import annotations

from typing import Any

HOSTILE = '<script>alert("x")</script>&'


def make_state(history: list[dict[str, Any]] | None = None, **overrides: Any) -> dict[str, Any]:
    if history is None:
        history = [
            {
                "iteration": 1,
                "run_id": "manual__2026-11-25T10:00:00+00:00",
                "success": False,
                "fidelity_percent": 62.5,
                "property_score_percent": 90.0,
                "matched": 5,
                "source_total": 8,
                "reasons": ["2 resource(s) failed to apply"],
                "finished_at": "2026-11-25T10:01:00+00:00",
                "consecutive_successes": 0,
            },
            {
                "iteration": 2,
                "run_id": "manual__2026-11-25T10:02:00+00:00",
                "success": True,
                "fidelity_percent": 87.5,
                "property_score_percent": 97.0,
                "matched": 7,
                "source_total": 8,
                "reasons": [],
                "finished_at": "2026-11-25T10:03:00+00:00",
                "consecutive_successes": 1,
            },
            {
                "iteration": 3,
                "run_id": "manual__2026-11-25T10:04:00+00:00",
                "success": True,
                "fidelity_percent": 100.0,
                "property_score_percent": 99.5,
                "matched": 8,
                "source_total": 8,
                "reasons": [],
                "finished_at": "2026-11-25T10:05:00+00:00",
                "consecutive_successes": 2,
            },
        ]
    state = {
        "campaign_id": "aaaaaaaa-to-bbbbbbbb-12345678",
        "source_subscription": "aaaaaaaa-0000-0000-0000-000000000001",
        "target_subscription": "bbbbbbbb-0000-0000-0000-000000000002",
        "iteration": len(history),
        "consecutive_successes": history[-1]["consecutive_successes"] if history else 0,
        "best_fidelity": max((h["fidelity_percent"] or 0 for h in history), default=None),
        "last_fidelity": history[-1]["fidelity_percent"] if history else None,
        "started_at": "2026-11-25T09:59:00+00:00",
        "status": "running",
        "dag_id": "tenant_replication",
        "history": history,
        "last_report": {
            "overall_percent": 100.0,
            "source_total": 8,
            "matched": 7,
            "property_score_percent": 99.5,
            "per_type": {
                "Microsoft.Network/virtualNetworks": {"source": 3, "matched": 3, "percent": 100.0},
                "Microsoft.Storage/storageAccounts": {"source": 4, "matched": 4, "percent": 100.0},
                "Microsoft.Insights/dataCollectionRules": {"source": 1, "matched": 0, "percent": 0.0},
            },
            "unmatched": [
                {
                    "id": f"/subscriptions/aaaaaaaa-0000-0000-0000-000000000001/resourceGroups/rg-app/providers/"
                    f"Microsoft.Insights/dataCollectionRules/dcr{HOSTILE}",
                    "type": "Microsoft.Insights/dataCollectionRules",
                    "reason": f"failed apply: InvalidPayload {HOSTILE}",
                }
            ],
            "out_of_scope": [],
            "preexisting_target": 4,
            "scan": {"source_complete": True, "target_complete": True},
        },
        "last_apply": {
            "plan": {"add": 2, "change": 0, "destroy": 0},
            "applied": 1,
            "failed": [
                {
                    "address": "azapi_resource.dcr",
                    "summary": f"InvalidPayload: bad stream {HOSTILE}",
                    "arm_code": "InvalidPayload",
                }
            ],
            "failed_count": 1,
            "arm_error_codes": {"InvalidPayload": 1},
            "timed_out": False,
            "ok": False,
            "duration_s": 3.25,
        },
    }
    return state | overrides
