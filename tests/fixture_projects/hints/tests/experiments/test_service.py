import os
import socket

import pytest

# 0.0.0.0 stands in for the host of a service on the network: connecting to it reaches this
# machine on Linux, but not through the loopback address.
HOST = "0.0.0.0"


@pytest.fixture
def service_port():
    listener = socket.socket()
    listener.bind((HOST, 0))
    listener.listen()
    port = listener.getsockname()[1]
    if os.environ.get("SAMPLE_SERVICE_DOWN"):
        listener.close()  # the service is down in this CI run
    yield port
    listener.close()


def test_service_answers(service_port):
    with socket.create_connection((HOST, service_port), timeout=5):
        pass
