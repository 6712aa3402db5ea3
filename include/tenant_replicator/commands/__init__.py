"""Subcommands of `tenant-replicator` (see cli.COMMANDS)."""
