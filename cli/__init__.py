"""``w2sctl``: the command line (typer + rich). Nothing imports it; its entry point is ``main``."""

from .main import main

__all__ = ["main"]
