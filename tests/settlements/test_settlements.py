"""Monthly settlement: statements per unit and supplier, idempotent, closed periods immutable."""
import random
import re
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import datetime, timedelta
from decimal import Decimal
from threading import Barrier

import pytest
import requests
from sqlalchemy import func, make_url, select

from app import clock, db
from app.accounts.models import User
from app.audit import AuditEntry
from app.settlements.models import Settlement, SettlementLine
from tests import factories

SH = clock.SHANGHAI
RACERS = 8


@pytest.fixture
def month(app, demo):
    """Confirmed charges in October 2026 for two units and two suppliers, one in November."""
    u = demo["users"]
    units = demo["units"]
    with app.app_context():
        s = db.session
        made = []
        for i, (who, unit, supplier, total) in enumerate([
            ("demo-traveler", "常州市发展和改革委员会", "fleet", "70.00"),
            ("demo-traveler", "常州市发展和改革委员会", "fleet", "290.00"),
            ("demo-traveler", "常州市发展和改革委员会", "rental-a", "425.00"),
            ("demo-traveler-2", "武进区市场监督管理局", "fleet", "515.50"),
        ]):
            trip = factories.trip(s, applicant_id=u[who], unit_id=units[unit], state="confirmed",
                                  depart_at=datetime(2026, 10, 10 + i, 9, tzinfo=SH))
            made.append(factories.charge(s, trip=trip, total=total, supplier=supplier,
                                         channel="fleet" if supplier == "fleet" else "rental"))
        late = factories.trip(s, applicant_id=u["demo-traveler"], unit_id=units["常州市发展和改革委员会"],
                              state="confirmed", depart_at=datetime(2026, 11, 2, 9, tzinfo=SH))
        factories.charge(s, trip=late, total="30.00")
        # a trip finishing at 23:30 local on 31 October belongs to October
        edge = factories.trip(s, applicant_id=u["demo-traveler"], unit_id=units["常州市发展和改革委员会"],
                              state="confirmed", depart_at=datetime(2026, 10, 31, 21, tzinfo=SH),
                              hours=2.5)
        factories.charge(s, trip=edge, total="60.00")
        # not yet confirmed: must not be settled
        open_trip = factories.trip(s, applicant_id=u["demo-traveler"],
                                   unit_id=units["常州市发展和改革委员会"], state="completed",
                                   depart_at=datetime(2026, 10, 20, 9, tzinfo=SH))
        factories.charge(s, trip=open_trip, total="99.00", final=False)
        s.commit()
        db.session.remove()
    return units


def totals(resp):
    body = resp.json() if isinstance(resp, requests.Response) else resp.get_json()
    return {(i["unit_name"], i["supplier"]): i["total"] for i in body["items"]}


def test_generate_per_unit_and_supplier(api, month):
    resp = api.post("/settlements", as_="demo-finance", json={"period": "2026-10"})
    assert resp.status_code == 200, resp.get_json()
    assert totals(resp) == {
        ("常州市发展和改革委员会", "fleet"): "420.00",      # 70 + 290 + 60 (23:30 on 31 Oct)
        ("常州市发展和改革委员会", "rental-a"): "425.00",
        ("武进区市场监督管理局", "fleet"): "515.50",
    }
    assert all(i["state"] == "draft" for i in resp.get_json()["items"])


def test_generating_twice_changes_nothing(api, app, month):
    first = api.post("/settlements", as_="demo-finance", json={"period": "2026-10"})
    second = api.post("/settlements", as_="demo-finance", json={"period": "2026-10"})
    assert totals(first) == totals(second)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SettlementLine)) == 5
        assert db.session.scalar(select(func.count()).select_from(Settlement)) == 3
        db.session.remove()


