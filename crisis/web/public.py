"""Pages members use without logging in: the community's rules, the complaint form (rate
limited per sender and per community), the complainant's case page, and a penalised
member's page with the appeal form. Everything a member or staff wrote is shown as text
(autoescaped templates, no markup); links carry a signed token (crisis.public_links),
and a token of another community, or none of ours, is a 404 like an unknown community.

The language is switched by `?lang=` in the URL, never through the session: the rules page
is cached by shared caches, so it must not set a cookie nor embed a session's CSRF token
(the status page does the same). The other pages keep `?lang=` on their links and forms,
and fall back to the visitor's saved choice; they are never cached."""
from __future__ import annotations

from typing import Any, cast

from flask import Blueprint, Response, abort, g, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as Redirect

from crisis import public_links
from crisis.api import ratelimit
from crisis.cases import service
from crisis.cases.categories import CATEGORIES
from crisis.cases.states import SUBJECTS
from crisis.insight import metrics
from crisis.models import Case, Community, Penalty
from crisis.moderation import appeals, rulebook
from crisis.tenancy.communities import NotFound, get_community
from crisis.web.i18n import browser_locale, normalize
from crisis.webctx import db, rt

bp = Blueprint("public", __name__)
# Pages a shared cache may keep: the same for everyone with the same URL and Accept-Language.
SHARED = {"public.rules"}


@bp.before_request
def _page_locale() -> None:
    chosen = normalize(request.args.get("lang"))
    if chosen is None and request.endpoint in SHARED:
        chosen = browser_locale()  # not the session's or the user's choice: the page is shared
    g.page_locale = chosen


def lang_args() -> dict[str, Any]:
    """The `lang` to carry on this page's links and forms: the one in its URL, if any."""
    chosen = normalize(request.args.get("lang"))
    return {"lang": "zh" if chosen == "zh_Hans" else chosen} if chosen else {}


def switch_url(locale: str) -> str:
    """This page in another language: the same URL with `lang` set."""
    args = {k: v for k, v in request.args.items() if not k.startswith("_")}  # never url_for's own _external…
    values = {**args, **(request.view_args or {}), "lang": "zh" if locale == "zh_Hans" else locale}
    return url_for(str(request.endpoint), **values)


@bp.context_processor
def _links() -> dict[str, Any]:
    return {"lang_args": lang_args(), "switch_url": switch_url}


@bp.after_request
def _never_share_a_session(resp: Response) -> Response:
    """A guard: a response that writes the session cookie is never left to a shared cache."""
    if session.modified and "public" in resp.headers.get("Cache-Control", ""):
        resp.headers["Cache-Control"] = "private, no-store"
    return resp


def _community(slug: str) -> Community:
    try:
        return get_community(db(), slug)
    except NotFound:
        abort(404)


def _private(html: str, status: int = 200) -> Response:
    """A page whose URL is its key: never cached, never sent on as a referrer."""
    resp = make_response(html, status)
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["X-Robots-Tag"] = "noindex"
    return resp


def _limited(form: str, slug: str) -> Response | None:
    wait = ratelimit.limits().check_public_form(form, request.remote_addr or "unknown", slug)
    if wait is None:
        return None
    metrics.count_rate_limited(form)
    resp = make_response(render_template("public/limited.html", wait=wait), 429)
    resp.headers["Retry-After"] = str(wait)
    return resp


@bp.get("/p/<slug>/rules")
def rules(slug: str) -> Response:
    community = _community(slug)
    book = rulebook.latest(db(), community.id)
    resp = make_response(render_template("public/rules.html", community=community, rulebook=book))
    # Public and the same for everyone: a short cache spares the server a burst of readers.
    resp.headers["Cache-Control"] = "public, max-age=60"
    resp.headers["Vary"] = "Accept-Language"
    return resp


def _report_page(community: Community, form: dict[str, str], error: str = "", status: int = 200) -> Response:
    book = rulebook.latest(db(), community.id)
    return _private(render_template("public/report.html", community=community, rulebook=book, form=form,
                                    error=error, categories=CATEGORIES, subjects=SUBJECTS), status)


FORM_FIELDS = ("subject_kind", "category", "rule", "member", "message", "details", "name")


@bp.get("/p/<slug>/report")
def report_form(slug: str) -> Response:
    community = _community(slug)
    return _report_page(community, {"subject_kind": request.args.get("subject", "message"),
                                    "member": request.args.get("member", "")[:255],
                                    "message": request.args.get("message", "")[:500]})


