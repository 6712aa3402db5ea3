"""Stand-in ``azure/azapi`` Terraform provider (``tf`` package) that talks to any ARM endpoint.

Run by terraform through ``install.write_cli_config`` (dev_overrides); reads
``TENANT_REPLICATOR_ARM_ENDPOINT``, ``TENANT_REPLICATOR_ARM_CA_FILE`` and optionally
``TENANT_REPLICATOR_ARM_TOKEN`` from its environment.
"""
