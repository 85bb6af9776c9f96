"""User accounts in a sqlite file under the project, as small apps keep them."""

import sqlite3
from pathlib import Path

DATABASE = Path(__file__).resolve().parents[1] / ".state" / "app.db"


def reset():
    DATABASE.unlink(missing_ok=True)


def connect():
    DATABASE.parent.mkdir(exist_ok=True)
    connection = sqlite3.connect(DATABASE)
    connection.execute("CREATE TABLE IF NOT EXISTS users (email TEXT UNIQUE)")
    return connection


def import_users(connection, emails):
    connection.executemany("INSERT OR IGNORE INTO users (email) VALUES (?)", [(email,) for email in emails])
    connection.commit()


def sign_up(connection, email):
    connection.execute("INSERT INTO users (email) VALUES (?)", (email,))
    connection.commit()


def remove(connection, email):
    connection.execute("DELETE FROM users WHERE email = ?", (email,))
    connection.commit()


def emails(connection):
    return [row[0] for row in connection.execute("SELECT email FROM users ORDER BY email").fetchall()]
