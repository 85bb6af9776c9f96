import logging

from app import db, http, log
from app.registry import Registry


def test_handler_polluter():
    logging.getLogger("app.child")  # a new child logger with default settings: not a change worth naming
    log.HANDLER.setLevel(logging.DEBUG)


def test_handler_victim():
    assert log.HANDLER.level == logging.NOTSET


def test_config_polluter(config):
    config["debug"] = True


def test_config_victim(config):
    assert config == {"debug": False}


def test_database_polluter():
    db.add_user("alice")


def test_database_victim():
    db.add_user("alice")  # sqlite3.IntegrityError: UNIQUE constraint failed: users.name


def test_session_polluter():
    http.session().get("/health")
    http.session()._loop.close()  # what asyncio.run does to the loop a session was made in


def test_session_victim():
    assert http.session().get("/health") == "200 /health"  # RuntimeError: Event loop is closed


def test_registry_polluter():
    Registry.register("audit")


def test_registry_victim():
    assert Registry.plugins == []