def _complaint(form: dict[str, str], community: Community) -> service.Complaint:
    message = form["message"].strip()
    is_link = message.startswith(("https://", "http://"))
    return service.Complaint(
        subject_kind=form["subject_kind"], category=form["category"], details=form["details"],
        subject_member=form["member"] if form["subject_kind"] != "feedback" else "",
        subject_message_id="" if is_link or form["subject_kind"] != "message" else message,
        subject_link=message if is_link and form["subject_kind"] == "message" else "",
        rule_id=form["rule"], reporter_name=form["name"][:200], source="form",
        reporter=service.reporter_of_form(rt().config.secret_key, request.remote_addr or "unknown", community.id))


@bp.post("/p/<slug>/report")
def report(slug: str) -> Response | Redirect:
    community = _community(slug)
    form = {k: request.form.get(k, "") for k in FORM_FIELDS}
    limited = _limited("report", slug)
    if limited is not None:
        return limited
    try:
        complaint = service.check(db(), community, _complaint(form, community))
        case = service.open_case(db(), community, complaint, now=rt().clock.now())
    except service.CaseError as exc:
        db().rollback()
        return _report_page(community, form, error=explain(exc), status=422)
    db().commit()
    token = public_links.token(rt().config, public_links.CASE_SALT, case.id)
    return redirect(url_for("public.case_page", slug=slug, token=token, new=1, **lang_args()), code=303)


def _row(model: type[Case] | type[Penalty], salt: str, community: Community, token: str) -> Any:
    row_id = public_links.read(rt().config, salt, token)
    row = cast(Case | Penalty | None, db().get(model, row_id) if row_id is not None else None)
    if row is None or row.community_id != community.id:
        abort(404)
    return row


@bp.get("/p/<slug>/cases/<token>")
def case_page(slug: str, token: str) -> Response:
    community = _community(slug)
    case = _row(Case, public_links.CASE_SALT, community, token)
    book = rulebook.latest(db(), community.id)
    return _private(render_template("public/case.html", community=community, case=case, rulebook=book,
                                    new=request.args.get("new") == "1",
                                    url=request.base_url))  # this page, as the browser reached it


def _penalty_page(community: Community, penalty: Penalty, token: str, *, error: str = "", text: str = "",
                  status: int = 200) -> Response:
    book = rulebook.get_version(db(), community.id, penalty.rulebook_version)
    rule = next((r for r in book.spec["rules"] if r["id"] == penalty.rule_id), None) if book else None
    filed = appeals.for_penalty(db(), penalty.id)
    can_appeal = penalty.status in appeals.APPEALABLE and appeals.open_appeal(db(), penalty.id) is None
    return _private(render_template("public/penalty.html", community=community, penalty=penalty, rule=rule,
                                    appeals=filed, can_appeal=can_appeal, token=token, error=error, text=text,
                                    now=rt().clock.now()), status)


@bp.get("/p/<slug>/penalties/<token>")
def penalty_page(slug: str, token: str) -> Response:
    community = _community(slug)
    return _penalty_page(community, _row(Penalty, public_links.PENALTY_SALT, community, token), token)


@bp.post("/p/<slug>/penalties/<token>/appeal")
def appeal(slug: str, token: str) -> Response | Redirect:
    community = _community(slug)
    penalty = _row(Penalty, public_links.PENALTY_SALT, community, token)
    limited = _limited("appeal", slug)
    if limited is not None:
        return limited
    text = request.form.get("text", "")
    try:
        appeals.file(db(), penalty, text, filed_by="member", now=rt().clock.now())
    except appeals.AppealError as exc:
        db().rollback()
        return _penalty_page(community, penalty, token, error=explain(exc), text=text, status=422)
    db().commit()
    return redirect(url_for("public.penalty_page", slug=slug, token=token, **lang_args()) + "#appeals", code=303)


def explain(exc: Exception) -> str:
    """The service's refusal in the page's language, by the field it names."""
    field = str(exc).split(":", 1)[0]
    known = {"message_id": _("Name the message: paste a link to it, or its id."),
             "link": _("The link must start with https:// or http://."),
             "member": _("Name the member: their account or user name."),
             "details": _("Write what happened (at most 4000 characters)."),
             "text": _("Write your appeal (at most 4000 characters)."),
             "category": _("Choose what the complaint is about."),
             "rule": _("Choose one of the community's rules, or none."),
             "subject": _("Choose what you are reporting."),
             "penalty": _("This penalty cannot be appealed now: it was ended, or an appeal is already waiting.")}
    return str(known.get(field, str(exc)))
