"""``python -m ensemw2s.trainer``: run one stage (what a stage Job's container runs) or all of them.

    python -m ensemw2s.trainer prepare --seed 42 --spec experiment.yaml --store ./runs
    python -m ensemw2s.trainer weak --seed 42 --round 0          # spec and store from the environment
    python -m ensemw2s.trainer all --spec experiment.yaml --store ./runs
    python -m ensemw2s.trainer clean                              # delete the experiment's artifacts

Exit codes: 0 done (or already done), 1 the stage failed, 2 bad spec or arguments.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ensemw2s.spec import (
    ENV_STORE,
    ENV_TERMINATION_LOG,
    SpecError,
    StageKind,
    invocation_from_environment,
    load_manifest,
    validate_spec,
)
from ensemw2s.spec.contract import CLEAN_COMMAND, stage_from_parts

EXIT_FAILED = 1
EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ensemw2s.trainer", description=__doc__.split("\n\n")[0])
    parser.add_argument("stage", choices=[*(k.value for k in StageKind), "all", CLEAN_COMMAND])
    parser.add_argument("--seed", type=int)
    parser.add_argument("--round", type=int)
    parser.add_argument("--variant")
    parser.add_argument("--spec", help="experiment YAML (default: the manifest in $W2S_MANIFEST_JSON)")
    parser.add_argument("--store", help=f"artifact store root: a path or fsspec URL (default: ${ENV_STORE})")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from .errors import TrainerError
    from .runner import run_experiment
    from .runtime import configure_runtime
    from .stages.run import run_stage, write_termination_message

    try:
        if args.spec:
            manifest = load_manifest(args.spec)
            store = args.store or os.environ.get(ENV_STORE) or "runs"
            termination_log = os.environ.get(ENV_TERMINATION_LOG)
        else:
            invocation = invocation_from_environment(stage_from_parts("report", None, None, None), os.environ)
            manifest, termination_log = invocation.manifest, invocation.termination_log
            store = args.store or invocation.store
        if args.stage == CLEAN_COMMAND:
            from .stages.run import open_store

            experiment = open_store(manifest, store)
            experiment.remove()
            print(f"deleted {experiment.url}", file=sys.stderr)
            return 0
        validate_spec(manifest.spec)
        if args.stage == "all":
            run_experiment(manifest, store)
            return 0
        stage = stage_from_parts(args.stage, args.seed, args.round, args.variant)
        configure_runtime(manifest.spec.runtime.threads)
        summary = run_stage(manifest, stage, store)
        write_termination_message(termination_log, summary)
        print(summary.model_dump_json(by_alias=True))
        return 0
    except SpecError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except TrainerError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
