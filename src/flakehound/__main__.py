"""``python -m flakehound``."""

from flakehound.cli import main

raise SystemExit(main())
