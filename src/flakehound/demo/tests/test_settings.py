import app.settings


def test_default_region():
    assert app.settings.REGION == "eu-west"  # planted victim of tests/test_admin.py::test_switch_region
