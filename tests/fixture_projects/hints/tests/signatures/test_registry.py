import pytest

from pkg import registry


@pytest.mark.parametrize("plugin", ["csv", "json"])
def test_register_exporter(plugin):
    registry.register("exporter", plugin)  # planted: the registry keeps what the last test put in it
    assert registry.PLUGINS["exporter"] == plugin
