from pkg import store


def test_sign_up_twice_is_harmless(tmp_path):
    connection = store.connect(tmp_path / "app.db")
    store.sign_up(connection, "ann@example.com")
    store.sign_up(connection, "ann@example.com")
    connection.close()
