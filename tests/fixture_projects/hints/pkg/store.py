import sqlite3


def connect(path):
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE IF NOT EXISTS users (email TEXT UNIQUE)")
    return connection


def sign_up(connection, email):
    connection.execute("INSERT INTO users (email) VALUES (?)", (email,))  # planted bug: not idempotent
