import logging

LOGGER = logging.getLogger("app")
HANDLER = logging.StreamHandler()
LOGGER.addHandler(HANDLER)
