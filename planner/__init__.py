"""implan: cost planner for chat backends."""

__version__ = "0.1.0"
