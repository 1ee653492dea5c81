"""Deploy bundles: plan dict → template context (pure) → {path: text} → one writer (bundle.write_bundle)."""
from planner.render.bundle import check_out_dir, render_bundle, write_bundle
from planner.render.context import build_context
from planner.render.wheel import build_wheel, read_wheel

__all__ = ["build_context", "build_wheel", "check_out_dir", "read_wheel", "render_bundle", "write_bundle"]
