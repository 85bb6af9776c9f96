from pathlib import Path

ROOT = Path(__file__).parent.parent

(ROOT / ".state").mkdir(exist_ok=True)
(ROOT / ".state" / "app.db").write_text("users\n")
with (ROOT / "data" / "imports.log").open("a") as log:
    log.write("imported\n")
