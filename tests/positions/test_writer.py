"""The group-commit writer over real HTTP: request threads hand their fixes to the process's
writer and are answered once the batch holding them is committed.

Which fixes share a batch is made certain, not left to timing: the first batch is held
inside the writer (the test's gate around ``ingest.store_batch``) while the fixes under test
queue up behind it; released, the writer takes them all as the next batch."""
from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from app.positions import ingest, writer
from app.positions.models import LatestPosition, Position, UnknownDevice
from tests.positions.conftest import T0, TOKEN, traccar

ROOT = Path(__file__).resolve().parents[2]
TRACCAR = "/api/v1/telemetry/traccar"
# 25 km east of 119.95° E at 31.78° N.
FAR_LNG = 119.95 + 25 / 94.7


def _wait_for(condition, what: str, deadline_s: float = 20.0) -> None:
    """Poll until ``condition()``; fail naming ``what`` if it never holds (no timing
    is asserted: the deadline only keeps a broken writer from hanging the suite)."""
    deadline = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.01)


class Gate:
    """Holds the writer's first batch until released; records every batch's size."""

    def __init__(self, monkeypatch, fail_first: bool = False):
        self.entered, self.released = threading.Event(), threading.Event()
        self.sizes: list[int] = []
        real = ingest.store_batch

        def gated(driver, dialect, batch, **kwargs):
            self.sizes.append(len(batch))
            if len(self.sizes) == 1:
                self.entered.set()
                self.released.wait(30)
                if fail_first:  # as the database answers when it is locked or gone
                    raise OperationalError("INSERT INTO positions", {},
                                           Exception("database is locked"))
            return real(driver, dialect, batch, **kwargs)

        monkeypatch.setattr(ingest, "store_batch", gated)


@contextmanager
def one_batch(monkeypatch, base: str, gateway: dict, blocker: dict, *, fail_first=False):
    """Post ``blocker`` and hold its batch; ``send(body)`` posts a fix in a thread of its
    own (its response comes from the future it returns); on leaving, once all the sent
    fixes wait in the writer's queue, the held batch is let go."""
    gate = Gate(monkeypatch, fail_first)
    pool = ThreadPoolExecutor(16)
    http = requests.Session()
    post = lambda body: http.post(base + TRACCAR, json=body, headers=gateway,  # noqa: E731
                                  timeout=60)
    sent = []
    first = pool.submit(post, blocker)
    gate.entered.wait(30)
    assert gate.entered.is_set(), "the writer never took the first fix"

    def send(body):
        sent.append(pool.submit(post, body))
        return sent[-1]

    try:
        yield send, first, gate
        _wait_for(lambda: writer.writer().queue.qsize() == len(sent),
                  f"{len(sent)} fixes waiting behind the held batch")
    finally:
        gate.released.set()
        for future in [first, *sent]:
            future.result(timeout=60)
        pool.shutdown()
    assert gate.sizes[:2] == [1, len(sent)], gate.sizes


@pytest.fixture
def known(devices):
    """Three demo vehicles' (id, device id)."""
    return list(devices.items())[:3]


def test_fixes_sent_at_once_by_many_senders_are_each_stored_once_and_all_answered(
        live_server, gateway, devices, now, in_db):
    vehicles = list(devices.items())[:6]
    fixes = [(vehicle, device, T0 + timedelta(seconds=10 * i), 31.70 + 0.0002 * i)
             for vehicle, device in vehicles for i in range(15)]
    http = threading.local()

    def post(fix):
        if not hasattr(http, "session"):
            http.session = requests.Session()
        vehicle, device, at, lat = fix
        resp = http.session.post(live_server + TRACCAR, headers=gateway, timeout=60,
                                 json=traccar(device, at, lat, 119.95, knots=20.0))
        return fix, resp.status_code, resp.json()

    # every fix twice (a gateway's retry), from 8 senders at once
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(post, fixes + fixes[::-1]))
    assert {status for _, status, _ in answers} == {200}
    statuses: dict[tuple, list[str]] = {}
    for (vehicle, _, at, _), _, body in answers:
        assert body["vehicle_id"] == vehicle and body["valid"] is True
        statuses.setdefault((vehicle, at), []).append(body["status"])
    assert all(sorted(s) == ["duplicate", "stored"] for s in statuses.values()), statuses
    with in_db() as s:
        stored = s.execute(select(Position.vehicle_id, Position.at)).all()
        assert sorted(stored) == sorted((v, at) for v, _, at, _ in fixes)
        latest = {row.vehicle_id: row.at for row in s.scalars(select(LatestPosition))}
    assert latest == {vehicle: T0 + timedelta(seconds=140) for vehicle, _ in vehicles}


