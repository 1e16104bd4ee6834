"""Fixtures for chainrule serve: the app behind the framework's test client, and a real server."""

import socket
import threading
import time

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

from serve_helpers import BASE
from starlette.testclient import TestClient

from chainrule.serve import create_app


@pytest.fixture(scope="session")
def app():
    return create_app("seed")


@pytest.fixture(scope="session")
def client(app):
    with TestClient(app, base_url=BASE) as c:
        yield c


@pytest.fixture(scope="session")
def server_url():
    """A uvicorn server on a free loopback port, in a thread, for the browser tests."""
    uvicorn = pytest.importorskip("uvicorn")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app("seed"), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the test server did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()
