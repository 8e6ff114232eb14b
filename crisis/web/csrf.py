"""CSRF protection for every form: a per-session token checked on unsafe methods."""
from __future__ import annotations

import secrets

from flask import Flask, abort, request, session

from crisis.tenancy.credentials import constant_time_equal

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def token() -> str:
    value = session.get("_csrf")
    if not value:
        value = session["_csrf"] = secrets.token_urlsafe(32)
    return str(value)


def init_app(app: Flask) -> None:
    app.jinja_env.globals["csrf_token"] = token

    @app.before_request
    def _check() -> None:
        # The JSON API, the Matrix appservice API and PagerDuty-style events authenticate with
        # bearer tokens or keys in the body, which browsers never send on their own; one-click
        # links carry a signed token per recipient in the URL, which a forging page cannot know.
        if request.method in SAFE_METHODS or request.path.startswith(("/api/", "/ack/", "/contain/", "/_matrix/")) \
                or request.path == "/v2/enqueue":
            return
        sent = request.form.get("_csrf") or request.headers.get("X-CSRF-Token", "")
        expected = session.get("_csrf")
        if not expected or not sent or not constant_time_equal(str(expected), sent):
            abort(400, description="The form's CSRF token is missing or stale; reload the page and try again.")
