"""Every API error is JSON that says what was wrong and where."""
from __future__ import annotations

from typing import Any, NoReturn

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from crisis.ingest.pgdirect import DatabaseUnavailable


class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str, *, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.headers = headers or {}
        self.extra = extra


def abort(status: int, error: str, message: str, **extra: Any) -> NoReturn:
    raise ApiError(status, error, message, **extra)


def error_response(status: int, error: str, message: str, *, headers: dict[str, str] | None = None,
                   **extra: Any) -> Response:
    resp = jsonify({"error": error, "message": message, **extra})
    resp.status_code = status
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


def _is_api() -> bool:
    return request.path.startswith("/api/")


def init_app(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.error, exc.message, headers=exc.headers, **exc.extra)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response | HTTPException:
        if not _is_api():
            return exc
        code = exc.code or 500
        name = (exc.name or "error").lower().replace(" ", "_")
        message = exc.description or exc.name or "error"
        if code == 413:
            message = "the request body is larger than 10 MB"
        return error_response(code, name, message)

    @app.errorhandler(OverflowError)
    @app.errorhandler(DataError)
    def _out_of_range(exc: Exception) -> Response:
        # A client-supplied number the database cannot hold (SQLite raises OverflowError,
        # PostgreSQL a DataError): the request is wrong, not the server, and retrying won't help.
        if not _is_api():
            raise exc
        return error_response(400, "out_of_range", "a value in the request is out of range")

    @app.errorhandler(OperationalError)
    @app.errorhandler(DBAPIError)
    @app.errorhandler(DatabaseUnavailable)
    def _db_down(exc: DBAPIError | DatabaseUnavailable) -> Response:
        # A database blip is the server's transient problem: tell clients when to retry.
        orig = getattr(exc, "orig", None)
        app.logger.warning("database unavailable: %s", type(orig).__name__ if orig else exc)
        return error_response(503, "database_unavailable", "the database is unavailable; retry later",
                              headers={"Retry-After": "2"})
