"""DNS rebinding: a page on another name that resolves to 127.0.0.1 must not drive the app."""

from __future__ import annotations

import base64
import os
import socket

import pytest

from tests.e2e.test_browser import App

pytestmark = pytest.mark.e2e


def handshake(port: int, host: str, origin: str) -> int:
    """The status line of a WebSocket upgrade to the app's stream, sent with `host`/`origin`."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        "GET /_stcore/stream HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        f"Origin: {origin}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request.encode())
        reply = s.recv(1024).decode("latin-1")
    return int(reply.split()[1])


def test_a_foreign_host_cannot_open_the_apps_websocket(tmp_path):
    app = App(tmp_path / "home", tmp_path / "streamlit.log").start()
    try:
        port = app.port
        assert handshake(port, "127.0.0.1", f"http://127.0.0.1:{port}") == 101
        assert handshake(port, "localhost", f"http://localhost:{port}") == 101
        assert handshake(port, "evil.example", f"http://evil.example:{port}") != 101
        assert handshake(port, "127.0.0.1", "http://evil.example") != 101  # foreign page
    finally:
        app.stop()
