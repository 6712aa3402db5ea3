"""Alerts leave through the real Slack provider hooks (webhook and bot token) to a loopback capture server."""

from __future__ import annotations

import json
import socket
import sys

import pytest

from tenant_replicator import devstack, notify
from tenant_replicator.slack_capture import read_messages
from tenant_replicator_airflow.notifiers.slack import send_slack


@pytest.fixture()
def capture(tmp_path):
    port = devstack.free_port()
    out = tmp_path / "slack.jsonl"
    service = devstack.Service(
        "slack-capture",
        [sys.executable, "-m", "tenant_replicator.slack_capture", "--port", str(port), "--out", str(out)],
        {"PATH": ""},
        tmp_path / "slack.log",
    ).start()
    devstack.wait_for(lambda: socket.create_connection(("127.0.0.1", port), timeout=1).close() or True, 15, "capture")
    yield port, out
    service.stop()


MESSAGE = notify.task_failure_message("camp", 2, "apply", "AccountKey=abc123 failed", None)


def test_webhook_connection(capture, monkeypatch):
    port, out = capture
    hook = {"conn_type": "slackwebhook", "password": f"http://127.0.0.1:{port}/services/T0/B0/secret-token"}
    monkeypatch.setenv("AIRFLOW_CONN_ALERTS_WEBHOOK", json.dumps(hook))
    assert send_slack("alerts_webhook", MESSAGE) is True
    [sent] = read_messages(out)
    assert sent["text"] == MESSAGE["text"] and "abc123" not in json.dumps(sent)


def test_bot_token_connection_posts_to_its_channel(capture, monkeypatch):
    port, out = capture
    bot = {
        "conn_type": "slack",
        "password": "xoxb-test-token",
        "extra": {"base_url": f"http://127.0.0.1:{port}/api/", "channel": "#dr-replica"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_ALERTS_BOT", json.dumps(bot))
    assert send_slack("alerts_bot", MESSAGE) is True
    [sent] = read_messages(out)
    assert sent["channel"] == "#dr-replica" and sent["text"] == MESSAGE["text"]
    assert "xoxb-test-token" not in json.dumps(sent)


def test_missing_connection_logs_only():
    assert send_slack("no_such_connection", MESSAGE) is False
