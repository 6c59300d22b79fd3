"""The shared options (kubectl's): defined once, accepted before or after the verb.

``-n/--namespace``, ``-A/--all-namespaces``, ``-o/--output``, ``--kubeconfig`` and ``--context`` are
the root callback's options (:mod:`.main`). kubectl accepts them anywhere (``kubectl get pods -n x``);
so does ``w2sctl``: :func:`hoist_shared_options` moves them from after the verb to before it, so that
one parser (the root's) reads them and every command receives them in :class:`~.state.State`. A
verb that defines an option of the same name (``metrics serve -n`` if it had its own) keeps it. An
argument after ``--`` is never moved.

Why argv and not a parameter on every command: typer has no option groups, and repeating five
parameters on twenty commands would be twenty definitions; click's parser internals (which typer now
vendors) are not a public API to hook into.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import typer


@dataclass(frozen=True)
class SharedOption:
    """One shared option: its spellings, and whether it takes a value."""

    long: str
    short: str | None
    takes_value: bool

    @property
    def spellings(self) -> tuple[str, ...]:
        return (self.long,) if self.short is None else (self.long, self.short)


NAMESPACE = SharedOption("--namespace", "-n", True)
ALL_NAMESPACES = SharedOption("--all-namespaces", "-A", False)
OUTPUT = SharedOption("--output", "-o", True)
KUBECONFIG = SharedOption("--kubeconfig", None, True)
CONTEXT = SharedOption("--context", None, True)
SHARED_OPTIONS = (NAMESPACE, ALL_NAMESPACES, OUTPUT, KUBECONFIG, CONTEXT)


def _match(token: str, option: SharedOption) -> tuple[bool, bool]:
    """(matches, value attached): ``--namespace``, ``--namespace=x``, ``-n``, ``-nx``."""
    if token == option.long or token == option.short:
        return True, False
    if option.takes_value and token.startswith(option.long + "="):
        return True, True
    if option.takes_value and option.short and token.startswith(option.short) and len(token) > len(option.short):
        return not token.startswith("--"), True
    return False, False


def _own_options(app: typer.Typer, path: Sequence[str]) -> set[str]:
    """Option spellings the command at ``path`` (``["logs"]``, ``["metrics", "serve"]``) defines itself."""
    command = typer.main.get_command(app)
    for name in path:
        commands = getattr(command, "commands", None)
        if not isinstance(commands, dict) or name not in commands:
            break
        command = commands[name]
    own: set[str] = set()
    for param in getattr(command, "params", []):
        own.update(getattr(param, "opts", ()))
        own.update(getattr(param, "secondary_opts", ()))
    return own


def _verb_path(app: typer.Typer, argv: Sequence[str]) -> tuple[int, list[str]]:
    """Index of the verb in ``argv`` (after the root's own options) and the command path from there."""
    index = 0
    while index < len(argv) and argv[index].startswith("-") and argv[index] != "--":
        token = argv[index]
        separate_value = any(o.takes_value and _match(token, o) == (True, False) for o in SHARED_OPTIONS)
        index += 2 if separate_value else 1
    command = typer.main.get_command(app)
    path: list[str] = []
    position = index
    while position < len(argv):
        commands = getattr(command, "commands", None)
        if not isinstance(commands, dict) or argv[position] not in commands:
            break
        command = commands[argv[position]]
        path.append(argv[position])
        position += 1
    return index, path


def hoist_shared_options(app: typer.Typer, argv: Sequence[str]) -> list[str]:
    """``argv`` with the shared options given after the verb moved in front of it (see the module doc)."""
    argv = list(argv)
    verb, path = _verb_path(app, argv)
    if not path:
        return argv
    own = _own_options(app, path)
    wanted = [o for o in SHARED_OPTIONS if not own.intersection(o.spellings)]
    hoisted: list[str] = []
    rest: list[str] = []
    tail = argv[verb:]
    index = 0
    while index < len(tail):
        token = tail[index]
        if token == "--":
            rest += tail[index:]
            break
        option = next((o for o in wanted if _match(token, o)[0]), None)
        if option is None:
            rest.append(token)
            index += 1
            continue
        _, attached = _match(token, option)
        if option.takes_value and not attached and index + 1 < len(tail):
            hoisted += tail[index : index + 2]
            index += 2
        else:
            hoisted.append(token)
            index += 1
    return argv[:verb] + hoisted + rest
