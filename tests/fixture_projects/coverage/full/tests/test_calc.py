import subprocess
import sys
from pathlib import Path

import calc


def test_negative():
    """Negative numbers take the first branch."""
    assert calc.sign(-3) == -1


def test_positive():
    """Other numbers take the second branch."""
    assert calc.sign(3) == 1


def test_in_subprocess():
    """Starts a Python child, so an inherited outer measurement would reach it."""
    code = "import calc; assert calc.sign(2) == 1"
    subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[1], check=True)
