"""Shared fixtures: a migrated database (SQLite, or PostgreSQL via TEST_DATABASE_URL),
the app wired to loopback sandboxes, HTTP clients, demo data and a controllable clock."""
from __future__ import annotations

import os
import threading
from datetime import datetime

import pytest
from sqlalchemy import create_engine, select, text
from werkzeug.serving import make_server

from app import clock, create_app, db
from app.migrate import upgrade
from app.models import metadata
from providers.sandbox import runner


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        engine = create_engine(url)
        with engine.begin() as conn:  # start from an empty schema every run
            if engine.dialect.name == "postgresql":
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def sandboxes():
    servers = runner.start_all(0)
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="session")
def app(database_url, sandboxes):
    application = create_app({"DATABASE_URL": database_url, "TESTING": True,
                              **runner.settings_for(sandboxes)})
    return application


def _wipe(engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(t.name for t in metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")  # trips <-> offers cycle
            for table in reversed(metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture(autouse=True)
def _clean_state(request):
    """Every test starts with empty tables and a real clock."""
    yield
    clock.set_now(None)
    if "app" in request.fixturenames:
        app = request.getfixturevalue("app")
        with app.app_context():
            db.session.remove()
            _wipe(db.session.get_bind())
        app.extensions.pop("wechat_client", None)


@pytest.fixture
def session(app):
    with app.app_context():
        yield db.session
        db.session.remove()


@pytest.fixture
def demo(app):
    """The demo units, users, vehicles and drivers; returns {openid: user id} and more.

    Without the demo history (last month's trips): tests choose their own clock and periods.
    """
    from app import seed
    from app.accounts.models import Unit, User

    with app.app_context():
        seed.seed_demo(db.session)
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
def live_server(app):
    """The app on a real multi-threaded HTTP server on loopback (for races and e2e)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
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