def test_a_fix_twice_in_one_batch_is_one_row_stored_and_one_duplicate(
        live_server, gateway, known, now, in_db, monkeypatch):
    (other, other_device), (vehicle, device), _ = known
    body = traccar(device, T0, 31.78, 119.95)
    with one_batch(monkeypatch, live_server, gateway,
                   traccar(other_device, T0, 31.70, 119.90)) as (send, _, _):
        twice = [send(body), send(body)]
    answers = sorted(f.result().json()["status"] for f in twice)
    assert answers == ["duplicate", "stored"]
    with in_db() as s:
        assert s.scalars(select(Position.at).where(Position.vehicle_id == vehicle)).all() == [T0]


def test_fixes_of_one_vehicle_arriving_out_of_order_in_one_batch_are_judged_in_time_order(
        live_server, gateway, known, now, in_db, monkeypatch):
    (other, other_device), (vehicle, device), _ = known
    near, jump, after = (T0, (31.78, 119.95)), (T0 + timedelta(seconds=30), (31.78, FAR_LNG)), \
        (T0 + timedelta(seconds=60), (31.7801, 119.9501))
    with one_batch(monkeypatch, live_server, gateway,
                   traccar(other_device, T0, 31.70, 119.90)) as (send, _, _):
        # newest first: the jump is only a jump against the fix before it in time
        futures = {at: send(traccar(device, at, *where)) for at, where in (after, jump, near)}
    answers = {at: f.result().json() for at, f in futures.items()}
    assert answers[near[0]] == {"status": "stored", "vehicle_id": vehicle, "valid": True,
                                "flaw": None}
    assert answers[jump[0]] == {"status": "stored", "vehicle_id": vehicle, "valid": False,
                                "flaw": "jump"}
    # judged against the last valid fix (not the jump): 15 m in 60 s
    assert answers[after[0]]["valid"] is True
    with in_db() as s:
        assert s.get(LatestPosition, vehicle).at == after[0]
        flaws = dict(s.execute(select(Position.at, Position.flaw)
                               .where(Position.vehicle_id == vehicle)).all())
    assert flaws == {near[0]: None, jump[0]: "jump", after[0]: None}


def test_an_unknown_device_in_a_batch_is_refused_and_counted_while_the_others_are_stored(
        live_server, gateway, known, now, in_db, monkeypatch):
    (other, other_device), (vehicle, device), (third, third_device) = known
    with one_batch(monkeypatch, live_server, gateway,
                   traccar(other_device, T0, 31.70, 119.90)) as (send, _, _):
        mine = send(traccar(device, T0, 31.78, 119.95))
        stranger = send(traccar("999000111222333", T0, 31.78, 119.95))
        stranger_again = send(traccar("999000111222333", T0 + timedelta(seconds=10), 31.78,
                                      119.95))
        theirs = send(traccar(third_device, T0, 31.79, 119.96))
    for refused in (stranger, stranger_again):
        resp = refused.result()
        assert resp.status_code == 404
        assert resp.json()["code"] == "unknown_device"
        assert "999000111222333" in resp.json()["message"]
    assert mine.result().json()["vehicle_id"] == vehicle
    assert theirs.result().json()["vehicle_id"] == third
    with in_db() as s:
        assert s.get(UnknownDevice, "999000111222333").count == 2
        assert {v for v, in s.execute(select(Position.vehicle_id))} == {other, vehicle, third}


