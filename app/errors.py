"""Domain error tree, mapped once to the JSON error body ``{code, message, status, errors}``."""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class AppError(Exception):
    """Base of every error the API reports on purpose; ``message`` is for people (Chinese)."""

    status = 400
    code = "bad_request"
    message = "请求有误"

    def __init__(self, message: str | None = None, *, code: str | None = None,
                 errors: Any = None, status: int | None = None, **extra: Any):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.code = code or self.code
        self.status = status or self.status
        self.errors = errors or {}
        self.extra = extra

    def body(self) -> dict:
        return {"code": self.code, "message": self.message, "status": self.status,
                "errors": self.errors, **self.extra}


class ValidationFailed(AppError):
    status, code, message = 422, "validation_error", "提交的数据不合法"


class Unauthorized(AppError):
    status, code, message = 401, "unauthorized", "请先登录"


class Forbidden(AppError):
    status, code, message = 403, "forbidden", "无权执行此操作"


class NotFound(AppError):
    status, code, message = 404, "not_found", "对象不存在"


class Conflict(AppError):
    status, code, message = 409, "conflict", "操作与当前状态冲突"


class IllegalTransition(Conflict):
    code, message = "illegal_transition", "当前状态不允许此操作"


class UpstreamError(AppError):
    status, code, message = 502, "upstream_error", "外部服务暂时不可用，请稍后重试"


# Chinese messages for the HTTP errors Flask raises itself.
_HTTP_MESSAGES = {
    400: ("bad_request", "请求有误"),
    401: ("unauthorized", "请先登录"),
    403: ("forbidden", "无权执行此操作"),
    404: ("not_found", "对象不存在"),
    405: ("method_not_allowed", "不支持的请求方法"),
    409: ("conflict", "操作与当前状态冲突"),
    413: ("payload_too_large", "请求内容过大"),
    415: ("unsupported_media_type", "请使用 JSON 格式提交"),
    422: ("validation_error", "提交的数据不合法"),
    429: ("too_many_requests", "请求过于频繁"),
}


# The answer to an error nobody foresaw (logged with its traceback where it is caught).
UNEXPECTED = (500, "internal_error", "服务器内部错误，请稍后重试")


def error_body(status: int, code: str, message: str, errors: Any = None) -> dict:
    return {"code": code, "message": message, "status": status, "errors": errors or {}}


def error_response(status: int, code: str, message: str, errors: Any = None):
    resp = jsonify(error_body(status, code, message, errors))
    resp.status_code = status
    return resp


def race_lost(err: StaleDataError | IntegrityError):
    """The 409 for a write another request got in first: a row changed since it was read
    (optimistic version check) or a row that must be unique created meanwhile. Raised while
    the view runs or at the request's commit; worth a retry after a refresh."""
    if isinstance(err, IntegrityError):
        log.warning("write lost a race: %s", err.orig)
        return error_response(409, "conflict", "操作与其他请求冲突，请刷新后重试")
    log.warning("write lost a race: %s", err)
    return error_response(409, "concurrent_update", "该记录已被他人修改，请刷新后重试")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(AppError)
    def _app_error(err: AppError):
        resp = jsonify(err.body())
        resp.status_code = err.status
        return resp

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        status = err.code or 500
        code, message = _HTTP_MESSAGES.get(status, ("http_error", "请求无法处理"))
        errors = {}
        # flask-smorest/webargs put marshmallow messages here
        data = getattr(err, "data", None) or {}
        if isinstance(data, dict) and "messages" in data:
            errors = data["messages"]
            for location in ("json", "query", "form", "files", "headers"):
                if isinstance(errors, dict) and set(errors) == {location}:
                    errors = errors[location]
        return error_response(status, code, message, errors)

    app.register_error_handler(StaleDataError, race_lost)
    app.register_error_handler(IntegrityError, race_lost)

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        log.exception("unhandled error")
        return error_response(*UNEXPECTED)
