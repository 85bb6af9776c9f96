"""``python -m flakehound`` and ``flakehound``: ``action`` goes to the Action's shell, the rest to the CLI's.

The two shells never import each other; this dispatcher, above both, is the one place that knows both.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from flakehound import action, cli

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``flakehound ARGV``; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["action"]:
        return action.main(os.environ, sys.stdout)
    return cli.main(args)


if __name__ == "__main__":
    raise SystemExit(main())