def test_a_failed_batch_answers_503_to_its_waiters_and_the_writer_goes_on(
        live_server, gateway, known, now, in_db, monkeypatch):
    (other, other_device), (vehicle, device), (third, third_device) = known
    with one_batch(monkeypatch, live_server, gateway, traccar(other_device, T0, 31.70, 119.90),
                   fail_first=True) as (send, first, _):
        after = send(traccar(device, T0, 31.78, 119.95))
    failed = first.result()
    assert failed.status_code == 503
    assert failed.json()["code"] == "database_unavailable"
    assert failed.json()["message"] == "服务繁忙，请稍后重试"
    assert after.result().status_code == 200  # the next batch
    resp = requests.post(live_server + TRACCAR, headers=gateway, timeout=60,
                         json=traccar(third_device, T0, 31.79, 119.96))
    assert resp.status_code == 200
    with in_db() as s:
        assert {v for v, in s.execute(select(Position.vehicle_id))} == {vehicle, third}


def test_a_waiter_not_answered_in_time_gets_503_and_a_full_queue_refuses_at_once(
        live_server, app, gateway, known, now, in_db, monkeypatch):
    (other, other_device), (vehicle, device), (third, third_device) = known
    monkeypatch.setitem(app.config, "POSITION_WRITER_QUEUE", 2)
    with one_batch(monkeypatch, live_server, gateway,
                   traccar(other_device, T0, 31.70, 119.90)) as (send, first, _):
        monkeypatch.setitem(app.config, "POSITION_WRITER_TIMEOUT_S", 0.2)
        late = send(traccar(device, T0, 31.78, 119.95)).result()
        assert (late.status_code, late.json()["code"]) == (503, "database_unavailable")
        monkeypatch.setitem(app.config, "POSITION_WRITER_TIMEOUT_S", 30)
        queued = send(traccar(device, T0 + timedelta(seconds=10), 31.78, 119.95))
        _wait_for(lambda: writer.writer().queue.qsize() == 2, "the second fix queued")
        full = requests.post(live_server + TRACCAR, headers=gateway, timeout=60,
                             json=traccar(third_device, T0, 31.79, 119.96))
        assert (full.status_code, full.json()["code"]) == (503, "database_unavailable")
    assert first.result().status_code == 200
    assert queued.result().status_code == 200
    with in_db() as s:  # the fix answered 503 after waiting was stored all the same
        assert s.get(Position, (vehicle, T0)) is not None
        assert s.get(Position, (third, T0)) is None


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_writer_thread_that_died_is_replaced_and_takes_over_its_queue(
        live_server, gateway, known, now, in_db, monkeypatch):
    (other, other_device), (vehicle, device), _ = known
    dead = writer.writer()
    real = writer.Writer._write

    def dies(self, batch):
        monkeypatch.setattr(writer.Writer, "_write", real)
        raise SystemExit("the thread ends")  # not an Exception: the thread's loop ends

    monkeypatch.setattr(writer.Writer, "_write", dies)
    http = requests.Session()
    before = http.post(live_server + TRACCAR, headers=gateway, timeout=60,
                       json=traccar(other_device, T0, 31.70, 119.90))
    _wait_for(lambda: not dead.thread.is_alive(), "the writer thread ended")
    assert before.status_code == 503  # its batch died with the thread: answered, not hung
    resp = http.post(live_server + TRACCAR, headers=gateway, timeout=60,
                     json=traccar(device, T0, 31.78, 119.95))
    assert resp.status_code == 200
    assert writer.writer() is not dead and writer.writer().thread.is_alive()
    with in_db() as s:
        assert s.get(Position, (vehicle, T0)) is not None


