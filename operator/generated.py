"""Checked-in files generated from code (the CRD, the RBAC manifests): one way to write them."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parents[1]


def write_generated(
    render: Callable[[], str], relative_file: str | Path, description: str, argv: Sequence[str] | None
) -> None:
    """Write ``render()`` to ``relative_file`` of the source tree (or ``--output``; ``-`` for stdout)."""
    parser = argparse.ArgumentParser(description=description)
    default = SOURCE_ROOT / relative_file
    parser.add_argument("--output", "-o", default=str(default), help=f"file to write, or '-' (default: {default})")
    args = parser.parse_args(argv)
    text = render()
    if args.output == "-":
        print(text, end="")
        return
    target = Path(args.output)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}")
