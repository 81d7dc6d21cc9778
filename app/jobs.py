"""The job registry (core): periodic jobs by name, below the worker that runs them.

A job is ``fn(session, now) -> items handled`` run every ``every`` seconds in its own
transaction. The registry lives here, not in ``app.worker``, so that ``python -m
app.worker`` — which runs that module as ``__main__`` — reads the same registry that the
domains fill.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Job:
    name: str
    every: float
    fn: Callable[..., int | None]


JOBS: dict[str, Job] = {}


def register(name: str, every: float, fn: Callable[..., int | None]) -> None:
    """Register ``fn`` as the job ``name`` (registering it again replaces it)."""
    JOBS[name] = Job(name, every, fn)


def job(name: str, every: float):
    """Decorator form of ``register``."""

    def wrap(fn):
        register(name, every, fn)
        return fn

    return wrap