def test_closed_period_is_immutable_and_late_charges_become_adjustments(api, app, demo, month,
                                                                       drc_finance):
    items = api.post("/settlements", as_="demo-finance", json={"period": "2026-10"}).get_json()["items"]
    drc_fleet = next(i for i in items if i["supplier"] == "fleet" and i["unit_name"].startswith("常州市发展"))
    sid = drc_fleet["id"]
    assert api.post(f"/settlements/{sid}/issue", as_="demo-finance").status_code == 200
    assert api.post(f"/settlements/{sid}/confirm", as_=drc_finance).status_code == 200
    assert api.post(f"/settlements/{sid}/close", as_="demo-finance").get_json()["state"] == "closed"
    # a trip of October confirmed only now
    with app.app_context():
        trip = factories.trip(db.session, applicant_id=demo["users"]["demo-traveler"],
                              unit_id=month["常州市发展和改革委员会"], state="confirmed",
                              depart_at=datetime(2026, 10, 28, 9, tzinfo=SH))
        factories.charge(db.session, trip=trip, total="120.00")
        db.session.commit()
        db.session.remove()
    again = api.post("/settlements", as_="demo-finance", json={"period": "2026-10"})
    assert totals(again)[("常州市发展和改革委员会", "fleet")] == "420.00"  # closed: unchanged
    november = api.post("/settlements", as_="demo-finance", json={"period": "2026-11"})
    assert totals(november)[("常州市发展和改革委员会", "fleet")] == "150.00"  # 30 + 120 adjustment
    nov_id = next(i["id"] for i in november.get_json()["items"] if i["supplier"] == "fleet"
                  and i["unit_name"].startswith("常州市发展"))
    lines = api.get(f"/settlements/{nov_id}/lines", as_="demo-finance").get_json()["items"]
    assert sorted((l["kind"], l["amount"]) for l in lines) == [("adjustment", "120.00"),
                                                               ("charge", "30.00")]
    assert api.post(f"/settlements/{sid}/dispute", as_="demo-finance",
                    json={"reason": "x"}).status_code == 409


def test_held_charge_is_a_disputed_line(api, app, demo):
    with app.app_context():
        trip = factories.trip(db.session, applicant_id=demo["users"]["demo-traveler"],
                              unit_id=demo["units"]["常州市发展和改革委员会"], state="confirmed",
                              depart_at=datetime(2026, 10, 5, 9, tzinfo=SH))
        factories.charge(db.session, trip=trip, total="999.00", supplier="rental-b",
                         channel="rental", held=True)
        db.session.commit()
        db.session.remove()
    sid = api.post("/settlements", as_="demo-finance",
                   json={"period": "2026-10"}).get_json()["items"][0]["id"]
    line = api.get(f"/settlements/{sid}/lines", as_="demo-finance").get_json()["items"][0]
    assert line["disputed"] is True


@pytest.mark.parametrize("period, status", [("2026-13", 422), ("26-10", 422), ("2099-01", 422)])
def test_bad_periods(api, period, status):
    assert api.post("/settlements", as_="demo-finance",
                    json={"period": period}).status_code == status


def test_only_platform_finance_generates_and_scope_applies(api, app, demo, month):
    assert api.post("/settlements", as_="demo-traveler",
                    json={"period": "2026-10"}).status_code == 403
    # a unit finance officer in Wujin
    resp = api.post("/admin/users", as_="demo-admin", json={
        "name": "武进财务", "phone": "13700000002", "roles": ["finance"],
        "unit_id": demo["units"]["武进区市场监督管理局"]})
    assert resp.status_code == 201
    api.bind("wujin-finance", "13700000002")
    assert api.post("/settlements", as_="wujin-finance",
                    json={"period": "2026-10"}).status_code == 403
    items = api.post("/settlements", as_="demo-finance",
                     json={"period": "2026-10"}).get_json()["items"]
    visible = api.get("/settlements?period=2026-10", as_="wujin-finance").get_json()["items"]
    assert [i["unit_name"] for i in visible] == ["武进区市场监督管理局"]
    foreign = next(i["id"] for i in items if i["unit_name"] != "武进区市场监督管理局")
    assert api.get(f"/settlements/{foreign}", as_="wujin-finance").status_code == 404
    assert api.post(f"/settlements/{foreign}/confirm", as_="wujin-finance").status_code == 404


def test_totals_always_equal_sum_of_lines_over_generated_data(api, app, demo):
    """Property over random data: every statement's total is the sum of its lines."""
    rng = random.Random(20261125)
    suppliers = ["fleet", "rental-a", "rental-b", "ridehail"]
    units = [demo["units"]["常州市发展和改革委员会"], demo["units"]["武进区市场监督管理局"]]
    with app.app_context():
        for i in range(300):
            at = datetime(2026, 9, 1, tzinfo=SH) + timedelta(hours=rng.randrange(0, 24 * 61))
            trip = factories.trip(db.session, applicant_id=demo["users"]["demo-traveler"],
                                  unit_id=rng.choice(units), state="confirmed", depart_at=at,
                                  hours=rng.choice([1, 3, 9]))
            factories.charge(db.session, trip=trip, supplier=rng.choice(suppliers),
                             total=Decimal(rng.randrange(100, 200000)) / 100,
                             final=rng.random() > 0.1, held=rng.random() < 0.05)
        db.session.commit()
        db.session.remove()
    for period in ("2026-09", "2026-10", "2026-11"):
        assert api.post("/settlements", as_="demo-finance", json={"period": period}).status_code == 200
    with app.app_context():
        sums = dict(db.session.execute(select(SettlementLine.settlement_id,
                                              func.sum(SettlementLine.amount))
                                       .group_by(SettlementLine.settlement_id)).all())
        statements = db.session.scalars(select(Settlement)).all()
        assert statements
        for st in statements:
            assert st.total == Decimal(sums.get(st.id, 0)).quantize(Decimal("0.01")), st.id
        db.session.remove()


