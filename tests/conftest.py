"""Shared fixtures: a migrated database (SQLite, or PostgreSQL via TEST_DATABASE_URL),
the app wired to loopback sandboxes, HTTP clients, demo data and a controllable clock.

Each test's writes are rolled back at its end (``_isolated``); a test whose writes another
thread or process must see asks for ``committed_db`` (``live_server`` does) and gets a
second database, emptied after it. Builders for rows and bodies live in tests/factories.py.
"""
from __future__ import annotations

import os
import threading
from datetime import datetime

import pytest
from sqlalchemy import create_engine, make_url, select, text
from werkzeug.serving import make_server

from app import clock, create_app, db
from app.migrate import upgrade
from app.models import metadata
from providers.sandbox import runner


def _empty_database(tmp_path_factory, name: str) -> str:
    """A migrated, empty database: a SQLite file, or on the PostgreSQL server of
    ``TEST_DATABASE_URL`` that database (``name`` "test") or a sibling one created here."""
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        url = f"sqlite:///{tmp_path_factory.mktemp(name) / 'test.sqlite'}"
    elif make_url(server).get_backend_name() != "postgresql":
        raise pytest.UsageError("TEST_DATABASE_URL must name a PostgreSQL database")
    elif name == "test":
        url = server
        engine = create_engine(url)
        with engine.begin() as conn:  # start from an empty schema every run
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
    else:
        base = make_url(server)
        target = base.set(database=f"{base.database}_{name}")
        engine = create_engine(base, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{target.database}"'))
        engine.dispose()
        url = target.render_as_string(hide_password=False)
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def empty_database(tmp_path_factory):
    """``empty_database(name)``: the URL of another migrated, empty database."""
    return lambda name: _empty_database(tmp_path_factory, name)


@pytest.fixture(scope="session")
def seeded_database(app, db_engine, empty_database):
    """``seeded_database(name, now, seed)``: the engine of another migrated database in which
    ``seed(session)`` ran on the app clock at ``now`` and was committed (a module's own
    data, e.g. the demo with its history); the caller disposes of it."""
    def make(name: str, now, seed):
        engine = db.make_engine(empty_database(name))
        db.bind(engine)
        clock.set_now(now)
        try:
            with app.app_context():
                seed(db.session)
                db.session.commit()
                db.session.remove()
        finally:
            clock.set_now(None)
            db.bind(db_engine)
        return engine
    return make


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """The database most tests run in, each inside a transaction rolled back at its end."""
    return _empty_database(tmp_path_factory, "test")


@pytest.fixture(scope="session")
def sandboxes():
    servers = runner.start_all(0)
    yield servers
    for server in servers.values():
        server.stop()


# The suite signs in far more often than any client may: limits it cannot reach here;
# tests/auth/test_ratelimit.py sets low ones where it checks them.
SUITE_RATE_LIMITS = {"RATELIMIT_LOGIN": "100000 per minute",
                     "RATELIMIT_QUOTES": "100000 per minute",
                     "RATELIMIT_PARTNER": "100000 per minute"}


@pytest.fixture(scope="session")
def app(database_url, sandboxes):
    application = create_app({"DATABASE_URL": database_url, "TESTING": True,
                              "SANDBOX_MODE": True, **SUITE_RATE_LIMITS,
                              **runner.settings_for(sandboxes)})
    return application


@pytest.fixture(scope="session")
def db_engine(app):
    """The app's own engine, on ``database_url``."""
    with app.app_context():
        bind = db.session.get_bind()
        db.session.remove()
        return bind


@pytest.fixture(scope="session")
def demo_engine(app, db_engine, tmp_path_factory):
    """A third database: the demo data (without history), seeded and committed once for
    every test that asks for ``demo``."""
    from app import seed

    engine = db.make_engine(_empty_database(tmp_path_factory, "demo"))
    db.bind(engine)
    with app.app_context():
        seed.seed_demo(db.session)
        db.session.commit()
    db.bind(db_engine)
    yield engine
    engine.dispose()


@pytest.fixture(autouse=True)
def _isolated(request):
    """Whatever a test writes is rolled back at its end: the app's sessions join one
    transaction of a connection (each session commit releases a SAVEPOINT) that is never
    committed; on the demo database when the test asks for ``demo``, else on an empty one.
    Tests that need real commits use ``committed_db`` instead; a module that prepares a
    database of its own once (``isolated_engine``) rolls back on that. Every test ends
    with the real clock again."""
    if "committed_db" in request.fixturenames:
        request.getfixturevalue("committed_db")  # before any other fixture writes
        yield
    elif "app" in request.fixturenames:
        app, default = request.getfixturevalue("app"), request.getfixturevalue("db_engine")
        if "isolated_engine" in request.fixturenames:  # a module's own prepared database
            engine = request.getfixturevalue("isolated_engine")
        elif "demo" in request.fixturenames:
            engine = request.getfixturevalue("demo_engine")
        else:
            engine = default
        with engine.connect() as connection:
            outer = connection.begin()
            # A SAVEPOINT around everything: a session bound to this connection by hand
            # (``Session(bind=...)``) then nests in a SAVEPOINT of its own as well.
            connection.begin_nested()
            db.bind(connection)
            try:
                yield
            finally:
                db.bind(default)
                app.extensions.pop("wechat_client", None)  # its token cache holds the bind
                outer.rollback()
    else:
        yield
    clock.set_now(None)


@pytest.fixture(scope="session")
def committing_database_url(tmp_path_factory) -> str:
    return _empty_database(tmp_path_factory, "committed")


@pytest.fixture(scope="session")
def committing_engine(committing_database_url):
    engine = db.make_engine(committing_database_url)
    yield engine
    engine.dispose()


def _wipe(engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(t.name for t in metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")  # trips <-> offers cycle
            for table in reversed(metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture
def committed_db(app, db_engine, committing_engine, committing_database_url):
    """For tests whose writes must really be committed, because another thread or process
    reads them (a live server, a worker process, racing requests): the app works on a
    database of their own, emptied after each such test. Yields that database's URL."""
    db.bind(committing_engine)
    try:
        yield committing_database_url
    finally:
        db.bind(db_engine)
        app.extensions.pop("wechat_client", None)
        _wipe(committing_engine)


@pytest.fixture
def session(app):
    with app.app_context():
        yield db.session
        db.session.remove()


@pytest.fixture
def demo(app):
    """The demo units, users, vehicles and drivers; returns {openid: user id} and more.

    Without the demo history (last month's trips): tests choose their own clock and periods.
    Already there on the demo database; seeded here on ``committed_db``.
    """
    from app import seed
    from app.accounts.models import Unit, User

    with app.app_context():
        seed.seed_demo(db.session)  # does nothing where the demo exists
        db.session.commit()
        users = {u.openid or u.phone: u.id for u in db.session.scalars(select(User))}
        units = {u.name: u.id for u in db.session.scalars(select(Unit))}
        db.session.remove()
    return {"users": users, "units": units}


@pytest.fixture
def client(app):
    return app.test_client()


class Api:
    """A thin JSON client that logs in through the WeChat sandbox like the mini-program."""

    def __init__(self, client):
        self.client = client
        self.tokens: dict[str, str] = {}

    def login(self, openid: str) -> str:
        if openid not in self.tokens:
            resp = self.client.post("/api/v1/auth/wechat-login", json={"code": f"sandbox:{openid}"})
            assert resp.status_code == 200, resp.get_json()
            self.tokens[openid] = resp.get_json()["access_token"]
        return self.tokens[openid]

    def bind(self, openid: str, phone: str) -> str:
        """Log a pre-registered user in through the binding flow; returns ``openid``."""
        ticket = self.client.post("/api/v1/auth/wechat-login",
                                  json={"code": f"sandbox:{openid}"}).get_json()["ticket"]
        bound = self.client.post("/api/v1/auth/bind", json={
            "ticket": ticket, "phone_code": f"sandbox-phone:{phone}"})
        assert bound.status_code == 200, bound.get_json()
        self.tokens[openid] = bound.get_json()["access_token"]
        return openid

    def call(self, method: str, path: str, as_: str | None = None, json=None, headers=None,
             **kwargs):
        headers = dict(headers or {})
        if as_:
            headers["Authorization"] = f"Bearer {self.login(as_)}"
        return self.client.open(f"/api/v1{path}", method=method, json=json, headers=headers,
                                **kwargs)

    def get(self, path, as_=None, **kw):
        return self.call("GET", path, as_, **kw)

    def post(self, path, as_=None, json=None, **kw):
        return self.call("POST", path, as_, json=json if json is not None else {}, **kw)

    def patch(self, path, as_=None, json=None, **kw):
        return self.call("PATCH", path, as_, json=json, **kw)

    def delete(self, path, as_=None, **kw):
        return self.call("DELETE", path, as_, **kw)


@pytest.fixture
def api(client, demo):
    return Api(client)


@pytest.fixture
def live_server(app, committed_db):
    """The app on a real multi-threaded HTTP server on loopback (for races and callbacks);
    its request threads see only committed data, so the test runs on ``committed_db``."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)  # a short poll: shutdown returns at once
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def frozen_clock():
    """Freeze app time; call the returned function with an aware datetime to move it."""

    def move(to: datetime) -> datetime:
        clock.set_now(to)
        return to

    yield move
    clock.set_now(None)
