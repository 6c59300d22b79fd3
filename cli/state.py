"""Shared options, parsed once by the root callback and handed to every command."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

from .output import OutputFormat, Rows, render


@dataclass
class State:
    output: OutputFormat = OutputFormat.TABLE
    namespace: str | None = None
    """``-n``; None: the kubeconfig context's namespace on a cluster, the manifest's for a file."""
    all_namespaces: bool = False
    kubeconfig: str | None = None
    context: str | None = None
    on_command_line: frozenset[str] = frozenset()
    """The shared options spelled on the command line (``--kubeconfig``), not from the environment."""
    err: Console = field(default_factory=lambda: Console(stderr=True))

    def emit(self, data: Rows) -> None:
        """Data to stdout, in the chosen format."""
        print(render(data, self.output))

    def done(self, name: str, what: str, body: Any = None) -> None:
        """``ensemw2sexperiment.ensemw2s.io/NAME <what>`` (kubectl's line); ``-o name`` the name alone;
        ``-o json|yaml`` the object (when there is one)."""
        from .experiment import object_name

        if self.output in (OutputFormat.JSON, OutputFormat.YAML) and body is not None:
            print(render(Rows(columns=[], rows=[], raw=body), self.output))
        elif self.output is OutputFormat.NAME:
            print(object_name(name))
        else:
            print(f"{object_name(name)} {what}")

    def warn(self, message: str) -> None:
        """One ``warning:`` line on stderr."""
        self.err.print(f"warning: {message}", markup=False, highlight=False, soft_wrap=True)

    def note_unused_cluster_options(self, verb: str) -> None:
        """An offline verb given ``--kubeconfig``/``--context``/``-A``: say they are not used, once."""
        unused = sorted(self.on_command_line & {"--kubeconfig", "--context", "--all-namespaces"})
        if unused:
            self.warn(f"{', '.join(unused)}: not used by `w2sctl {verb}`, which does not contact a cluster")
