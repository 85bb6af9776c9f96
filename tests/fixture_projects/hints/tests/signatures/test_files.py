import tempfile
from pathlib import Path

EXPORT = Path(tempfile.gettempdir()) / "flakehound-sample-export.csv"


def test_export_writes_a_file():
    EXPORT.write_text("id,total\n1,10\n")  # planted: left in the shared temp folder


def test_export_starts_fresh():
    with open(EXPORT, "x") as handle:
        handle.write("id,total\n")
    EXPORT.unlink()
