from app import accounts


def test_import_users():
    connection = accounts.connect()
    accounts.import_users(connection, ["ann@example.com", "bob@example.com"])  # planted: the rows stay
    assert len(accounts.emails(connection)) == 2
    connection.close()


def test_no_accounts_yet():
    connection = accounts.connect()
    assert accounts.emails(connection) == []
    connection.close()


def test_sign_up():
    connection = accounts.connect()
    accounts.sign_up(connection, "ann@example.com")
    assert accounts.emails(connection) == ["ann@example.com"]
    accounts.remove(connection, "ann@example.com")
    connection.close()
