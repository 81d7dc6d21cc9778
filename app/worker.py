"""The background worker: periodic jobs, each in its own transaction.

Several workers may run at once (one per app node): every job must claim its rows safely
(row locks / SKIP LOCKED on PostgreSQL, the single writer on SQLite) so that each piece of
work is done once. Domains register jobs in ``app.jobs`` from their ``init_app``; tests call
``run_due(now=...)`` with a controlled clock instead of sleeping.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

from flask import Flask

from app import clock, db
from app import jobs
from app.jobs import Job

log = logging.getLogger(__name__)


def run_job(j: Job, now: datetime | None = None) -> int:
    session = db.session()
    try:
        handled = j.fn(session, now or clock.now()) or 0
        session.commit()
        return handled
    except Exception:
        session.rollback()
        log.exception("job %s failed", j.name)
        return 0
    finally:
        db.session.remove()


def run_due(now: datetime | None = None, names: list[str] | None = None) -> dict[str, int]:
    """Run every job of the current app once (or the named ones); returns items handled per job."""
    return {name: run_job(j, now) for name, j in jobs.registered().items()
            if names is None or name in names}


class Worker:
    """Runs the jobs on their schedules in a background thread until stopped."""

    def __init__(self, app: Flask, tick: float = 1.0):
        self.app = app
        self.tick = tick
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="worker", daemon=True)

    def start(self) -> "Worker":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        last: dict[str, float] = {}
        with self.app.app_context():
            while not self._stop.is_set():
                for name, j in jobs.registered(self.app).items():
                    if time.monotonic() - last.get(name, -1e9) >= j.every:
                        last[name] = time.monotonic()
                        run_job(j)
                self._stop.wait(self.tick)


def main() -> None:
    """Entry point for a stand-alone worker process: ``python -m app.worker``.

    Stops cleanly on SIGINT or SIGTERM (the current job finishes its transaction).
    """
    import signal

    from app import create_app

    app = create_app()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    worker = Worker(app).start()
    log.info("worker started with jobs: %s", ", ".join(sorted(jobs.registered(app))))
    stop.wait()
    worker.stop()


if __name__ == "__main__":
    main()
