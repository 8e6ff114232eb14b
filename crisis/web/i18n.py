"""The UI language per user: the saved choice, else the session's, else the browser's.

Catalogs live in crisis/translations/<locale>/LC_MESSAGES/messages.po; the compiled .mo
files are committed next to them (tests/web/test_i18n.py fails when they are stale)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, g, redirect, request, session
from flask_babel import Babel, gettext
from werkzeug.wrappers import Response

from crisis.config import ROOT
from crisis.timeline import SYSTEM_ACTORS
from crisis.webctx import db

TRANSLATIONS = ROOT / "crisis" / "translations"
# Babel locale -> the label shown in the switcher (each in its own language).
LANGUAGES = {"en": "English", "zh_Hans": "简体中文"}
_ALIASES = {"zh": "zh_Hans", "zh_hans": "zh_Hans", "zh_cn": "zh_Hans", "zh_sg": "zh_Hans", "en": "en"}

bp = Blueprint("i18n", __name__)


def normalize(value: str | None) -> str | None:
    """'zh-CN', 'zh_Hans', 'zh' -> 'zh_Hans'; 'en-GB' -> 'en'; unknown -> None."""
    if not value:
        return None
    key = value.replace("-", "_").lower()
    return _ALIASES.get(key) or _ALIASES.get(key.split("_", 1)[0])


def select_locale() -> str:
    fixed = g.get("page_locale")  # a page that picks its language from its URL (the public pages' ?lang=)
    if fixed:
        return str(fixed)
    user = g.get("user")
    chosen = normalize(user.locale if user is not None else None) or normalize(session.get("locale"))
    return chosen or browser_locale()


def browser_locale() -> str:
    """The first language of the request's Accept-Language we have, else English."""
    for lang, _quality in request.accept_languages:
        found = normalize(lang)
        if found:
            return found
    return "en"


def in_lang(texts: dict[str, str] | None) -> str:
    """A rule's {en, zh} text in the page's language, else in the other one."""
    texts = texts or {}
    lang, other = ("zh", "en") if select_locale() == "zh_Hans" else ("en", "zh")
    return texts.get(lang) or texts.get(other) or ""


def timeline_text(entry: Any) -> str:
    """A timeline line in the page's language: its template (crisis.timeline.Said) translated,
    vocabulary values translated, other values as they are; the stored English otherwise.
    A catalogue entry that does not fit its values falls back to the English, never an error."""
    spoken = (entry.data or {}).get("said")
    try:
        return _spoken(spoken) if isinstance(spoken, dict) else str(entry.message)
    except (KeyError, ValueError, TypeError, AttributeError):
        return str(entry.message)


def timeline_actor(entry: Any) -> str:
    """Who wrote a line: a person's or an integration's name as it is, one of crisis's own
    parts (crisis.timeline.SYSTEM_ACTORS) in the page's language."""
    actor = str(entry.actor or entry.kind)
    return str(gettext(actor)) if entry.actor_user_id is None and actor in SYSTEM_ACTORS else actor


def _spoken(spoken: dict[str, Any]) -> str:
    values: dict[str, Any] = {}
    words = set(spoken.get("w") or ())
    for key, value in (spoken.get("v") or {}).items():
        if isinstance(value, dict):
            value = _spoken(value)  # a reason with values of its own
        elif key in words and isinstance(value, str) and value:
            value = gettext(value)
        values[key] = value
    # gettext without variables does no %-substitution of its own: the values go in once, here.
    template: str = spoken["t"]
    return str(gettext(template) % values)


def html_lang() -> str:
    return "zh-Hans" if select_locale() == "zh_Hans" else "en"


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    Babel(app, locale_selector=select_locale, timezone_selector=lambda: "UTC")
    app.jinja_env.globals.update(LANGUAGES=LANGUAGES, current_locale=select_locale, html_lang=html_lang)
    app.jinja_env.filters["timeline_text"] = timeline_text
    app.jinja_env.filters["timeline_actor"] = timeline_actor
    app.register_blueprint(bp)


@bp.post("/locale")
def set_locale() -> Response:
    """The language switcher: remembered in the session, and on the user when signed in."""
    chosen = normalize(request.form.get("locale")) or "en"
    session["locale"] = chosen
    user = g.get("user")
    if user is not None:
        user.locale = chosen
        db().commit()
    target = request.form.get("next") or "/"
    return redirect(target if target.startswith("/") and not target.startswith("//") else "/")
