"""Every list and detail route loads what it shows in a fixed, small number of SQL
statements: a page of 20 costs what a page of 2 costs (no lazy load per row while the
answer is serialised), and no route needs more than ``BUDGET`` statements.

The statements are counted on the engine (``before_cursor_execute``) for one request each,
after the caller's token is issued, on a database holding the demo's history (about 40
trips with their events, offers, assignments, charges and statements) and a few trips
waiting in the dispatch queue and for approval."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event, select

from app import clock, db, demo_history
from app.accounts.models import User
from app.settlements import service as settlements
from app.trips.models import Channel, Trip, TripState
from tests import factories

SH = clock.SHANGHAI
NOW = datetime(2026, 11, 25, 17, 48, tzinfo=SH)
# Statements one request may cost: the caller (user, roles), the page, and one per kind of
# related row it shows, at most.
BUDGET = 8


def _seed(session):
    assert demo_history.seed_demo_with_history(session, now=NOW) is True
    finance = session.scalar(select(User).where(User.openid == "demo-finance"))
    settlements.generate(session, period=demo_history.period_label(NOW), actor=finance)
    traveler = session.scalar(select(User).where(User.openid == "demo-traveler"))
    for i in range(10):
        factories.trip(session, applicant_id=traveler.id, unit_id=traveler.unit_id,
                       state=TripState.APPROVED, channel=Channel.FLEET,
                       depart_at=NOW + timedelta(days=1, hours=i))


@pytest.fixture(scope="module")
def history(seeded_database):
    """The demo with last month's history and its statements, committed once for the module;
    plus ten approved fleet trips waiting for a vehicle and ten trips awaiting approval."""
    engine = seeded_database("query_counts", NOW, _seed)
    yield engine
    engine.dispose()


@pytest.fixture
def isolated_engine(history):
    return history


@pytest.fixture
def counted(isolated_engine, frozen_clock):
    """``counted(fn)``: run ``fn`` and return (its result, the SQL statements it ran)."""
    frozen_clock(NOW)

    def run(fn):
        statements: list[str] = []

        def count(conn, cursor, statement, parameters, context, executemany):
            if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
                statements.append(statement)

        event.listen(isolated_engine, "before_cursor_execute", count)
        try:
            result = fn()
        finally:
            event.remove(isolated_engine, "before_cursor_execute", count)
        return result, statements

    return run


@pytest.fixture
def probe(api, counted):
    """``probe(path, as_)``: GET ``path`` once (200) and return (body, statements)."""

    def get(path: str, as_: str):
        api.login(as_)  # the token first: signing in is not the read being counted
        resp, statements = counted(lambda: api.get(path, as_))
        assert resp.status_code == 200, resp.get_json()
        return resp.get_json(), statements

    return get


LISTS = [
    ("/trips", "demo-traveler"),
    ("/trips", "demo-approver"),
    ("/trips", "demo-supervisor"),
    ("/trips", "demo-dispatcher"),
    ("/trips", "demo-finance"),
    ("/dispatch/queue", "demo-dispatcher"),
    ("/settlements", "demo-finance"),
    ("/approvals?state=all", "demo-approver"),
    ("/approvals?state=all", "demo-city-approver"),
]


@pytest.mark.parametrize("path,as_", LISTS, ids=[f"{p} as {u}" for p, u in LISTS])
def test_a_page_of_20_costs_what_a_page_of_2_costs(probe, path, as_):
    sep = "&" if "?" in path else "?"
    small, few = probe(f"{path}{sep}limit=2", as_)
    big, many = probe(f"{path}{sep}limit=20", as_)
    assert len(big["items"]) > len(small["items"]) >= 1, "too few rows to tell"
    assert len(many) <= BUDGET, "\n".join(many)
    assert len(many) == len(few), "\n".join(many)


def test_the_seeded_lists_are_long_enough_to_tell(probe):
    for path, as_ in [("/trips?limit=20", "demo-supervisor"), ("/dispatch/queue?limit=20", "demo-dispatcher"),
                      ("/trips?limit=20", "demo-traveler")]:
        body, _ = probe(path, as_)
        assert len(body["items"]) >= 10, (path, as_)


DETAILS = ["trip", "me"]


def test_a_trip_detail_loads_in_a_few_statements(probe):
    page, _ = probe("/trips?limit=20", "demo-supervisor")
    longest = max(page["items"], key=lambda t: len(t["history"]))
    assert len(longest["history"]) >= 5
    body, statements = probe(f"/trips/{longest['id']}", "demo-supervisor")
    assert body["history"] == longest["history"]
    assert len(statements) <= BUDGET, "\n".join(statements)


def test_me_reads_the_user_its_roles_and_unit_in_one_statement(probe):
    body, statements = probe("/me", "demo-approver")
    assert body["roles"] == ["approver", "traveler"] and body["unit"]["name"]
    assert len(statements) == 1, "\n".join(statements)


LEAN = LISTS + [("/dispatch/disputes", "demo-dispatcher"), ("/settlements?limit=5", "demo-unit-finance")]


@pytest.mark.parametrize("path,as_", LEAN, ids=[f"{p} as {u}" for p, u in LEAN])
def test_pages_dump_leanly_to_exactly_what_marshmallow_dumps(api, isolated_engine, frozen_clock,
                                                             monkeypatch, path, as_):
    from app import api as wire

    frozen_clock(NOW)
    lean = api.get(path, as_)
    monkeypatch.setattr(wire, "LEAN_PAGES", False)
    plain = api.get(path, as_)
    assert lean.status_code == plain.status_code == 200
    assert lean.get_json()["items"], "nothing to compare"
    assert lean.get_data() == plain.get_data()
