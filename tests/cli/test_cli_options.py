"""The shared options: accepted before or after the verb, a verb's own option of the same name kept."""

from __future__ import annotations

import pytest
import typer
from ensemw2s.cli.main import app
from ensemw2s.cli.options import hoist_shared_options


@pytest.mark.parametrize(
    ("argv", "hoisted"),
    [
        (["list", "-n", "a", "-o", "name"], ["-n", "a", "-o", "name", "list"]),
        (["-A", "list", "-owide"], ["-A", "-owide", "list"]),
        (["get", "x", "--namespace=a", "--context", "c"], ["--namespace=a", "--context", "c", "get", "x"]),
        (["logs", "x", "-s", "weak-s1-r0", "-f", "-n", "a"], ["-n", "a", "logs", "x", "-s", "weak-s1-r0", "-f"]),
        (["--kubeconfig", "k", "status", "--", "-n"], ["--kubeconfig", "k", "status", "--", "-n"]),
        (["not-a-verb", "-n", "a"], ["not-a-verb", "-n", "a"]),
        ([], []),
    ],
)
def test_shared_options_are_moved_before_the_verb(argv: list[str], hoisted: list[str]) -> None:
    assert hoist_shared_options(app, argv) == hoisted


def test_a_verb_that_defines_the_option_keeps_it() -> None:
    own = typer.Typer()

    @own.callback()
    def root(namespace: str = typer.Option("default", "--namespace", "-n")) -> None: ...

    @own.command()
    def serve(namespace: str = typer.Option("x", "--namespace", "-n"), port: int = 1) -> None: ...

    @own.command()
    def other() -> None: ...

    assert hoist_shared_options(own, ["serve", "-n", "a", "-o", "json"]) == ["-o", "json", "serve", "-n", "a"]
