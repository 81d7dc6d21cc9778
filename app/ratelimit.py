"""Rate limits (flask-limiter): sign-in per client IP, quotes per user, the partner API
per partner platform.

Each refused call never reaches WeChat or the providers; it answers 429 in the error
shape with a Chinese message and ``Retry-After``. The limits are read from the app's
configuration on every request (``RATELIMIT_LOGIN``, ``RATELIMIT_QUOTES``,
``RATELIMIT_PARTNER``); the counters
live in ``RATELIMIT_STORAGE_URI`` (memory in one process, a shared store for several).
"""
from __future__ import annotations

import math
import time
from functools import wraps

from flask import Flask, current_app, g, request
from flask.globals import request_ctx
from flask_limiter import Limiter, RateLimitExceeded

from app.errors import error_response
from app.security import current_user


def client_ip() -> str:
    """The caller's address: the peer's, or behind ``PROXY_COUNT`` trusted proxies the one
    the outermost proxy appended to X-Forwarded-For (entries before it are the client's
    own claims and are ignored)."""
    hops = int(current_app.config["PROXY_COUNT"])
    forwarded = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",")]
    if hops and len(forwarded) >= hops and forwarded[-hops]:
        return forwarded[-hops]
    return request.remote_addr or ""


limiter = Limiter(key_func=client_ip, headers_enabled=False)


def _limiter_used() -> bool:
    """Whether flask-limiter evaluated a limit in this request: it keeps its per-request
    state on the request context, made the first time a limit is checked."""
    return hasattr(request_ctx, "_limiter_request_context")


def _only_if_used(hook, *, passes_response: bool):
    """flask-limiter's after-request or teardown hook, run only when the request evaluated
    a limit: otherwise it has no limit to report, no conditional deduction to make and no
    state to reset, and would only create that state to find it empty (a measurable share
    of a small request, on every route without a limit)."""
    @wraps(hook)
    def run(*args):
        if _limiter_used():
            return hook(*args)
        return args[0] if passes_response else None
    return run


def _configured(name: str):
    return lambda: current_app.config[name]


def _user_key() -> str:
    return f"user:{current_user().id}"


def per_client_ip(config_name: str):
    """View decorator: at most ``config[config_name]`` calls per client IP."""
    return limiter.limit(_configured(config_name), key_func=client_ip)


def per_user(config_name: str):
    """View decorator: at most ``config[config_name]`` calls per signed-in user (apply
    it inside the decorator that authenticates)."""
    return limiter.limit(_configured(config_name), key_func=_user_key)


def _partner_key() -> str:
    return f"partner:{g.partner.code}"


def per_partner(config_name: str):
    """View decorator: at most ``config[config_name]`` calls per partner platform, one
    budget across every route it decorates. Apply it inside the decorator that verifies
    the partner's signature (and sets ``g.partner``): a forged, stale or replayed request
    is refused before it, so it never spends a real partner's budget."""
    return limiter.shared_limit(_configured(config_name), scope="partner-api",
                                key_func=_partner_key)


def init_app(app: Flask) -> None:
    hooks = ((app.after_request_funcs, True), (app.teardown_request_funcs, False))
    before = [list(registry.get(None, ())) for registry, _ in hooks]
    limiter.init_app(app)
    # Every limit here is a view decorator, which checks its limit itself when its view runs.
    # The extension's own before_request check serves default, application and blueprint
    # limits; while none is configured it only cost every request of every route its
    # lookups (a tenth of a small read), so it is taken out.
    manager = limiter.limit_manager
    if not (manager._default_limits or manager._application_limits
            or manager._blueprint_limits):
        app.before_request_funcs[None].remove(limiter._check_request_limit)
    for (registry, passes_response), known in zip(hooks, before):
        funcs = registry.get(None, [])
        for i, hook in enumerate(funcs):
            if hook not in known:  # registered by flask-limiter
                funcs[i] = _only_if_used(hook, passes_response=passes_response)

    @app.errorhandler(RateLimitExceeded)
    def _too_many(err: RateLimitExceeded):
        retry_after = max(1, math.ceil(limiter.current_limit.window.reset_time - time.time()))
        resp = error_response(429, "too_many_requests", f"请求过于频繁，请{retry_after}秒后再试")
        resp.headers["Retry-After"] = str(retry_after)
        return resp
