import app.settings


def test_set_zone():
    app.settings.TZ_NAME = "Europe/Paris"
    assert app.settings.TZ_NAME.startswith("Europe")
