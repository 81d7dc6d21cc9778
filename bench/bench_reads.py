"""Read paths at city scale: lists and details against a bare endpoint, at 10k and 1M trips.

Builds a database of N trips (``BENCH_SIZES``, default ``10k``; ``10k,1m`` adds a million)
from the demo and its last-month history: every history trip is a template cloned, with
its events, offers, quote rounds, assignment, driver's run, charge with lines and dispute,
onto applicants drawn from ~2,000 travellers in ~120 units and moved back in time across
ten years; the newest 0.2 % are approved fleet trips waiting in the dispatch queue; monthly
statements for every unit, supplier and month. Rows go in with ``executemany`` (SQLite) or
``COPY`` (PostgreSQL), not the ORM. Built databases are kept under ``var/bench/`` (SQLite)
or as ``<db>_reads_<size>`` next to ``BENCH_DATABASE_URL`` (PostgreSQL), keyed by a hash of
the migrations and this generator, so a rerun starts at once.

Then, for each database, the app (``gunicorn wsgi:app``) and a bare Flask endpoint
returning ``{}`` (``bench.bare:app``) run one after the other under the same gunicorn
settings (2 workers × 4 threads); ``wrk`` drives each (16 connections, ``BENCH_SECONDS``
each, default 8) and the figure is a route's requests per second ÷ the bare endpoint's in
the same run, plus p99 latency for a single client. On a shared machine requests per second
follow the others' load; the servers' CPU time per request (user + system of the gunicorn
master and workers, from /proc) hardly does, so its ratio (bare's ÷ the route's) is printed
as well: what the requests-per-second ratio would be on an otherwise idle machine. A
floor is measured too (``bench.floor_reads``): the supervisor's page read by the database
driver into dicts and written by orjson, with no ORM, schema, scope or hook, which bounds
what any implementation of a list can reach here.

Run: ``BENCH_SIZES=10k python -m bench bench_reads``; ``BENCH_DATABASE_URL=postgresql+psycopg://
postgres@127.0.0.1:54329/perf_bench`` adds PostgreSQL.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

if __package__ in (None, ""):  # python bench/bench_reads.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "var" / "bench"
GENERATOR_VERSION = "1"
SIZES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000}
NOW = datetime(2026, 11, 25, 17, 48, tzinfo=timezone(timedelta(hours=8)))
SPAN = timedelta(days=3650)          # ten years of history at 1M trips
QUEUE_SHARE = 0.002                  # approved fleet trips waiting for a vehicle
POOL_DISTRICTS, POOL_TOWNS, POOL_USERS_PER_UNIT = 10, 10, 18
SUPPLIERS = ("fleet", "ridehail", "rental-a", "rental-b")
# Tables cloned with each trip, parents first; their foreign keys to each other.
CLONED = {
    "trips": {},
    "offers": {"trip_id": "trips"},
    "trip_events": {"trip_id": "trips"},
    "quote_rounds": {"trip_id": "trips"},
    "assignments": {"trip_id": "trips"},
    "trip_runs": {"trip_id": "trips", "assignment_id": "assignments"},
    "trip_disputes": {"trip_id": "trips"},
    "charges": {"trip_id": "trips"},
    "charge_lines": {"charge_id": "charges"},
}
# Columns naming the applicant (replaced by the clone's applicant where they name the template's).
USER_COLUMNS = {"trips": ("applicant_id",), "trip_events": ("actor_id", "on_behalf_of_id"),
                "quote_rounds": ("requested_by_id",), "trip_disputes": ("raised_by_id",)}
UNIT_COLUMNS = {"trips": ("unit_id",), "charges": ("unit_id",)}
CONNECTIONS, THREADS = 16, 2


def schema_hash() -> str:
    digest = hashlib.sha256(GENERATOR_VERSION.encode())
    for path in sorted((ROOT / "migrations" / "versions").glob("*.py")) + [
            ROOT / "app" / "seed.py", ROOT / "app" / "demo_history.py"]:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


# --- building -------------------------------------------------------------------------------

def _seed(url: str) -> None:
    """The demo, its history (settled), a pool of units and travellers, queue templates."""
    from sqlalchemy import select

    from app import clock, create_app, db, demo_history
    from app.accounts.models import Role, Unit, UnitLevel, User
    from app.migrate import upgrade
    from app.settlements import service as settlements
    from app.trips.models import Channel, Trip, TripEvent, TripState

    upgrade(url)
    app = create_app({"DATABASE_URL": url, "SANDBOX_MODE": True})
    clock.set_now(NOW)
    try:
        with app.app_context():
            session = db.session
            demo_history.seed_demo_with_history(session, now=NOW)
            finance = session.scalar(select(User).where(User.openid == "demo-finance"))
            settlements.generate(session, period=demo_history.period_label(NOW), actor=finance)
            city = session.scalar(select(Unit).where(Unit.parent_id.is_(None)))
            phone = 15000000000
            for d in range(POOL_DISTRICTS):
                district = Unit(name=f"基准区{d + 1}", level=UnitLevel.DISTRICT, parent=city,
                                region_code="320400")
                session.add(district)
                session.flush()
                district.path = f"{city.path}{district.id}/"
                for t in range(POOL_TOWNS):
                    town = Unit(name=f"基准区{d + 1}街道{t + 1}", level=UnitLevel.TOWN,
                                parent=district, region_code="320400")
                    session.add(town)
                    session.flush()
                    town.path = f"{district.path}{town.id}/"
                    for _ in range(POOL_USERS_PER_UNIT):
                        phone += 1
                        user = User(name="基准用户", phone=str(phone), unit=town)
                        user.set_roles([Role.TRAVELER.value])
                        session.add(user)
            traveler = session.scalar(select(User).where(User.openid == "demo-traveler"))
            for i in range(4):
                depart = NOW + timedelta(days=2, hours=i)
                trip = Trip(applicant_id=traveler.id, unit_id=traveler.unit_id,
                            state=TripState.DRAFT, channel=Channel.FLEET,
                            purpose_category="meeting", purpose_text="基准排队",
                            passengers=[{"name": "张明"}], depart_at=depart,
                            return_at=depart + timedelta(hours=3),
                            stops=[{"name": "市民广场", "lat": 31.81, "lng": 119.97},
                                   {"name": "武进区政府", "lat": 31.70, "lng": 119.94}])
                session.add(trip)
                for to in (TripState.QUOTED, TripState.PENDING_APPROVAL, TripState.APPROVED):
                    trip.events.append(TripEvent(from_state=trip.state, to_state=to, at=NOW,
                                                 actor_id=traveler.id, comment="", data={}))
                    trip.state = to
            session.commit()
            engine = db.session.get_bind()
            db.session.remove()
            engine.dispose()  # the bulk load switches SQLite's journal: no other connection
    finally:
        clock.set_now(None)


class Writer:
    """Raw DB-API reads and bulk writes for one database (SQLite or PostgreSQL)."""

    def __init__(self, url: str):
        from sqlalchemy import create_engine, make_url

        self.url = url
        self.pg = make_url(url).get_backend_name() == "postgresql"
        self.engine = create_engine(url)
        self.conn = self.engine.raw_connection()
        self.cur = self.conn.cursor()
        if self.pg:  # rows go in parents and children batch by batch: no FK triggers meanwhile
            self.cur.execute("SET session_replication_role = replica")
        else:
            self.cur.execute("PRAGMA journal_mode=OFF")  # a bulk load: no rollback journal
            self.cur.execute("PRAGMA synchronous=OFF")
            self.cur.execute("PRAGMA cache_size=-262144")
            self.cur.execute("PRAGMA foreign_keys=OFF")

    def rows(self, sql: str, params=()) -> tuple[list[str], list[tuple]]:
        self.cur.execute(sql.replace("?", "%s") if self.pg else sql, params)
        names = [d[0] for d in self.cur.description]
        return names, [tuple(r) for r in self.cur.fetchall()]

    def scalar(self, sql: str):
        self.cur.execute(sql)
        return self.cur.fetchone()[0]

    def date_columns(self, table: str) -> set[str]:
        from app.models import metadata

        return {c.name for c in metadata.tables[table].columns
                if type(c.type).__name__ == "UTCDateTime"}

    def json_columns(self, table: str) -> set[str]:
        from app.models import metadata

        return {c.name for c in metadata.tables[table].columns
                if type(c.type).__name__ == "JSON"}

    def shift(self, value, delta: timedelta):
        if value is None or not delta:
            return value
        if self.pg:
            return value - delta
        return (datetime.fromisoformat(value) - delta).isoformat(" ", "microseconds")

    def insert(self, table: str, names: list[str], rows) -> int:
        count = 0
        if self.pg:
            json_idx = [i for i, n in enumerate(names) if n in self.json_columns(table)]
            with self.cur.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
                for row in rows:
                    if json_idx:
                        row = list(row)
                        for i in json_idx:
                            row[i] = json.dumps(row[i], ensure_ascii=False)
                    copy.write_row(row)
                    count += 1
            return count
        sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        batch = []
        for row in rows:
            batch.append(row)
            if len(batch) >= 20_000:
                self.cur.executemany(sql, batch)
                count += len(batch)
                batch = []
        if batch:
            self.cur.executemany(sql, batch)
            count += len(batch)
        return count

    def finish(self) -> None:
        from app.models import metadata

        if self.pg:
            for table in metadata.sorted_tables:
                if "id" in table.c and table.c.id.primary_key:
                    self.cur.execute(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                     f"COALESCE((SELECT max(id) FROM {table.name}), 1))")
        self.conn.commit()
        if self.pg:
            driver = self.conn.driver_connection
            driver.autocommit = True
            driver.execute("VACUUM ANALYZE")
        else:
            self.cur.execute("ANALYZE")
            self.conn.commit()
            self.cur.execute("PRAGMA journal_mode=WAL")
        self.conn.close()
        self.engine.dispose()


def _clone(url: str, n_trips: int) -> dict[str, int]:
    """Clone the seeded trips (templates) until the database holds ``n_trips``."""
    w = Writer(url)
    _, users = w.rows("SELECT u.id, u.unit_id FROM users u JOIN user_roles r ON r.user_id = u.id "
                      "WHERE r.role = 'traveler' ORDER BY u.id")
    templates: dict[str, tuple[list[str], dict[int, list[tuple]]]] = {}
    names_t, trips = w.rows("SELECT * FROM trips ORDER BY id")
    queue = [t for t in trips if t[names_t.index("purpose_text")] == "基准排队"]
    history = [t for t in trips if t not in queue and t[names_t.index("state")]
               in ("completed", "confirmed", "settled")]
    for table, fks in CLONED.items():
        if table == "trips":
            continue
        key = "trip_id" if "trip_id" in fks else None
        names, rows = w.rows(f"SELECT * FROM {table} ORDER BY id")
        if key is None:  # charge_lines: by their charge's trip
            _, charges = w.rows("SELECT id, trip_id FROM charges")
            trip_of = dict(charges)
            by_trip: dict[int, list[tuple]] = {}
            for row in rows:
                by_trip.setdefault(trip_of[row[names.index("charge_id")]], []).append(row)
        else:
            by_trip = {}
            for row in rows:
                by_trip.setdefault(row[names.index(key)], []).append(row)
        templates[table] = (names, by_trip)
    next_id = {t: (w.scalar(f"SELECT COALESCE(max(id), 0) FROM {t}") or 0) + 1 for t in CLONED}
    existing = len(trips)
    wanted = max(0, n_trips - existing)
    n_queue = int(wanted * QUEUE_SHARE)
    n_history = wanted - n_queue
    plan = [(history[i % len(history)], SPAN * (n_trips / 1_000_000) * (1 - i / max(1, n_history)))
            for i in range(n_history)]
    plan += [(queue[i % len(queue)], timedelta(minutes=-i)) for i in range(n_queue)]
    dates = {t: w.date_columns(t) for t in CLONED}
    id_maps: list[dict[str, dict[int, int]]] = []
    out: dict[str, list[tuple]] = {t: [] for t in CLONED}
    counts = {t: 0 for t in CLONED}

    def flush():
        for table in CLONED:
            if out[table]:
                names = names_t if table == "trips" else templates[table][0]
                counts[table] += w.insert(table, names, out[table])
                out[table] = []

    for n, (trip, delta) in enumerate(plan):
        user_id, unit_id = users[(n * 7919) % len(users)]
        tpl_trip_id = trip[0]
        tpl_applicant = trip[names_t.index("applicant_id")]
        ids: dict[str, dict[int, int]] = {t: {} for t in CLONED}
        delta = timedelta(seconds=int(delta.total_seconds()))
        for table in CLONED:
            if table == "trips":
                names, rows = names_t, [trip]
            else:
                names, by_trip = templates[table]
                rows = by_trip.get(tpl_trip_id, ())
            fks = CLONED[table]
            for row in rows:
                row = list(row)
                new_id = next_id[table]
                next_id[table] += 1
                ids[table][row[0]] = new_id
                row[0] = new_id
                for col, parent in fks.items():
                    i = names.index(col)
                    row[i] = ids[parent].get(row[i], row[i])
                for col in USER_COLUMNS.get(table, ()):
                    i = names.index(col)
                    if row[i] == tpl_applicant:
                        row[i] = user_id
                for col in UNIT_COLUMNS.get(table, ()):
                    row[names.index(col)] = unit_id
                for col in dates[table]:
                    i = names.index(col)
                    row[i] = w.shift(row[i], delta)
                if table == "trips":
                    row[names.index("selected_offer_id")] = None  # set below, offers first
                    row[names.index("version")] = 1
                if table == "assignments":
                    row[names.index("active")] = False
                if table == "charges":
                    row[names.index("order_id")] = f"bench-{new_id}"
                out[table].append(tuple(row))
        selected = trip[names_t.index("selected_offer_id")]
        if selected is not None:
            row = list(out["trips"][-1])
            row[names_t.index("selected_offer_id")] = ids["offers"].get(selected)
            out["trips"][-1] = tuple(row)
        if len(out["trips"]) >= 20_000:
            flush()
    flush()
    counts["settlements"] = _statements(w, n_trips)
    w.finish()
    return counts


def _statements(w: Writer, n_trips: int) -> int:
    """Monthly statements for every unit with travellers, supplier and month of the span."""
    names, rows = w.rows("SELECT * FROM settlements ORDER BY id")
    if not rows:
        return 0
    template = list(rows[0])
    _, units = w.rows("SELECT DISTINCT unit_id FROM users")
    months = max(12, int(120 * n_trips / 1_000_000))
    period_at = names.index("period")
    taken = {(r[period_at], r[names.index("unit_id")], r[names.index("supplier")]) for r in rows}
    next_id = w.scalar("SELECT max(id) FROM settlements") + 1
    out = []
    year, month = NOW.year, NOW.month
    for m in range(months, 1, -1):
        y, mo = divmod(year * 12 + month - 1 - m, 12)
        period = f"{y:04d}-{mo + 1:02d}"
        for (unit_id,) in units:
            for supplier in SUPPLIERS:
                if (period, unit_id, supplier) in taken:
                    continue
                row = list(template)
                row[0] = next_id
                next_id += 1
                row[period_at] = period
                row[names.index("unit_id")] = unit_id
                row[names.index("supplier")] = supplier
                row[names.index("state")] = "closed"
                out.append(tuple(row))
    return w.insert("settlements", names, out)


def build(size: str, pg_url: str | None) -> str:
    """The URL of a built database of ``size`` trips (built now unless cached)."""
    from sqlalchemy import create_engine, make_url, text

    n = SIZES[size]
    tag = f"reads_{size}_{schema_hash()}"
    if pg_url is None:
        CACHE.mkdir(parents=True, exist_ok=True)
        path = CACHE / f"{tag}.sqlite"
        done = CACHE / f"{tag}.done"
        url = f"sqlite:///{path}"
        if done.exists() and path.exists():
            return url
        for old in CACHE.glob(f"reads_{size}_*"):
            old.unlink()
        build_url = url
    else:
        base = make_url(pg_url)
        target = base.set(database=f"{base.database}_reads_{size}")
        url = target.render_as_string(hide_password=False)
        admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                 {"n": target.database})
        if exists:
            probe = create_engine(url)
            try:
                with probe.connect() as conn:
                    mark = conn.scalar(text("SELECT obj_description('trips'::regclass)"))
            finally:
                probe.dispose()
            if mark == tag:
                admin.dispose()
                return url
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{target.database}"'))
        admin.dispose()
        build_url = url
    started = time.perf_counter()
    _seed(build_url)
    counts = _clone(build_url, n)
    print(f"built {size} ({'PostgreSQL' if pg_url else 'SQLite'}) in "
          f"{time.perf_counter() - started:.0f} s: "
          + ", ".join(f"{t} +{c}" for t, c in counts.items() if c), flush=True)
    if pg_url is None:
        done.write_text(json.dumps(counts))
    else:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text(f"COMMENT ON TABLE trips IS '{tag}'"))
        engine.dispose()
    return url


# --- serving and driving ----------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    def __init__(self, target: str, env: dict, root: Path = ROOT):
        self.port = _free_port()
        self.log = open(CACHE / f"gunicorn-{target.replace(':', '_')}.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", "2", "--threads", "4", "--backlog", "256",
             "-b", f"127.0.0.1:{self.port}", "--log-level", "warning", target],
            cwd=root, env={**env, "PYTHONPATH": str(root)}, stdout=self.log,
            stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"gunicorn {target} did not start; see {self.log.name}")
                time.sleep(0.2)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the master and its workers: per request,
        a figure the machine's other load changes far less than requests per second."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(entry) == self.proc.pid or int(fields[1]) == self.proc.pid:
                total += int(fields[11]) + int(fields[12])
        return total / ticks

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def wrk(url: str, token: str | None, seconds: int, connections: int = CONNECTIONS,
        threads: int = THREADS) -> dict:
    argv = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency",
            "--timeout", "10s"]
    if token:
        argv += ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(argv + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests_done = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"{url}: {non2xx.group(1)} non-2xx answers\n{out}")

    def ms(label: str) -> float:
        found = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)\b", out)
        if not found:
            return float("nan")
        value, unit = float(found.group(1)), found.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    return {"rps": rps, "p50": ms("50"), "p99": ms("99"), "requests": requests_done}


def measured(server: "Gunicorn", url: str, token: str | None, seconds: int) -> dict:
    """wrk's figures plus the server's CPU milliseconds per request."""
    before = server.cpu_seconds()
    fig = wrk(url, token, seconds)
    fig["cpu_ms"] = (server.cpu_seconds() - before) * 1000 / max(1, fig["requests"])
    return fig


def served_and_measured(target: str, env: dict, path: str, token: str | None,
                        seconds: int) -> dict:
    """Serve ``target`` alone, warm it up, measure ``path`` and stop it."""
    server = Gunicorn(target, env)
    try:
        wrk(f"{server.base}{path}", token, 2)
        return measured(server, f"{server.base}{path}", token, seconds)
    finally:
        server.stop()


def _tokens(url: str, secret: str) -> dict[str, tuple[str, int]]:
    """JWTs for the demo users the routes are read as, and a trip id with a long history."""
    from sqlalchemy import func, select

    from app import create_app, db
    from app.accounts.models import User
    from app.security import issue_token
    from app.trips.models import TripEvent

    app = create_app({"DATABASE_URL": url, "SANDBOX_MODE": True, "JWT_SECRET": secret})
    with app.app_context():
        out = {}
        for openid in ("demo-traveler", "demo-supervisor", "demo-dispatcher", "demo-finance",
                       "demo-approver"):
            user = db.session.scalar(select(User).where(User.openid == openid))
            out[openid] = (issue_token(user)[0], user.id)
        # Among the last 2,000 events' trips (not all 8M events): the longest history.
        last = db.session.scalar(select(func.max(TripEvent.id)))
        trip_id = db.session.scalar(select(TripEvent.trip_id).where(TripEvent.id > last - 2000)
                                    .group_by(TripEvent.trip_id)
                                    .order_by(func.count().desc(), TripEvent.trip_id.desc())
                                    .limit(1))
        out["trip"] = ("", trip_id)
        db.session.remove()
    return out


def routes(tokens) -> list[tuple[str, str, str]]:
    trip_id = tokens["trip"][1]
    return [
        ("GET /trips?limit=20 (traveler)", "/api/v1/trips?limit=20", "demo-traveler"),
        ("GET /trips?limit=20 (approver, unit)", "/api/v1/trips?limit=20", "demo-approver"),
        ("GET /trips?limit=20 (supervisor)", "/api/v1/trips?limit=20", "demo-supervisor"),
        (f"GET /trips/{{id}} ({tokens and 'supervisor'})", f"/api/v1/trips/{trip_id}",
         "demo-supervisor"),
        ("GET /dispatch/queue?limit=20", "/api/v1/dispatch/queue?limit=20", "demo-dispatcher"),
        ("GET /settlements?limit=20", "/api/v1/settlements?limit=20", "demo-finance"),
        ("GET /me", "/api/v1/me", "demo-traveler"),
    ]


def run_size(size: str, url: str, label: str, seconds: int) -> list[str]:
    import requests

    secret = secrets.token_urlsafe(48)
    tokens = _tokens(url, secret)
    env = {**os.environ, "DATABASE_URL": url, "OTB_SANDBOX_MODE": "1", "OTB_JWT_SECRET": secret,
           "PYTHONPATH": str(ROOT)}
    load = os.getloadavg()[0]
    lines = []
    bare_fig = served_and_measured("bench.bare:app", env, "/bare", None, seconds)
    lines.append(f"[{label} {size}] bare endpoint {bare_fig['rps']:8.0f} req/s  "
                 f"p99 {bare_fig['p99']:6.1f} ms   CPU {bare_fig['cpu_ms']:5.2f} ms/req  "
                 f"(load {load:.1f})")
    # The floor: the supervisor's page read with the driver into dicts, nothing else.
    fig = served_and_measured("bench.floor_reads:app", {**env, "FLOOR_DATABASE_URL": url},
                              "/trips", tokens["demo-supervisor"][0], seconds)
    lines.append(f"[{label} {size}] {'floor: page of 20 by the driver alone':38s} "
                 f"{fig['rps']:6.0f} req/s {fig['rps'] / bare_fig['rps']:5.2f} x bare | CPU "
                 f"{fig['cpu_ms']:5.2f} ms/req {bare_fig['cpu_ms'] / fig['cpu_ms']:5.2f} x bare")
    # BENCH_APP_ROOT: serve another checkout's app on the same database (before/after figures).
    app = Gunicorn("wsgi:app", env, Path(os.environ.get("BENCH_APP_ROOT", ROOT)))
    try:
        for name, path, who in routes(tokens):
            token = tokens[who][0]
            resp = requests.get(f"{app.base}{path}", headers={"Authorization": f"Bearer {token}"},
                                timeout=60)
            resp.raise_for_status()
            items = len(resp.json().get("items", [])) if "items" in resp.json() else 1
            wrk(f"{app.base}{path}", token, 1)
            fig = measured(app, f"{app.base}{path}", token, seconds)
            single = wrk(f"{app.base}{path}", token, max(2, seconds // 2), connections=1, threads=1)
            lines.append(f"[{label} {size}] {name:38s} {fig['rps']:6.0f} req/s "
                         f"{fig['rps'] / bare_fig['rps']:5.2f} x bare | CPU {fig['cpu_ms']:5.2f} "
                         f"ms/req {bare_fig['cpu_ms'] / fig['cpu_ms']:5.2f} x bare | p99 1 client "
                         f"{single['p99']:6.1f} ms ({items} rows)")
    finally:
        app.stop()
    lines.append(f"[{label} {size}] load average after: {os.getloadavg()[0]:.1f}")
    return lines


def main() -> None:
    if shutil.which("wrk") is None:
        print("wrk not found: apt-get install wrk")
        return
    sizes = [s.strip().lower() for s in os.environ.get("BENCH_SIZES", "10k").split(",") if s.strip()]
    seconds = int(os.environ.get("BENCH_SECONDS", "8"))
    pg = os.environ.get("BENCH_DATABASE_URL")
    CACHE.mkdir(parents=True, exist_ok=True)
    report = []
    for size in sizes:
        for label, pg_url in [("SQLite", None)] + ([("PostgreSQL", pg)] if pg else []):
            url = build(size, pg_url)
            for line in run_size(size, url, label, seconds):
                print(line, flush=True)
                report.append(line)
    print(f"gunicorn -w 2 --threads 4; wrk -t{THREADS} -c{CONNECTIONS} -d{seconds}s; "
          f"p99 with wrk -t1 -c1; {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
