import sqlite3
from pathlib import Path

PATH = Path(__file__).parent.parent / ".state" / "app.db"
PATH.parent.mkdir(exist_ok=True)
with sqlite3.connect(PATH) as setup:
    setup.execute("CREATE TABLE IF NOT EXISTS users (name TEXT UNIQUE)")
setup.close()


def add_user(name):
    connection = sqlite3.connect(PATH)
    with connection:
        connection.execute("INSERT INTO users VALUES (?)", (name,))
    connection.close()
