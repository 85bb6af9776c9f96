"""``python -m flakehound`` and ``flakehound``: ``action`` goes to the Action's shell, the rest to the CLI's.

The two shells never import each other; this dispatcher, above both, is the one place that knows both.
It imports the Action's shell only for ``action``: that shell brings PyGithub and requests (about 20 MB
and a third of a second), which the local commands never use.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from flakehound import cli

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``flakehound ARGV``; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["action"]:
        from flakehound import action  # here, not above: only the Action pays for PyGithub

        return action.main(os.environ, sys.stdout)
    return cli.main(args)


if __name__ == "__main__":
    raise SystemExit(main())
