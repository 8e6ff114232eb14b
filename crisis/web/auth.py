"""Login and logout with hashed passwords and server-signed sessions."""
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Flask, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from crisis.audit.log import record
from crisis.models import User
from crisis.tenancy.communities import NotFound, get_user
from crisis.tenancy.credentials import hash_password, verify_password
from crisis.webctx import db, rt

bp = Blueprint("auth", __name__)
F = TypeVar("F", bound=Callable[..., Any])

MAX_FAILURES = 5
_DUMMY_HASH = hash_password("not a password anyone has")
LOCKOUT = timedelta(minutes=15)


def init_app(app: Flask) -> None:
    @app.before_request
    def _load_user() -> None:
        if request.path.startswith("/api/"):  # bearer tokens only: no cookie session to open
            g.user = None
            return
        user_id = session.get("user_id")
        g.user = db().get(User, user_id) if user_id else None


def login_required(view: F) -> F:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.get("user") is None:
            return redirect(url_for("auth.login", next=request.full_path))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("pages.home")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    if request.method == "POST":
        email = request.form.get("email", "")
        password = request.form.get("password", "")
        now = rt().clock.now()
        session_db = db()
        try:
            user: User | None = get_user(session_db, email)
        except NotFound:
            user = None
        # Hash whether or not the account exists, so the answer's timing does not tell.
        valid = verify_password(user.password_hash if user is not None else _DUMMY_HASH, password)
        if user is not None and user.locked_until is not None and user.locked_until > now:
            error = "Too many failed attempts; try again later."
            _audit_failure(email, user, "locked")
            session_db.commit()
        elif user is not None and valid:
            user.failed_logins = 0
            user.locked_until = None
            record(session_db, community_id=None, actor=user.email, actor_user_id=user.id, subject_user_id=user.id,
                   action="login", target=user.email, at=now)
            session_db.commit()
            session.clear()
            session["user_id"] = user.id
            return redirect(_safe_next(request.args.get("next")))
        else:
            why = "no such user"
            if user is not None:
                user.failed_logins += 1
                why = "wrong password"
                if user.failed_logins >= MAX_FAILURES:
                    user.locked_until = now + LOCKOUT
                    why = "wrong password; locked out now"
            _audit_failure(email, user, why)
            session_db.commit()
            error = "Wrong email or password."
    return render_template("login.html", error=error), (401 if error else 200)


def _audit_failure(email: str, user: User | None, why: str) -> None:
    # Whatever was typed is kept (cut short): a run of failures for one name is the signal.
    record(db(), community_id=None, actor=email.strip()[:200] or "(empty)", subject_user_id=user.id if user else None,
           action="login.failed", target=email.strip()[:254], after={"reason": why})


@bp.post("/logout")
def logout() -> Response:
    user = g.get("user")
    if user is not None:
        record(db(), community_id=None, actor=user.email, actor_user_id=user.id, subject_user_id=user.id,
               action="logout", target=user.email)
        db().commit()
    session.clear()
    return redirect(url_for("auth.login"))
