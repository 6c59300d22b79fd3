"""``python -m ensemw2s.trainer``: run one stage (what a stage Job's container runs) or all of them.

    python -m ensemw2s.trainer prepare --seed 42 --spec experiment.yaml --store ./runs
    python -m ensemw2s.trainer weak --seed 42 --round 0          # spec and store from the environment
    python -m ensemw2s.trainer weak --seed 42 --round 0 --redo   # discard its output and run it again
    python -m ensemw2s.trainer all --spec experiment.yaml --store ./runs [--redo weak-s42-r0]
    python -m ensemw2s.trainer clean                              # delete the experiment's artifacts

The command line and environment are decoded by the stage contract (``ensemw2s.spec.contract``).
Exit codes (``ExitCode``): 0 done (or already done); 1 a failure a retry may fix (I/O, memory, a lost
node, a bug); 2 a failure no retry fixes (bad spec, arguments, data or model).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from ensemw2s.spec import ExitCode, SpecError, TrainerInvocation, decode_invocation, validate_spec
from ensemw2s.spec.contract import ALL_COMMAND, CLEAN_COMMAND


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command ``argv`` asks for; the exit code is an :class:`~ensemw2s.spec.ExitCode`.

    A known failure prints one ``Error: ...`` line (the spec's message formula); an unexpected one (a bug)
    its traceback, and exits with ``TRANSIENT``.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return ExitCode.OK
    from .errors import TrainerError, exit_code, is_permanent

    try:
        return _run(decode_invocation(args, os.environ))
    except Exception as exc:
        if not isinstance(exc, (TrainerError, SpecError)) and not is_permanent(exc):
            raise
        print(f"Error: {exc}", file=sys.stderr)
        return exit_code(exc)


def _run(invocation: TrainerInvocation) -> int:
    from .metrics import serve_stage_metrics
    from .runner import run_experiment
    from .runtime import configure_runtime
    from .stages.run import open_store, process_rank, run_stage, write_termination_message

    arguments, manifest = invocation.arguments, invocation.manifest
    if arguments.command == CLEAN_COMMAND:
        experiment = open_store(manifest, invocation.store)
        experiment.remove()
        print(f"deleted {experiment.url}", file=sys.stderr)
        return ExitCode.OK
    validate_spec(manifest.spec)
    if arguments.command == ALL_COMMAND:
        run_experiment(manifest, invocation.store, redo=arguments.redo)
        return ExitCode.OK
    stage = invocation.stage_invocation()
    configure_runtime(manifest.spec.runtime.threads)
    with serve_stage_metrics(os.environ, manifest, stage.stage, lambda line: print(line, file=sys.stderr)):
        summary = run_stage(manifest, stage.stage, stage.store, redo=stage.redo)
    if process_rank() == 0:  # under torchrun, the rank that published reports the stage, once
        write_termination_message(stage.termination_log, summary)
        print(summary.model_dump_json(by_alias=True))
    return ExitCode.OK


if __name__ == "__main__":
    sys.exit(main())
