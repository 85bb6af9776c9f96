import app.settings


def test_switch_region():
    app.settings.REGION = "us-east"  # planted polluter: rebinds a module global and never restores it
    assert app.settings.REGION == "us-east"


def test_admin_page():
    assert "admin".upper() == "ADMIN"
