"""`tenant-replicator rehearse --from-arm-json DIR`: a dry run of an export against the simulator."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from-arm-json",
        dest="arm_dir",
        type=Path,
        required=True,
        help="directory of ARM GET payloads (*.json: one body, a list, or a {value: [...]} page)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(".work/rehearse"),
        help="simulator, graph and terraform files of this rehearsal",
    )
    parser.add_argument(
        "--principal-map",
        type=Path,
        default=None,
        help="JSON or HCL map of source -> target principal object ids (role assignments)",
    )
    parser.add_argument("--nonce", default="rehearse", help="campaign nonce for globally unique names")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--keep", action="store_true", help="leave the simulator and graph running")


def run(args: argparse.Namespace) -> int:
    from tenant_replicator.iac.principals import load_principal_map
    from tenant_replicator.rehearse import rehearse, render_text, to_json

    try:
        principals = load_principal_map(args.principal_map) if args.principal_map else None
        report = rehearse(args.arm_dir, args.workdir, principal_map=principals, nonce=args.nonce, keep=args.keep)
    except (ValueError, FileNotFoundError) as error:
        print(f"rehearse: {error}", file=sys.stderr)
        return 2
    print(to_json(report) if args.json else render_text(report))
    return 0 if report["ok"] else 1
