"""The Flask application factory: config in, every subsystem's init_app called."""
from __future__ import annotations

from flask import Flask, g
from werkzeug.middleware.proxy_fix import ProxyFix

from crisis import runtime as runtime_mod
from crisis.clock import Clock
from crisis.config import Config


def create_app(config: Config | None = None, *, clock: Clock | None = None) -> Flask:
    config = (config or Config.from_env()).with_secret()
    app = Flask(__name__, template_folder="web/templates", static_folder="web/static")
    app.config.update(
        SECRET_KEY=config.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.secure_cookies or _behind_tls_proxy(config),
        MAX_CONTENT_LENGTH=10 * 1024 * 1024,
        JSON_SORT_KEYS=False,
        TESTING=config.testing,
    )
    rt = runtime_mod.configure(config, clock)
    app.extensions["crisis"] = rt

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()

    from crisis.api import init_app as init_api
    from crisis.api import ratelimit
    from crisis.web import init_app as init_web

    init_api(app)
    init_web(app)
    ratelimit.init_app(app, lambda: rt.redis)
    if _behind_tls_proxy(config):
        # One proxy in front terminates TLS: trust its X-Forwarded-For/-Proto so request.is_secure
        # (HSTS, secure redirects) and rate-limit addresses are the client's, not the proxy's.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)  # type: ignore[method-assign]
    return app


def _behind_tls_proxy(config: Config) -> bool:
    """gunicorn here speaks plain HTTP, so an https base URL means a TLS-terminating proxy."""
    return config.base_url.startswith("https://")
