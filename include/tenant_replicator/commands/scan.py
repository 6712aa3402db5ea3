"""`tenant-replicator scan SUBSCRIPTION`: one subscription into the configured graph, report as JSON."""

from __future__ import annotations

import argparse
import json
import sys
import uuid


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("subscription", help="subscription ID to scan (read only)")


def run(args: argparse.Namespace) -> int:
    from tenant_replicator.iteration import scan
    from tenant_replicator.settings import load_settings

    report = scan(load_settings(), args.subscription, f"cli-{uuid.uuid4().hex[:8]}")
    json.dump(report, sys.stdout, indent=1)
    print()
    return 0 if report["complete"] else 2
