"""The cookie session is opened only when its cookie is sent (crisis.web.sessions)."""
from __future__ import annotations

import pytest
from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface


def test_a_request_without_the_cookie_builds_no_signer_and_still_gets_a_session(
        app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_signer(*_: object) -> None:
        raise AssertionError("the signer was built for a request without a session cookie")

    monkeypatch.setattr(SecureCookieSessionInterface, "get_signing_serializer", no_signer)
    with app.test_request_context("/api/v1/health"):
        opened = app.session_interface.open_session(app, request)
    assert opened is not None and dict(opened) == {} and not opened.modified


def test_a_session_set_without_a_cookie_is_sent_and_read_back(app: Flask) -> None:
    client = app.test_client()
    first = client.get("/login")  # puts the CSRF token in a new session
    assert "session=" in first.headers.get("Set-Cookie", "")
    with client.session_transaction() as session:
        assert session.get("_csrf")
