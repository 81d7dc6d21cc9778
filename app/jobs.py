"""The job registry (core): the periodic jobs of one app, below the worker that runs them.

A job is ``fn(session, now) -> items handled``, run every ``every`` seconds in its own
transaction. Each domain registers its jobs in its ``init_app(app)``, which ``create_app``
calls, so the worker — in ``make run`` or as ``python -m app.worker`` — runs exactly the
jobs of the app it was given; nothing registers by being imported.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from flask import Flask, current_app

EXTENSION = "otb.jobs"


@dataclass(frozen=True)
class Job:
    name: str
    every: float
    fn: Callable[..., int | None]


def register(app: Flask, name: str, fn: Callable[..., int | None], *, every: float) -> None:
    """Register ``fn`` as the app's job ``name`` (registering the name again replaces it)."""
    app.extensions.setdefault(EXTENSION, {})[name] = Job(name, every, fn)


def registered(app: Flask | None = None) -> dict[str, Job]:
    """The app's jobs by name."""
    return (app or current_app).extensions.get(EXTENSION, {})