def test_allowed_actions_follow_state_and_caller(api, app, month, drc_finance):
    items = api.post("/settlements", as_="demo-finance", json={"period": "2026-10"}).get_json()["items"]
    # a draft is issued before anyone confirms it (issue 12 #8b)
    assert {tuple(i["allowed_actions"]) for i in items} == {("issue", "dispute", "export")}
    sid = next(i["id"] for i in items if i["supplier"] == "fleet"
               and i["unit_name"].startswith("常州市发展"))

    def actions(as_):
        detail = api.get(f"/settlements/{sid}", as_=as_).get_json()["allowed_actions"]
        listed = api.get("/settlements?period=2026-10", as_=as_).get_json()["items"]
        assert next(i for i in listed if i["id"] == sid)["allowed_actions"] == detail
        return detail

    assert actions(drc_finance) == ["dispute", "export"]
    resp = api.post(f"/settlements/{sid}/issue", as_=drc_finance)
    assert resp.status_code == 403 and resp.get_json()["code"] == "platform_finance_only"
    issued = api.post(f"/settlements/{sid}/issue", as_="demo-finance").get_json()
    assert (issued["state"], issued["allowed_actions"]) == (
        "pending_confirmation", ["dispute", "export"])  # its issuer does not confirm it
    confirmed = api.post(f"/settlements/{sid}/confirm", as_=drc_finance).get_json()
    assert confirmed["allowed_actions"] == ["dispute", "export"]
    assert actions("demo-finance") == ["dispute", "close", "export"]
    resp = api.post(f"/settlements/{sid}/close", as_=drc_finance)
    assert resp.status_code == 403 and resp.get_json()["code"] == "platform_finance_only"
    closed = api.post(f"/settlements/{sid}/close", as_="demo-finance").get_json()
    assert closed["allowed_actions"] == ["export"]
    assert actions(drc_finance) == ["export"]


def test_an_illegal_move_is_409_and_a_legal_one_is_audited(api, app, demo, month, drc_finance):
    items = api.post("/settlements", as_="demo-finance", json={"period": "2026-10"}).get_json()["items"]
    sid = next(i["id"] for i in items if i["unit_name"].startswith("常州市发展"))
    resp = api.post(f"/settlements/{sid}/close", as_="demo-finance")
    assert resp.status_code == 409 and resp.get_json()["code"] == "illegal_transition"
    assert resp.get_json()["errors"] == {"state": "draft", "to": "closed"}
    assert api.post(f"/settlements/{sid}/dispute", as_=drc_finance,
                    json={"reason": "金额有误"}).get_json()["dispute_reason"] == "金额有误"
    with app.app_context():
        moves = [(e.action, e.data["from"], e.data["comment"], e.actor_id) for e in
                 db.session.scalars(select(AuditEntry).where(
                     AuditEntry.entity == "settlements", AuditEntry.entity_id == sid,
                     AuditEntry.action.like("state:%")))]
        officer = db.session.scalar(select(User.id).where(User.phone == "13700000003"))
        db.session.remove()
    assert moves == [("state:disputed", "draft", "金额有误", officer)]


def test_allowed_actions_are_in_the_openapi_document(client):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    field = schemas["Settlement"]["properties"]["allowed_actions"]
    assert field["type"] == "array"
    assert field["items"]["enum"] == ["issue", "confirm", "dispute", "close", "export"]


