"""Slack messages never carry secrets."""

from tenant_replicator import notify


def test_redact_removes_tokens_keys_and_webhook_urls():
    text = (
        "failed: AccountKey=abc123secret; password=hunter2 Bearer eyJhbGciOi.x.y "
        "https://hooks.slack.com/services/T1/B2/XYZ https://sa.blob.core.windows.net/c?sv=1&sig=SIGNATURE xoxb-123-456"
    )
    cleaned = notify.redact(text)
    for secret in ("abc123secret", "hunter2", "eyJhbGciOi", "T1/B2/XYZ", "SIGNATURE", "xoxb-123-456"):
        assert secret not in cleaned
    assert "AccountKey=***" in cleaned


def test_failure_message_is_block_kit_with_run_link_and_redacted_error():
    message = notify.task_failure_message("camp", 3, "apply", "client_secret=s3cr3t boom", "http://ui/run")
    assert "s3cr3t" not in str(message)
    assert message["blocks"][-1]["elements"][0]["url"] == "http://ui/run"
    assert "apply" in message["text"] and "iteration 3" in message["text"]


def test_fidelity_change_lists_incomplete_types():
    report = {
        "matched": 9,
        "source_total": 10,
        "property_score_percent": 99.0,
        "preexisting_target": 3,
        "per_type": {"A/b": {"source": 5, "matched": 5}, "C/d": {"source": 5, "matched": 4}},
    }
    previous = {"A/b": {"source": 5, "matched": 5}, "C/d": {"source": 5, "matched": 2}}
    message = notify.fidelity_change_message("camp", 2, 50.0, 90.0, report, None, previous_per_type=previous)
    assert "50.0 % -> 90.0 %" in message["text"] and "+40.0" in message["text"]
    blocks = str(message["blocks"])
    assert "C/d: 2 -> 4/5" in blocks and "C/d: 4/5" in blocks and "A/b" not in blocks
