"""IaC generation: one case-insensitive type registry, azapi emitter, ID rewriting, naming.

Public entry points: ``registry.lookup`` / ``registry.canonical_type`` and
``generate.generate`` / ``generate.write_config``.
"""
