"""`tenant-replicator doctor [--source SUB] [--target SUB] [--json]`: what this environment lacks.

Exit code 1 when a required check is MISSING (terraform, provider, graph, Azure identity/token, and
source/target access when given); Slack is optional. `--json` prints the same checks as one document.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", help="source subscription ID: check it is readable")
    parser.add_argument("--target", help="target subscription ID: check it is writable (without writing)")
    parser.add_argument("--slack-conn-id", default="tenant_replicator_slack", help="Slack connection to look for")
    parser.add_argument("--no-azure", action="store_true", help="skip the Azure identity and access checks")
    parser.add_argument("--terraform", default="terraform", help="terraform binary (default: from PATH)")
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")


def run(args: argparse.Namespace) -> int:
    from tenant_replicator import doctor
    from tenant_replicator.settings import ConfigurationError, load_settings

    try:
        settings = load_settings()
    except ConfigurationError as error:
        checks = [doctor.Check("settings", doctor.MISSING, str(error), "fix the variable (see .env.example)")]
    else:
        with _stdout_to_stderr():  # Airflow's and azure's log lines must not corrupt the report (--json)
            logging.getLogger("azure").setLevel(logging.WARNING)
            checks = doctor.run_checks(
                settings,
                source=args.source,
                target=args.target,
                slack_conn_id=args.slack_conn_id,
                azure=not args.no_azure,
                binary=args.terraform,
            )
    if args.json:
        json.dump(doctor.as_json(checks), sys.stdout, indent=1)
        print()
    else:
        print(doctor.table(checks))
    return doctor.exit_code(checks)


class _stdout_to_stderr:  # noqa: N801 - used as a context manager
    """Point file descriptor 1 at stderr while the checks run (libraries may hold sys.stdout's fd)."""

    def __enter__(self) -> None:
        sys.stdout.flush()
        self._saved = os.dup(1)
        os.dup2(2, 1)

    def __exit__(self, *exc: object) -> None:
        sys.stdout.flush()
        os.dup2(self._saved, 1)
        os.close(self._saved)
