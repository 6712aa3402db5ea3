"""`tenant-replicator` command. Each subcommand lives in its own module, registered in COMMANDS.

A command module provides `configure(parser)` (add its arguments) and `run(args) -> int`;
`sim` passes its arguments straight through to the simulator's own parser.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help). Add a command by adding a line here.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("tenant_replicator.commands.demo", "run the replication loop on the embedded default to its objective"),
    "scan": ("tenant_replicator.commands.scan", "scan one subscription into the graph"),
    "rehearse": ("tenant_replicator.commands.rehearse", "dry-run an ARM export against the simulator, print fidelity"),
    "generate": ("tenant_replicator.commands.generate", "azapi Terraform for a subscription (graph or ARM JSON)"),
    "campaigns": ("tenant_replicator.commands.campaigns", "configured campaigns and their state (list, show, pools)"),
    "doctor": ("tenant_replicator.commands.doctor", "check terraform, provider, graph, Slack and Azure access"),
}
PASS_THROUGH = {"sim": ("tenant_replicator.sim.server", "serve the ARM simulator (`tenant-replicator sim --help`)")}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in PASS_THROUGH:
        importlib.import_module(PASS_THROUGH[argv[0]][0]).main(argv[1:])
        return 0
    parser = argparse.ArgumentParser(prog="tenant-replicator", description="Replicate an Azure subscription.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, help_text) in PASS_THROUGH.items():
        sub.add_parser(name, help=help_text, add_help=False)
    for name, (module, help_text) in COMMANDS.items():
        importlib.import_module(module).configure(sub.add_parser(name, help=help_text, description=help_text))
    args = parser.parse_args(argv)
    return int(importlib.import_module(COMMANDS[args.command][0]).run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
