"""ARM simulator: a loopback HTTPS stand-in for Azure Resource Manager with seeded tenants.

An independent oracle, like Azure itself: nothing here imports the rest of `tenant_replicator`, so
ID parsing, type casing and api-version rules are implemented twice and cross-check each other.
Entry point: `python -m tenant_replicator.sim.server` (see `server.main`).

Modules: `server` (HTTP plumbing, hooks, counters), `arm` (ARM semantics), `wire` (request/response
values), `paths` (routes), `model`/`store` (state, journal), `registry` (types, api-versions),
`readonly` (server-set fields), `lro` (long-running operations), `links` (linked-ID validation),
`authz` (directory, role assignments), `vaults` (soft delete), `faults` (seeded fault injection),
`throttle` (ARM token buckets), `identity` (token endpoint), `resourcegraph` (ARG endpoint),
`seed` (the Contoso tenant) and `generator` (seed-410, enterprise-4466, --size N).
"""
