"""IaC generation: one case-insensitive type registry, azapi emitter, ID rewriting, naming.

Public entry points: ``registry.lookup`` / ``registry.canonical_type``, ``generate.generate`` /
``generate.write_config``, ``arm_json.load_arm_dir`` (a directory of ARM GET payloads as input) and
``principals.load_principal_map`` (JSON/HCL source -> target principal map for role assignments).
"""
