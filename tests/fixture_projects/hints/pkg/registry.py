PLUGINS = {}


def register(name, plugin):
    if name in PLUGINS:
        raise ValueError(f"plugin {name!r} is already registered")
    PLUGINS[name] = plugin
