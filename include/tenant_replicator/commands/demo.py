"""`tenant-replicator demo`."""

from __future__ import annotations

import argparse
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workdir", type=Path, default=Path(".work/demo"))
    parser.add_argument("--keep", action="store_true", help="leave the stack and UI running afterwards")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for the chain to end")


def run(args: argparse.Namespace) -> int:
    from tenant_replicator.demo import run_demo

    return run_demo(args.workdir.resolve(), keep=args.keep, timeout=args.timeout)
