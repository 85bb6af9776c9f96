class Registry:
    plugins = []

    @classmethod
    def register(cls, name):
        cls.plugins.append(name)