def test_a_worker_killed_mid_ingest_loses_no_fix_it_answered(
        committed_db, demo, devices, in_db, tmp_path):
    """gunicorn as in production (one gthread worker); 4 senders post fixes; the worker is
    killed (SIGKILL) while they do and its master starts another: every fix that was
    answered 200 before or after the kill is in the database."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTB_")}
    env = {**clean, "DATABASE_URL": committed_db, "OTB_SANDBOX_MODE": "1",
           "OTB_TRACCAR_TOKEN": TOKEN, "OTB_JWT_SECRET": secrets.token_urlsafe(48)}
    log = open(tmp_path / "gunicorn.log", "w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "1", "-k", "gthread", "--threads", "4",
         "-b", "127.0.0.1:0", "--no-control-socket", "wsgi:app"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for(lambda: re.search(r"Listening at: (http://\S+)", _read(log)),
                  "gunicorn listening", 60)
        base = re.search(r"Listening at: (http://\S+)", _read(log)).group(1)
        worker = _wait_for_worker(proc.pid, None)
        answered: list[tuple[int, datetime]] = []
        refused = Counter()
        phase = {"killed": False, "after": 0}
        stop = threading.Event()
        # the server's clock is real; Traccar writes whole milliseconds
        start = (datetime.now(timezone.utc) - timedelta(hours=2)).replace(microsecond=0)

        def send(vehicle: int, device: str) -> None:
            http = requests.Session()
            for i in range(7200):
                if stop.is_set():
                    return
                at = start + timedelta(seconds=i)
                try:
                    resp = http.post(base + TRACCAR, timeout=30, json=traccar(
                        device, at, 31.70 + 0.00001 * i, 119.95),
                        headers={"Authorization": f"Bearer {TOKEN}"})
                except requests.RequestException as exc:
                    refused[type(exc).__name__] += 1
                    http = requests.Session()
                    continue
                if resp.status_code == 200:
                    answered.append((vehicle, at))
                    phase["after"] += phase["killed"]
                else:
                    refused[resp.status_code] += 1

        senders = [threading.Thread(target=send, args=item)
                   for item in list(devices.items())[:4]]
        for thread in senders:
            thread.start()
        try:
            _wait_for(lambda: len(answered) >= 200, "200 fixes answered before the kill", 120)
            os.kill(worker, signal.SIGKILL)
            phase["killed"] = True
            _wait_for_worker(proc.pid, worker)
            _wait_for(lambda: phase["after"] >= 100, "100 fixes answered by the new worker",
                      120)
        finally:
            stop.set()
            for thread in senders:
                thread.join(60)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    with in_db() as s:
        stored = set(s.execute(select(Position.vehicle_id, Position.at)).all())
    assert set(answered) <= stored, sorted(set(answered) - stored)[:10]
    assert refused.keys() <= {"ConnectionError", "ChunkedEncodingError", 503}, refused


def _read(log) -> str:
    log.flush()
    log.seek(0)
    return log.read()


def _wait_for_worker(master: int, not_this: int | None) -> int:
    """The pid of the master's (new) worker process."""
    found = []

    def child():
        with open(f"/proc/{master}/task/{master}/children") as children:
            pids = [int(pid) for pid in children.read().split()]
        found[:] = [pid for pid in pids if pid != not_this]
        return bool(found)

    _wait_for(child, "a gunicorn worker", 60)
    return found[0]


def test_a_database_connection_lost_between_batches_costs_one_batch_not_the_writer(
        live_server, gateway, known, now, in_db, committing_engine):
    """PostgreSQL ends the writer's connection (a restart, an admin's kill): the batch that
    meets the dead connection is answered 503, the next one gets a fresh connection."""
    if committing_engine.dialect.name != "postgresql":
        pytest.skip("a server connection to end: PostgreSQL only")
    (other, other_device), (vehicle, device), (third, third_device) = known
    http = requests.Session()
    post = lambda body: http.post(live_server + TRACCAR, headers=gateway,  # noqa: E731
                                  timeout=60, json=body)
    assert post(traccar(other_device, T0, 31.70, 119.90)).status_code == 200
    backend = writer.writer()._connection.connection.driver_connection.info.backend_pid
    with committing_engine.connect() as admin:
        assert admin.exec_driver_sql(f"SELECT pg_terminate_backend({backend})").scalar()
    lost = post(traccar(device, T0, 31.78, 119.95))
    assert (lost.status_code, lost.json()["code"]) == (503, "database_unavailable")
    assert post(traccar(device, T0, 31.78, 119.95)).status_code == 200  # the gateway's retry
    assert post(traccar(third_device, T0, 31.79, 119.96)).status_code == 200
    with in_db() as s:
        assert {v for v, in s.execute(select(Position.vehicle_id))} == {other, vehicle, third}


