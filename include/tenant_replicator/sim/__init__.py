"""ARM simulator: a loopback HTTPS stand-in for Azure Resource Manager with a seeded tenant.

An independent oracle, like Azure itself: nothing here imports the rest of `tenant_replicator`, so
ID parsing, type casing and api-version rules are implemented twice and cross-check each other.
Entry point: `python -m tenant_replicator.sim.server` (see `server.main`).
"""
