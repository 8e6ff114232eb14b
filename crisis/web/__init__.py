"""Server-rendered pages: sessions, CSRF, languages, and the views."""
from __future__ import annotations

from flask import Flask, render_template
from werkzeug.exceptions import HTTPException


def _page_error(exc: HTTPException) -> tuple[str, int]:
    return render_template("error.html", error=exc), exc.code or 500


def init_app(app: Flask) -> None:
    from crisis.web import (
        access,
        acklinks,
        audit_views,
        auth,
        cases,
        containlinks,
        csrf,
        data_views,
        i18n,
        incidents,
        insights,
        manage,
        markup,
        members,
        moderation,
        pages,
        postmortem_views,
        public,
        risks,
        security_headers,
        sessions,
        status_page,
        tokens,
    )

    sessions.init_app(app)
    csrf.init_app(app)
    security_headers.init_app(app)
    auth.init_app(app)
    i18n.init_app(app)
    app.jinja_env.filters["markdown"] = markup.render
    app.jinja_env.globals["role_label"] = access.role_label
    app.jinja_env.globals["in_lang"] = i18n.in_lang
    # Page blueprints render their own errors; the API's JSON error handler stays app-wide.
    for module in (auth, pages, incidents, postmortem_views, manage, insights, audit_views, tokens, data_views,
                   moderation, cases, public, risks, members):
        if not module.bp._got_registered_once:  # noqa: SLF001 -- tests build many apps
            module.bp.register_error_handler(HTTPException, _page_error)
        app.register_blueprint(module.bp)
    # The acknowledge pages render their own small pages and errors (no login, no layout).
    app.register_blueprint(acklinks.bp)
    app.register_blueprint(containlinks.bp)
    # The public status page: no login, no session, its own small layout and errors.
    app.register_blueprint(status_page.bp)
