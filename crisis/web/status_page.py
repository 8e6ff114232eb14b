"""The public status page, /status/<slug>: no login, no session, cached.

It renders crisis.publicstatus.page's view only, in English or Chinese (?lang=, else the
browser's languages), with its own layout: no CSRF token, so it never sets a cookie and a
shared cache may keep it. The ETag is the view's digest, so a revalidation answers 304
before anything is rendered, and each distinct page is rendered once per process."""
from __future__ import annotations

from flask import Blueprint, Response, render_template, request
from flask_babel import force_locale
from flask_babel import gettext as _

from crisis import httpcache
from crisis.publicstatus import page
from crisis.web.i18n import browser_locale, normalize
from crisis.webctx import db, rt

bp = Blueprint("status_page", __name__)
_rendered = page.RenderCache()
VARY = "Accept-Language"


def _locale() -> str:
    return normalize(request.args.get("lang")) or browser_locale()


def _not_found(locale: str) -> Response:
    with force_locale(locale):
        html = render_template("public/missing.html", lang="zh-Hans" if locale == "zh_Hans" else "en")
    resp = Response(html, status=404, mimetype="text/html")
    resp.headers["Cache-Control"] = f"public, max-age={httpcache.MAX_AGE}"
    return resp


def phase_labels() -> dict[str, str]:
    return {"investigating": _("Investigating"), "identified": _("Identified"), "monitoring": _("Monitoring"),
            "resolved": _("Resolved")}


@bp.get("/status/<slug>")
def status(slug: str) -> Response:
    locale = _locale()
    now = rt().clock.now()
    found = page.index(db(), slug, now=now)
    if found is None:
        return _not_found(locale)
    digest = found.digest(locale)
    if httpcache.fresh(digest):
        return httpcache.not_modified(digest, vary=VARY)
    key = (slug, locale, digest)
    html = _rendered.get(key)
    if html is None:
        with force_locale(locale):
            html = render_template("public/status.html", view=page.view(db(), found, now=now), phases=phase_labels(),
                                   lang="zh-Hans" if locale == "zh_Hans" else "en", locale=locale)
        _rendered.put(key, html)
    return httpcache.apply(Response(html, mimetype="text/html"), digest, vary=VARY)
