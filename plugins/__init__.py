"""Airflow layer of tenant-replicator: operators, sensors and provider info (thin over the library)."""
