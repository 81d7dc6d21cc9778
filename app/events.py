"""The event registry (core): domain events of one app and the handlers subscribed to them.

A domain publishes what happened (``publish(session, "trip_cancelled", trip=trip)``); the
domains that care subscribe in their ``init_app(app)``. Handlers run in subscription
order, synchronously, inside the publisher's transaction: an exception in a handler rolls
the whole change back. With no subscriber an event does nothing. Like the job registry,
the handlers belong to the app, so two apps (tests, the worker) never share them and
nothing subscribes by being imported.
"""
from __future__ import annotations

from typing import Any, Callable

from flask import Flask, current_app

EXTENSION = "otb.events"

Handler = Callable[..., Any]


def _table(app: Flask) -> dict[str, list[Handler]]:
    return app.extensions.setdefault(EXTENSION, {})


def subscribe(app: Flask, name: str, handler: Handler) -> None:
    """Call ``handler(session, **payload)`` whenever ``name`` is published (once per app)."""
    handlers = _table(app).setdefault(name, [])
    if handler not in handlers:
        handlers.append(handler)


def unsubscribe(app: Flask, name: str, handler: Handler) -> None:
    _table(app).get(name, []).remove(handler)


def subscribers(name: str, app: Flask | None = None) -> list[Handler]:
    return list(_table(app or current_app).get(name, ()))


def publish(session, name: str, **payload) -> list[Any]:
    """Run the handlers of ``name``; returns what each returned (None included), in order."""
    return [handler(session, **payload) for handler in subscribers(name)]
