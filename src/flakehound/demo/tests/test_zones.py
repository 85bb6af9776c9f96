import app.settings


def test_utc_default():
    assert app.settings.TZ_NAME == "UTC"  # planted latent victim: its polluter runs after it
