"""Shared constants of the serve tests."""

BASE = "http://127.0.0.1:8000"  # the test client's origin: a loopback Host the app accepts
