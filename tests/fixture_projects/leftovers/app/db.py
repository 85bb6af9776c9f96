import sqlite3
from pathlib import Path

#: The project's development database, checked in with an empty users table.
PATH = Path(__file__).parent.parent / ".state" / "app.db"


def add_user(name):
    connection = sqlite3.connect(PATH)
    with connection:
        connection.execute("INSERT INTO users VALUES (?)", (name,))
    connection.close()
