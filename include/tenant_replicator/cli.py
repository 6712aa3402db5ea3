"""`tenant-replicator` command: simulator, demo and the library's steps by hand."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tenant-replicator", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("sim", help="serve the ARM simulator (see `tenant-replicator sim --help`)", add_help=False)
    demo = commands.add_parser("demo", help="run the replication loop on the embedded default to its objective")
    demo.add_argument("--workdir", type=Path, default=Path(".work/demo"))
    demo.add_argument("--keep", action="store_true", help="leave the stack and UI running afterwards")
    demo.add_argument("--timeout", type=float, default=900)
    scan = commands.add_parser("scan", help="scan one subscription into the graph")
    scan.add_argument("subscription")
    args, rest = parser.parse_known_args(argv)

    if args.command == "sim":
        from tenant_replicator.sim.server import main as sim_main

        sim_main(rest)
        return 0
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "demo":
        from tenant_replicator.demo import run_demo

        return run_demo(args.workdir.resolve(), keep=args.keep, timeout=args.timeout)
    if args.command == "scan":
        import uuid

        from tenant_replicator.iteration import scan as scan_step
        from tenant_replicator.settings import load_settings

        report = scan_step(load_settings(), args.subscription, f"cli-{uuid.uuid4().hex[:8]}")
        json.dump(report, sys.stdout, indent=1)
        print()
        return 0 if report["complete"] else 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
