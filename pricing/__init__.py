"""Price catalogs (YAML, one file per provider), read only through planner.catalog."""