def test_sqlite_stores_amounts_as_exact_integer_cents(api, app, demo, committed_db):
    """SQLite keeps a NUMERIC amount as a binary float (70.10 + 290.20 summed to
    360.29999999999995); the file holds integer cents instead, summed exactly in SQL."""
    url = make_url(committed_db)
    if url.get_backend_name() != "sqlite":
        pytest.skip("PostgreSQL stores NUMERIC(12, 2) exactly")
    units, users = demo["units"], demo["users"]
    with app.app_context():
        for day, total in ((10, "70.10"), (11, "290.20")):
            trip = factories.trip(db.session, applicant_id=users["demo-traveler"],
                                  unit_id=units["常州市发展和改革委员会"], state="confirmed",
                                  depart_at=datetime(2026, 10, day, 9, tzinfo=SH))
            factories.charge(db.session, trip=trip, total=total)
        db.session.commit()
        db.session.remove()

    items = api.post("/settlements", as_="demo-finance", json={"period": "2026-10"}).get_json()
    assert [i["total"] for i in items["items"]] == ["360.30"]

    with closing(sqlite3.connect(url.database)) as raw:
        assert raw.execute("SELECT total FROM settlements").fetchall() == [(36030,)]
        assert raw.execute("SELECT amount FROM settlement_lines ORDER BY amount").fetchall() == \
            [(7010,), (29020,)]
        assert raw.execute("SELECT total FROM charges ORDER BY total").fetchall() == \
            [(7010,), (29020,)]


def test_a_statement_created_meanwhile_is_409_and_a_retry_generates(api, month):
    """The first generation of a period lost to a concurrent one (the same statement row
    inserted first): a 409 with a Chinese message, nothing half-kept; the retry is whole."""
    with factories.inserted_meanwhile(Settlement):
        lost = api.post("/settlements", as_="demo-finance", json={"period": "2026-10"})
    assert lost.status_code == 409 and lost.get_json()["code"] == "conflict"
    assert lost.get_json()["message"] == "操作与其他请求冲突，请刷新后重试"
    assert api.get("/settlements?period=2026-10", as_="demo-finance").get_json()["items"] == []

    retry = api.post("/settlements", as_="demo-finance", json={"period": "2026-10"})
    assert totals(retry) == {("常州市发展和改革委员会", "fleet"): "420.00",
                             ("常州市发展和改革委员会", "rental-a"): "425.00",
                             ("武进区市场监督管理局", "fleet"): "515.50"}


def test_racing_first_generations_of_a_period_409_or_the_same_statements(live_server, month):
    """Concurrent first generations of one period (PostgreSQL lets them overlap): each
    answers 200 or a 409 with a Chinese message, and every charge is on one line once."""
    token = requests.post(f"{live_server}/api/v1/auth/wechat-login",
                          json={"code": "sandbox:demo-finance"}, timeout=10).json()["access_token"]
    start = Barrier(RACERS)

    def generate(_):
        with requests.Session() as http:
            start.wait(timeout=30)
            return http.post(f"{live_server}/api/v1/settlements", json={"period": "2026-10"},
                             headers={"Authorization": f"Bearer {token}"}, timeout=60)

    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        responses = list(pool.map(generate, range(RACERS)))

    assert {r.status_code for r in responses} <= {200, 409}, [r.text[:200] for r in responses]
    assert all(re.search(r"[\u4e00-\u9fff]", r.json()["message"])
               for r in responses if r.status_code == 409)
    won = [totals(r) for r in responses if r.status_code == 200]
    assert won and all(t == won[0] for t in won)
    assert won[0] == {("常州市发展和改革委员会", "fleet"): "420.00",
                      ("常州市发展和改革委员会", "rental-a"): "425.00",
                      ("武进区市场监督管理局", "fleet"): "515.50"}


def test_whoever_issued_a_statement_does_not_confirm_it(api, app, demo):
    """Issue 12 #8, separation of duties: platform finance issued and confirmed one statement.
    Since #8b only the paying unit's finance confirms, so this bites on the statements of the
    platform's own unit, which platform finance confirms."""
    with app.app_context():
        trip = factories.trip(db.session, applicant_id=demo["users"]["demo-city-approver"],
                              unit_id=demo["units"]["常州市"], state="confirmed",
                              depart_at=datetime(2026, 10, 12, 9, tzinfo=SH))
        factories.charge(db.session, trip=trip, total="80.00")
        db.session.commit()
        db.session.remove()
    items = api.post("/settlements", as_="demo-finance", json={"period": "2026-10"}).get_json()["items"]
    sid = next(i["id"] for i in items if i["unit_name"] == "常州市")
    assert api.post(f"/settlements/{sid}/issue", as_="demo-finance").status_code == 200
    resp = api.post(f"/settlements/{sid}/confirm", as_="demo-finance")
    assert resp.status_code == 403 and resp.get_json()["code"] == "separation_of_duties"
    assert api.get(f"/settlements/{sid}", as_="demo-finance").get_json()["state"] == \
        "pending_confirmation"
    # disputed and issued again by someone else: then the first issuer may confirm
    factories.ok(api.post(f"/settlements/{sid}/dispute", as_="demo-finance", json={"reason": "核对"}))
    factories.ok(api.post("/admin/users", as_="demo-admin", json={
        "name": "平台财务二", "phone": "13700000004", "roles": ["finance"],
        "unit_id": demo["units"]["常州市"]}), 201)
    api.bind("platform-finance-2", "13700000004")
    factories.ok(api.post(f"/settlements/{sid}/issue", as_="platform-finance-2"))
    assert api.get(f"/settlements/{sid}", as_="platform-finance-2").get_json()[
        "allowed_actions"] == ["dispute", "export"]
    assert factories.ok(api.post(f"/settlements/{sid}/confirm", as_="demo-finance"))[
        "state"] == "confirmed"


