"""Server-rendered pages: sessions, CSRF, and the views."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from crisis.web import auth, csrf, pages, security_headers

    csrf.init_app(app)
    security_headers.init_app(app)
    auth.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(pages.bp)
