class Cache:
    """Entries that expire ``ttl`` seconds after they were stored; the caller says what time it is."""

    def __init__(self, ttl):
        self.ttl = ttl
        self._entries = {}

    def put(self, key, value, now):
        self._entries[key] = (value, now)

    def get(self, key, now):
        value, stored = self._entries.get(key, (None, None))
        if stored is None or now - stored > self.ttl:
            return None
        return value
