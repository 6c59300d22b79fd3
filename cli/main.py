"""``w2sctl``: the root only composes command groups and shared options.

Heavy imports (torch, kubernetes) happen inside commands, so ``w2sctl --help`` stays fast.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from ensemw2s.spec import SpecError

from . import experiments, local, logs, metrics, validate, version, wait
from .errors import CliError, ExitCode
from .options import SHARED_OPTIONS, hoist_shared_options
from .output import OutputFormat
from .state import State

app = typer.Typer(
    name="w2sctl",
    help="Run and watch EnsemW2S weak-to-strong experiments, locally or on Kubernetes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def root(
    ctx: typer.Context,
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", help="Output format (table, wide, json, yaml, name).")
    ] = OutputFormat.TABLE,
    namespace: Annotated[
        str | None,
        typer.Option("--namespace", "-n", help="Namespace (default: the kubeconfig context's, or the file's)."),
    ] = None,
    all_namespaces: Annotated[
        bool, typer.Option("--all-namespaces", "-A", help="Every namespace (list, status, metrics).")
    ] = False,
    kubeconfig: Annotated[
        str | None, typer.Option("--kubeconfig", envvar="KUBECONFIG", help="Kubeconfig file.")
    ] = None,
    context: Annotated[str | None, typer.Option("--context", help="Kubeconfig context.")] = None,
) -> None:
    """Shared options: accepted before or after the verb (see :mod:`.options`)."""
    spelled = frozenset(o.long for o in SHARED_OPTIONS if _from_command_line(ctx, o.long.lstrip("-").replace("-", "_")))
    ctx.obj = State(
        output=output,
        namespace=namespace,
        all_namespaces=all_namespaces,
        kubeconfig=kubeconfig or None,
        context=context,
        on_command_line=spelled,
    )


def _from_command_line(ctx: typer.Context, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    return source is not None and source.name == "COMMANDLINE"


local.register(app)
validate.register(app)
experiments.register(app)
logs.register(app)
wait.register(app)
version.register(app)
metrics.register(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point: maps known errors to one ``Error:`` line and the documented exit codes."""
    debug = bool(os.environ.get("W2SCTL_DEBUG"))
    try:
        app(args=hoist_shared_options(app, sys.argv[1:] if argv is None else argv), prog_name="w2sctl")
    except SystemExit as exc:  # typer/click exit: help, usage errors (2)
        return exc.code if isinstance(exc.code, int) else int(ExitCode.ERROR)
    except CliError as exc:
        if debug:
            raise
        print(f"Error: {exc}", file=sys.stderr)
        return int(exc.code)
    except SpecError as exc:
        if debug:
            raise
        _print_error(str(exc))
        return int(ExitCode.ERROR)
    except KeyboardInterrupt:
        print("Error: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            raise
        if getattr(type(exc), "permanent", False) is True:  # bad data or model (DatasetError, ModelError): worded
            _print_error(str(exc) or type(exc).__name__)
            return int(ExitCode.ERROR)
        print(f"Error: {type(exc).__name__}: {exc} (set W2SCTL_DEBUG=1 for a traceback)", file=sys.stderr)
        return int(ExitCode.ERROR)
    return int(ExitCode.OK)


def _print_error(message: str) -> None:
    """One ``Error:`` line per problem, the later ones indented under the first."""
    first, *rest = message.splitlines() or [message]
    print(f"Error: {first}", file=sys.stderr)
    for line in rest:
        print(f"       {line}", file=sys.stderr)


def entrypoint() -> None:
    sys.exit(main())
