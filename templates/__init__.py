"""Jinja2 templates for deploy bundles, rendered only through planner.render."""