def test_known_devices_take_one_statement_and_still_see_what_another_process_changed(
        live_server, gateway, known, now, in_db, committing_engine, monkeypatch):
    """PostgreSQL: once the writer knows a device, its next fixes are stored by one
    statement, judged against the vehicle's latest fix as the writer knows it; when another
    process stored a newer fix meanwhile, or an admin moved the device to another vehicle,
    the statement stores nothing and the fix is judged and stored again on what the
    database says."""
    if committing_engine.dialect.name != "postgresql":
        pytest.skip("the known-devices statement is PostgreSQL's")
    (other, _), (vehicle, device), (third, third_device) = known
    statements = []
    real = ingest._rows

    def recorded(driver, sql, params):
        statements.append("known" if sql.startswith("WITH f ") else sql.split()[0].lower())
        return real(driver, sql, params)

    monkeypatch.setattr(ingest, "_rows", recorded)
    http = requests.Session()
    post = lambda body: http.post(live_server + TRACCAR, headers=gateway,  # noqa: E731
                                  timeout=60, json=body).json()
    assert post(traccar(device, T0, 31.78, 119.95))["status"] == "stored"
    statements.clear()
    assert post(traccar(device, T0 + timedelta(seconds=10), 31.7801, 119.9501)) == {
        "status": "stored", "vehicle_id": vehicle, "valid": True, "flaw": None}
    assert statements == ["known"]

    # another worker stored a fix 25 km east, 20 s in
    far = T0 + timedelta(seconds=20)
    with committing_engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO positions (vehicle_id, at, lat, lng, source, received_at, valid) "
            "VALUES (%(v)s, %(at)s, 31.78, %(lng)s, 'traccar', %(at)s, true)",
            {"v": vehicle, "at": far, "lng": FAR_LNG})
        conn.exec_driver_sql(
            "UPDATE latest_positions SET at = %(at)s, lng = %(lng)s WHERE vehicle_id = %(v)s",
            {"v": vehicle, "at": far, "lng": FAR_LNG})
    statements.clear()
    back = post(traccar(device, T0 + timedelta(seconds=30), 31.7802, 119.9502))
    # 25 km in 10 s from the fix the writer did not know of
    assert back == {"status": "stored", "vehicle_id": vehicle, "valid": False, "flaw": "jump"}
    assert statements == ["known", "select", "with"]

    # an admin moves the device to the third vehicle
    with committing_engine.begin() as conn:
        conn.exec_driver_sql("UPDATE vehicles SET device_id = NULL WHERE id IN (%s, %s)",
                             (vehicle, third))
        conn.exec_driver_sql("UPDATE vehicles SET device_id = %s WHERE id = %s",
                             (device, third))
    moved = post(traccar(device, T0 + timedelta(seconds=40), 31.70, 119.90))
    assert moved == {"status": "stored", "vehicle_id": third, "valid": True, "flaw": None}
    with in_db() as s:
        assert s.get(Position, (third, T0 + timedelta(seconds=40))) is not None
        assert s.get(Position, (vehicle, T0 + timedelta(seconds=40))) is None
        assert s.get(LatestPosition, vehicle).at == far  # the jump never became the latest


def test_known_devices_rest_while_most_of_what_they_know_is_out_of_date():
    """Several processes taking the same vehicles' fixes make the writer's knowledge stale
    more often than not: it then rests (the looked-up way, two statements, not three)."""
    known = ingest.KnownDevices()
    known.count(known.WINDOW, known.WINDOW // 5)  # one in five stale: worth it
    assert known.usable()
    known.count(known.WINDOW, known.WINDOW // 2)  # half stale: rest
    assert [known.usable() for _ in range(known.REST)] == [False] * known.REST
    assert known.usable()
