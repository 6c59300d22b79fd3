"""Process-wide runtime settings of a trainer process: CPU threads, library verbosity, the garbage collector."""

from __future__ import annotations

import gc

_frozen = False


def configure_runtime(threads: int | None) -> int:
    """Set torch's intra-op threads deliberately (default: the cores this process may use, by the one
    cgroup- and rank-aware rule of :func:`ensemw2s.trainer.training.runtime.set_threads`).

    Also quiets transformers' load-time notices (e.g. "newly initialized" classifier heads, which we
    add on purpose); warnings and errors still show. And it freezes the objects alive after the imports
    (``gc.freeze``): torch, transformers and accelerate leave ~400k long-lived objects that every full
    collection would rescan, 0.25 s each on a CPU; accelerate's ``free_memory`` runs one per training
    run (a weak stage trains 1 + k fold models), and frozen it takes under a millisecond. Frozen once
    per process, after the first call's imports.
    """
    global _frozen
    import transformers

    from .training.runtime import set_threads

    transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    transformers.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    count = set_threads(threads)
    if not _frozen:
        gc.collect()
        gc.freeze()
        _frozen = True
    return count
