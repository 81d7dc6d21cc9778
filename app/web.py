"""Request lifecycle: one unit of work per request, committed once, with idempotency."""
from __future__ import annotations

import logging

from flask import Flask, Response, g, request
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from app import db, idempotency
from app.errors import error_response, race_lost

log = logging.getLogger(__name__)

# Refusals that may go another way on retry (a race lost, a rate limit): not remembered.
RETRYABLE_REFUSALS = {409, 423, 429}


def defer_write_lock(view):
    """Mark a mutating view that talks to the outside world before it writes.

    Such a view must call ``db.begin_write()`` itself (after ending any read transaction)
    so that SQLite's single writer is not held during slow network calls. A view that does
    not write through the request's session at all (the positions ingest hands its fixes
    to the group-commit writer) uses it too: the request then takes no lock and opens no session.
    """
    view._defer_write_lock = True
    return view


def init_app(app: Flask) -> None:
    @app.before_request
    def _start_unit_of_work():
        replay = idempotency.begin()
        if replay is not None:
            return replay
        view = app.view_functions.get(request.endpoint) if request.endpoint else None
        if request.method in idempotency.MUTATING and not getattr(view, "_defer_write_lock", False):
            db.begin_write()
        return None

    @app.after_request
    def _finish_unit_of_work(response: Response) -> Response:
        if response.headers.get("Idempotent-Replayed"):
            return response
        claimed = "idempotency" in g
        if not claimed and not db.session.registry.has():
            return response  # the request opened no session: nothing to commit or undo
        status = response.status_code
        if status >= 400:
            db.session.rollback()
            if claimed and (status >= 500 or status in RETRYABLE_REFUSALS):
                idempotency.release()
            elif claimed:
                # A definite refusal is an answer too: a retry replays it rather than redoes it.
                db.begin_write()
                idempotency.remember(response)
                db.session.commit()
            return response
        try:
            if claimed:
                idempotency.remember(response)
            db.session.commit()
        except (StaleDataError, IntegrityError) as err:
            db.session.rollback()
            if claimed:
                idempotency.release()
            return race_lost(err)
        except DBAPIError:
            log.exception("commit failed")
            db.session.rollback()
            if claimed:
                idempotency.release()
            return error_response(503, "database_unavailable", "服务繁忙，请稍后重试")
        return response

    @app.teardown_request
    def _teardown(exc):
        if exc is not None and "idempotency" in g:
            idempotency.release()
        db.session.remove()
