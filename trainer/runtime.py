"""Process-wide runtime settings: CPU threads, deterministic seeds."""

from __future__ import annotations

import os


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def configure_runtime(threads: int | None) -> int:
    """Set torch's intra-op threads deliberately (default: the cores this process may use).

    Also quiets transformers' load-time notices (e.g. "newly initialized" classifier heads, which we
    add on purpose); warnings and errors still show.
    """
    import torch
    import transformers

    transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    transformers.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    count = threads or available_cores()
    torch.set_num_threads(count)
    return count
