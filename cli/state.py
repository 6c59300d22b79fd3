"""Shared options, parsed once by the root callback and handed to every command."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Console

from .output import OutputFormat, Rows, render


@dataclass
class State:
    output: OutputFormat = OutputFormat.TABLE
    namespace: str = "default"
    kubeconfig: str | None = None
    context: str | None = None
    err: Console = field(default_factory=lambda: Console(stderr=True))

    def emit(self, data: Rows) -> None:
        """Data to stdout, in the chosen format."""
        print(render(data, self.output))
