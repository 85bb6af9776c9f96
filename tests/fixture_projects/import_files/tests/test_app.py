import json
from pathlib import Path

ROOT = Path(__file__).parent.parent
CACHE = ROOT / "cache" / "warm.json"
CACHE.parent.mkdir(exist_ok=True)
CACHE.write_text(json.dumps({"warm": True}))


def test_reads_database():
    assert (ROOT / ".state" / "app.db").read_text() == "users\n"


def test_reads_cache():
    assert json.loads(CACHE.read_text()) == {"warm": True}


def test_imported_once():
    assert (ROOT / "data" / "imports.log").read_text() == "checked in\nimported\n"


def test_leaves_scratch():
    scratch = ROOT / "scratch.txt"
    assert not scratch.exists()
    scratch.write_text("left behind")