def _drc_fleet(api):
    items = api.post("/settlements", as_="demo-finance", json={"period": "2026-10"}).get_json()["items"]
    return next(i["id"] for i in items if i["supplier"] == "fleet"
                and i["unit_name"].startswith("常州市发展"))


def test_only_an_issued_statement_is_confirmed(api, month):
    """Issue 12 #8b: a draft, or a disputed statement not issued again, was confirmable."""
    sid = _drc_fleet(api)
    resp = api.post(f"/settlements/{sid}/confirm", as_="demo-unit-finance")
    assert resp.status_code == 409 and resp.get_json()["code"] == "illegal_transition"
    assert api.get(f"/settlements/{sid}", as_="demo-unit-finance").get_json()["state"] == "draft"
    factories.ok(api.post(f"/settlements/{sid}/issue", as_="demo-finance"))
    factories.ok(api.post(f"/settlements/{sid}/dispute", as_="demo-unit-finance",
                          json={"reason": "金额有误"}))
    detail = api.get(f"/settlements/{sid}", as_="demo-unit-finance").get_json()
    assert "confirm" not in detail["allowed_actions"]
    resp = api.post(f"/settlements/{sid}/confirm", as_="demo-unit-finance")
    assert resp.status_code == 409 and resp.get_json()["code"] == "illegal_transition"
    factories.ok(api.post(f"/settlements/{sid}/issue", as_="demo-finance"))
    assert factories.ok(api.post(f"/settlements/{sid}/confirm", as_="demo-unit-finance"))[
        "state"] == "confirmed"


def test_only_the_paying_units_finance_confirms(api, app, month):
    """Issue 12 #8b: platform finance (and finance of a unit above the payer) do not confirm."""
    sid = _drc_fleet(api)
    factories.ok(api.post(f"/settlements/{sid}/issue", as_="demo-finance"))
    factories.ok(api.post("/admin/users", as_="demo-admin", json={
        "name": "平台财务二", "phone": "13700000004", "roles": ["finance"],
        "unit_id": month["常州市"]}), 201)
    api.bind("platform-finance-2", "13700000004")
    for who in ("demo-finance", "platform-finance-2"):
        assert "confirm" not in api.get(f"/settlements/{sid}", as_=who).get_json()["allowed_actions"]
        resp = api.post(f"/settlements/{sid}/confirm", as_=who)
        assert resp.status_code == 403 and resp.get_json()["code"] == "paying_unit_finance_only"
        assert resp.get_json()["message"] == "结算单须由付款单位的财务人员确认"
    assert "confirm" in api.get(f"/settlements/{sid}", as_="demo-unit-finance").get_json()[
        "allowed_actions"]
    assert factories.ok(api.post(f"/settlements/{sid}/confirm", as_="demo-unit-finance"))[
        "state"] == "confirmed"


def test_a_statement_holding_a_disputed_line_is_not_confirmed(api, app, demo):
    """Issue 12 #8b: a held (disputed) charge's statement could be confirmed."""
    with app.app_context():
        trip = factories.trip(db.session, applicant_id=demo["users"]["demo-traveler"],
                              unit_id=demo["units"]["常州市发展和改革委员会"], state="confirmed",
                              depart_at=datetime(2026, 10, 12, 9, tzinfo=SH))
        factories.charge(db.session, trip=trip, total="80.00", held=True)
        db.session.commit()
        db.session.remove()
    sid = _drc_fleet(api)
    factories.ok(api.post(f"/settlements/{sid}/issue", as_="demo-finance"))
    detail = api.get(f"/settlements/{sid}", as_="demo-unit-finance").get_json()
    assert detail["allowed_actions"] == ["dispute", "export"]
    resp = api.post(f"/settlements/{sid}/confirm", as_="demo-unit-finance")
    assert resp.status_code == 409 and resp.get_json()["code"] == "disputed_lines"
    assert api.get(f"/settlements/{sid}", as_="demo-unit-finance").get_json()["state"] == \
        "pending_confirmation"
