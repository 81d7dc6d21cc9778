"""Vehicle positions: ingest throughput against a bare endpoint, and a trip's track read.

For SQLite and (when its server answers) PostgreSQL, in one run each:

* ingest: ``wrk`` (several connections, a Lua script making every request a new fix of one
  of 1,370 vehicles, Traccar's forwarding body, one position per request) against
  ``POST /api/v1/telemetry/traccar`` of ``gunicorn -w 1 -k gthread --threads 4 wsgi:app``,
  then against bare endpoints accepting the same body under the same gunicorn settings (a
  bare Flask view, and a bare WSGI callable as the ingest's fast path is).
  Figures: positions/s on the one worker, the ratio to the bare endpoint (target ≥ 0.3;
  also given against the bare WSGI callable),
  and the headroom over 1,370 vehicles reporting every 10 s (137/s; target ≥ 10×);
* track read: a finished 10-hour run with a fix every 10 s (3,600 fixes);
  ``GET /api/v1/trips/{id}/track`` (simplified, as a map draws it, and ``full=true``)
  from the same gunicorn worker, median and p95 of 30 reads (target: median ≤ 50 ms).

Run: ``python -m bench.bench_positions [seconds]`` (default 10 s per wrk run). PostgreSQL:
``BENCH_DATABASE_URL`` (default the local cluster on 127.0.0.1:54329), a fresh database
``positions_bench`` is made there; skipped when the server does not answer.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import requests
from sqlalchemy import create_engine, insert, make_url, select, text

if __package__ in (None, ""):  # python bench/bench_positions.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import median, percentile  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
VEHICLES = 1370
THREADS, CONNECTIONS = 2, 8
GUNICORN = ["-w", "1", "-k", "gthread", "--threads", "4"]
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:54329/positions_bench"
TRACK_HOURS, TRACK_EVERY_S, READS = 10, 10, 30


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prepare(url: str, jwt_secret: str) -> tuple[int, str]:
    """Migrate and seed ``url``; give it 1,370 vehicles with devices and one finished
    10-hour run with its fixes; returns the run's trip id and a supervisor's token."""
    from app import clock, create_app, db, seed
    from app.accounts.models import User, Vehicle
    from app.dispatch.models import Assignment, ReleaseReason, TripRun
    from app.migrate import upgrade
    from app.positions.models import Position
    from app.security import issue_token
    from app.trips.models import Trip, TripState

    upgrade(url)
    app = create_app({"DATABASE_URL": url, "SANDBOX_MODE": True, "JWT_SECRET": jwt_secret})
    with app.app_context():
        s = db.session
        seed.seed_demo(s)
        s.flush()
        pool = s.scalar(select(Vehicle).order_by(Vehicle.id))
        s.execute(insert(Vehicle), [
            {"plate": f"苏DB{n:05d}", "vehicle_class": "sedan", "seats": 4,
             "energy_type": "electric", "pooled": True, "unit_id": pool.unit_id,
             "odometer_km": Decimal(1000), "odometer_at": clock.now(),
             "status": "available", "created_at": clock.now(),
             "device_id": f"86{100000 + n:013d}", "depot_lat": 31.81, "depot_lng": 119.97}
            for n in range(VEHICLES)])
        traveler = s.scalar(select(User).where(User.openid == "demo-traveler"))
        start = clock.now() - timedelta(days=1)
        end = start + timedelta(hours=TRACK_HOURS)
        trip = Trip(unit_id=traveler.unit_id, applicant_id=traveler.id,
                    state=TripState.COMPLETED, purpose_category="meeting",
                    passengers=[{"name": "张明"}],
                    stops=[{"name": "A", "lat": 31.81, "lng": 119.97},
                           {"name": "B", "lat": 31.50, "lng": 119.60}],
                    depart_at=start, return_at=end)
        s.add(trip)
        s.flush()
        assignment = Assignment.for_window(trip, vehicle_id=pool.id,
                                           driver_id=s.execute(text("SELECT min(id) FROM drivers")).scalar())
        assignment.release(ReleaseReason.FINISHED, actor_id=None, at=end)
        s.add(assignment)
        s.flush()
        s.add(TripRun(trip_id=trip.id, assignment_id=assignment.id, vehicle_id=pool.id,
                      driver_id=assignment.driver_id, started_at=start,
                      start_odometer_km=Decimal(1000), finished_at=end,
                      end_odometer_km=Decimal(1400), km=Decimal(400)))
        fixes = TRACK_HOURS * 3600 // TRACK_EVERY_S
        s.execute(insert(Position), [
            {"vehicle_id": pool.id, "at": start + timedelta(seconds=TRACK_EVERY_S * i),
             "lat": 31.81 - 0.31 * i / fixes + 0.002 * ((i // 30) % 2),
             "lng": 119.97 - 0.37 * i / fixes, "speed_kmh": 40.0, "course": 225.0,
             "valid": True, "source": "traccar", "received_at": start}
            for i in range(fixes)])
        s.commit()
        with app.test_request_context():
            token, _ = issue_token(s.scalar(select(User).where(User.openid == "demo-supervisor")))
        db.session.remove()
        return trip.id, token


class Gunicorn:
    def __init__(self, target: str, env: dict, logs: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(logs / f"gunicorn-{target.replace(':', '_')}.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", *GUNICORN, "-b", f"127.0.0.1:{self.port}",
             target], cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(self.url, timeout=1)
                break
            except requests.RequestException:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"gunicorn {target} did not start; see {self.log.name}")
                time.sleep(0.2)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


def _wrk(url: str, seconds: int, env: dict) -> tuple[float, int]:
    """Requests per second and non-200 answers of one wrk run."""
    out = subprocess.run(
        ["wrk", "-t", str(THREADS), "-c", str(CONNECTIONS), "-d", f"{seconds}s",
         "-s", str(ROOT / "bench" / "positions_wrk.lua"), url],
        env=env, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = int(re.search(r"NON200 (\d+)", out).group(1))
    return rate, bad


def _reads(url: str, headers: dict, params: dict) -> list[float]:
    http = requests.Session()
    http.get(url, headers=headers, params=params, timeout=30).raise_for_status()  # warm
    times = []
    for _ in range(READS):
        t = time.perf_counter()
        resp = http.get(url, headers=headers, params=params, timeout=30)
        times.append(time.perf_counter() - t)
        resp.raise_for_status()
    return times


def run(label: str, url: str, seconds: int) -> None:
    jwt_secret = secrets.token_urlsafe(48)
    trip_id, bearer = _prepare(url, jwt_secret)
    token = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory() as logs:
        env = {**os.environ, "DATABASE_URL": url, "OTB_SANDBOX_MODE": "1",
               "OTB_TRACCAR_TOKEN": token, "OTB_JWT_SECRET": jwt_secret,
               "BENCH_TOKEN": token, "BENCH_DEVICES": str(VEHICLES),
               "BENCH_THREADS": str(THREADS),
               "BENCH_BASE_EPOCH": str(int(time.time()) - 3 * 3600)}
        api = Gunicorn("wsgi:app", env, Path(logs))
        try:
            api_rate, api_bad = _wrk(api.url, seconds, env)
            headers = {"Authorization": f"Bearer {bearer}"}
            track_url = f"{api.url}/api/v1/trips/{trip_id}/track"
            simplified = _reads(track_url, headers, {})
            full = _reads(track_url, headers, {"full": "true"})
            answer = requests.get(track_url, headers=headers, timeout=30).json()
        finally:
            api.stop()
        bare_rates = {}
        for target in ("app", "raw"):
            bare = Gunicorn(f"bench.bare_ingest:{target}", env, Path(logs))
            try:
                bare_rates[target], _ = _wrk(bare.url, seconds, env)
            finally:
                bare.stop()
    bare_rate, raw_rate = bare_rates["app"], bare_rates["raw"]
    print(f"[{label}] ingest (gunicorn {' '.join(GUNICORN)}; wrk -t{THREADS} -c{CONNECTIONS} "
          f"-d{seconds}s; {VEHICLES} vehicles, one fix per request)")
    print(f"[{label}]   POST /telemetry/traccar  {api_rate:8.0f} positions/s  "
          f"({api_bad} non-200)")
    print(f"[{label}]   bare endpoint (Flask)    {bare_rate:8.0f} requests/s")
    print(f"[{label}]   bare endpoint (WSGI)     {raw_rate:8.0f} requests/s")
    print(f"[{label}]   ratio ingest/bare        {api_rate / bare_rate:8.2f}  (target >= 0.30)")
    print(f"[{label}]   ratio ingest/bare WSGI   {api_rate / raw_rate:8.2f}  "
          "(the fast path's floor)")
    print(f"[{label}]   headroom over 137/s      {api_rate / 137:8.1f}x (target >= 10x)")
    print(f"[{label}] track read of a {TRACK_HOURS}-hour run, a fix every {TRACK_EVERY_S} s "
          f"({answer.get('point_count')} fixes, {len(answer.get('points', []))} drawn, "
          f"gps_km {answer.get('gps_km')}), {READS} reads:")
    print(f"[{label}]   simplified  median {median(simplified) * 1000:6.1f} ms  "
          f"p95 {percentile(simplified, 95) * 1000:6.1f} ms  (target median <= 50 ms)")
    print(f"[{label}]   full=true   median {median(full) * 1000:6.1f} ms  "
          f"p95 {percentile(full, 95) * 1000:6.1f} ms")


def _pg_url() -> str | None:
    url = make_url(os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG))
    try:
        admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{url.database}"'))
        admin.dispose()
    except Exception as exc:  # noqa: BLE001 - no server: SQLite figures only
        print(f"PostgreSQL skipped: {exc.__class__.__name__}")
        return None
    return url.render_as_string(hide_password=False)


def main() -> None:
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    if shutil.which("wrk") is None:
        print("wrk not found (Debian: apt-get install wrk); positions benchmark skipped")
        return
    with tempfile.TemporaryDirectory() as tmp:
        run("sqlite", f"sqlite:///{Path(tmp) / 'bench.sqlite'}", seconds)
    pg = _pg_url()
    if pg:
        run("postgresql", pg, seconds)


if __name__ == "__main__":
    main()
