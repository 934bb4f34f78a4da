"""Issue 11, point 5: a web page elsewhere cannot drive the app, by DNS rebinding (foreign
Host/Origin on the WebSocket) or by posting a file to it (XSRF)."""

from __future__ import annotations

import base64
import os
import socket
import urllib.error
import urllib.request

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


def test_an_upload_without_the_pages_xsrf_token_is_refused_whatever_the_users_config(tmp_path):
    # A user's own ~/.streamlit/config.toml turning the protection off must not win.
    user_home = tmp_path / "user"
    (user_home / ".streamlit").mkdir(parents=True)
    (user_home / ".streamlit" / "config.toml").write_text(
        "[server]\nenableXsrfProtection = false\nenableCORS = false\n"
    )
    env = {"HOME": str(user_home), "QUIRE_EMBEDDER": "fake", "QUIRE_LLM": "fake"}
    app = App(tmp_path / "home", tmp_path / "streamlit.log", env=env).start()
    try:
        body = b"--b\r\nContent-Disposition: form-data; name=file; filename=x.md\r\n\r\nhi\r\n--b--"
        request = urllib.request.Request(
            f"{app.url}/_stcore/upload_file/some-session/some-file",
            data=body,
            method="PUT",
            headers={
                "Content-Type": "multipart/form-data; boundary=b",
                "Origin": "http://evil.example",
            },
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 403
    finally:
        app.stop()
