"""Group commit: one writer thread per process stores the fixes the request threads receive.

A request thread parses and authenticates a fix, hands it to the process's writer and
waits. The writer takes whatever is queued (up to ``MAX_BATCH``), stores it in one
transaction (``ingest.store_batch``: one device lookup — none on PostgreSQL when the
writer knows the devices already — one insert, one upsert of the latest positions, the
unknown devices' counts), commits once and only then answers every
waiter — stored, duplicate, or the refusal the fix earned (404 unknown device, 401 bad
key, 422 out of the kept window). So a fix answered 200 is committed: a worker killed
after answering loses nothing it acknowledged. One commit serves every fix that arrived
while the previous one ran, so the cost of a transaction (on SQLite BEGIN IMMEDIATE and
COMMIT; on PostgreSQL the round trips and the WAL flush) is shared by the batch, and the
database work runs in one thread on one kept connection instead of the request threads
contending for SQLite's single writer or the pool.

Durability: SQLite commits in WAL mode with ``synchronous=NORMAL`` (app/db.py) as every
other write of the app does. On PostgreSQL the batch's one write statement commits (in
autocommit) with ``synchronous_commit`` at the server's setting, on by default: the commit
waits until the WAL is on disk, and because one flush covers the whole batch this costs
no throughput measurable above the noise (docs/operations.md) — so the durable setting is
kept and a fix answered 200 survives a crash of the database server, not only of the
worker.

Failures never hang a gateway: a full queue (the database cannot keep up) and a waiter
not answered within ``POSITION_WRITER_TIMEOUT_S`` are answered 503 at once; a batch whose
transaction fails (SQLite locked, PostgreSQL gone) is rolled back and all its waiters get
503, and the writer goes on with the next batch. A fix answered 503 may still be stored
(a timed-out waiter's fix commits later); the gateway's retry of it is then a duplicate.

The thread is started lazily in the process that serves (after gunicorn's fork; a writer
inherited through a fork is not used), is a daemon, and is replaced if it died.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Sequence

from sqlalchemy.engine import Connection

from app import db
from app.errors import AppError
from app.positions import ingest

log = logging.getLogger(__name__)

# A batch never holds more than this many fixes (a bounded transaction and answer time).
MAX_BATCH = 500


def unavailable() -> AppError:
    return AppError("服务繁忙，请稍后重试", code="database_unavailable", status=503)


class _Waiter:
    """A request thread waiting for its fix's outcome: a bare lock, held until answered (an
    Event's condition variable cost measurably more at the city's rate)."""
    __slots__ = ("received", "done", "outcome")

    def __init__(self, received: ingest.Received):
        self.received = received
        self.done = threading.Lock()
        self.done.acquire()
        self.outcome: ingest.Outcome | None = None

    def answer(self, outcome: ingest.Outcome) -> None:
        if self.outcome is None:
            self.outcome = outcome
            self.done.release()

    def wait(self, timeout_s: float) -> bool:
        return self.done.acquire(timeout=timeout_s)


class Writer:
    """The writer thread of one process and its bounded queue of waiting fixes."""

    def __init__(self, queue_: queue.SimpleQueue | None = None):
        self.pid = os.getpid()
        # SimpleQueue (C) rather than Queue (a condition variable per put and get); the
        # bound is checked on put, a few over it under a race are harmless.
        self.queue: queue.SimpleQueue[_Waiter] = (queue_ if queue_ is not None
                                                   else queue.SimpleQueue())
        self._connection: Connection | None = None
        self.known = ingest.KnownDevices()
        self.batches = self.fixes = 0  # written or failed, for observers (tests, benchmark)
        self.thread = threading.Thread(target=self._run, name="positions-writer", daemon=True)
        self.thread.start()

    def alive(self) -> bool:
        return self.pid == os.getpid() and self.thread.is_alive()

    def submit(self, received: ingest.Received, *, capacity: int,
               timeout_s: float) -> ingest.Stored:
        """Store one fix through the next batch; its ``Stored``, or raises its refusal (503
        when ``capacity`` fixes wait already or no answer came within ``timeout_s``)."""
        if self.queue.qsize() >= capacity:
            log.warning("positions writer queue full (%d): fix of %s refused with 503",
                        capacity, received.fix.device_id)
            raise unavailable()
        waiter = _Waiter(received)
        self.queue.put(waiter)
        if not waiter.wait(timeout_s):
            log.warning("positions writer did not answer within %.1f s: fix of %s answered 503",
                        timeout_s, received.fix.device_id)
            raise unavailable()
        if isinstance(waiter.outcome, AppError):
            raise waiter.outcome
        return waiter.outcome  # type: ignore[return-value]

    def _run(self) -> None:
        while True:
            batch = [self.queue.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._write(batch)
            except Exception:  # noqa: BLE001 - the thread outlives any batch
                log.exception("positions writer failed outside a batch's transaction")
                for waiter in batch:
                    waiter.answer(unavailable())  # those not answered yet
            except BaseException:
                for waiter in batch:  # the thread ends: its batch is answered, not hung
                    waiter.answer(unavailable())
                raise

    def _write(self, batch: Sequence[_Waiter]) -> None:
        try:
            driver, dialect, commit, rollback = self._begin()
        except Exception as exc:  # noqa: BLE001 - no database: every waiter hears 503
            log.error("positions batch of %d not begun, answered 503: %s", len(batch), exc)
            self._drop_connection()
            outcomes = [unavailable()] * len(batch)
        else:
            try:
                received = [w.received for w in batch]
                try:
                    outcomes = ingest.store_batch(driver, dialect, received, known=self.known)
                except ingest.Recount:  # a retried fix in the batch: again, exactly
                    rollback()
                    driver, dialect, commit, rollback = self._begin()
                    outcomes = ingest.store_batch(driver, dialect, received, exact=True,
                                                  known=self.known)
                commit()
            except Exception as exc:  # noqa: BLE001 - every waiter must be answered
                log.error("positions batch of %d failed, answered 503: %r", len(batch), exc)
                self.known.forget()
                try:
                    rollback()
                except Exception:  # noqa: BLE001 - the connection may be gone
                    log.exception("rollback after a failed positions batch failed")
                # The kept connection may be broken (the server restarted): the next batch
                # takes a fresh one from the pool, which pings it first.
                self._drop_connection()
                outcomes = [unavailable()] * len(batch)
        self.batches += 1
        self.fixes += len(batch)
        for waiter, outcome in zip(batch, outcomes):
            waiter.answer(outcome)

    def _begin(self):
        """The batch's DB-API connection, its dialect, and how to commit or roll back.

        On the app's engine the writer keeps one connection between batches: SQLite's
        write lock is taken up front (``BEGIN IMMEDIATE``, as every writer of the app
        does); PostgreSQL runs in autocommit, the batch's one write statement being its
        own transaction (no BEGIN and COMMIT round trips). When the app is bound to a
        connection (the tests' seam), the batch is a SAVEPOINT in its transaction."""
        bind = db.current_bind()
        if isinstance(bind, Connection):
            savepoint = bind.begin_nested()
            return (bind.connection.driver_connection, bind.dialect, savepoint.commit,
                    savepoint.rollback)
        if self._connection is not None and self._connection.engine is not bind:
            self._drop_connection()
        if self._connection is None:
            connection = bind.connect()
            if connection.dialect.name == "postgresql":
                connection.execution_options(isolation_level="AUTOCOMMIT")
            self._connection = connection
        driver = self._connection.connection.driver_connection
        if self._connection.dialect.name == "postgresql":
            return driver, self._connection.dialect, _nothing, _nothing
        driver.execute("BEGIN IMMEDIATE")
        return driver, self._connection.dialect, driver.commit, driver.rollback

    def _drop_connection(self) -> None:
        """Forget the kept connection (a failed one is discarded, not pooled again)."""
        if self._connection is not None:
            try:
                self._connection.invalidate()
                self._connection.close()
            except Exception:  # noqa: BLE001 - a dead connection may not close cleanly
                log.exception("closing the positions writer's connection failed")
            self._connection = None


def _nothing() -> None:
    return None


_lock = threading.Lock()
_writer: Writer | None = None


def writer() -> Writer:
    """This process's writer, started on first use (or again, after a fork or its death)."""
    global _writer
    current = _writer
    if current is not None and current.alive():
        return current
    with _lock:
        if _writer is None or not _writer.alive():
            same_process = _writer is not None and _writer.pid == os.getpid()
            if same_process:
                log.error("positions writer thread died; starting another")
            # a dead thread's queue is taken over: nothing waiting is lost
            _writer = Writer(_writer.queue if same_process else None)
        return _writer


def submit(config, received: ingest.Received) -> ingest.Stored:
    """Store one fix through this process's writer (``POSITION_WRITER_*`` settings)."""
    return writer().submit(received, capacity=int(config["POSITION_WRITER_QUEUE"]),
                           timeout_s=float(config["POSITION_WRITER_TIMEOUT_S"]))
