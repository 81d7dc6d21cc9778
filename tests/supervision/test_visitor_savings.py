"""Visitors' savings (SPEC §7): partner cities' travellers on our fleet, per partner and
month — market reference (the rental ceiling without discount) against our paid-use
charge; figures that add up, windows, scope, XLSX with numbers as numbers; and a real
inbound order, driven over the API, priced with its market reference like any fleet trip."""
from __future__ import annotations

import io
import json
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import select

from app import clock
from app.billing import tariff as engine
from app.billing.models import Charge, TariffKind
from app.billing.service import tariff_in_force
from app.dispatch.models import Assignment, ReleaseReason, TripRun
from app.partners.models import P, Partner, PartnerOrder
from app.trips.models import TripState
from providers.partner import sign_request
from tests import factories
from tests.factories import ok

LOCAL = clock.SHANGHAI
KEYS = {"fuzhou": "fuzhou-partner-key-0123456789", "rizhao": "rizhao-partner-key-0123456789"}
PARTNERS = {
    "fuzhou": {"code": "fuzhou", "name": "福州市公务用车平台", "city": "福州市",
               "service_area": {"south": 25.15, "west": 118.08, "north": 26.65, "east": 120.50}},
    "rizhao": {"code": "rizhao", "name": "日照市公务用车平台", "city": "日照市",
               "service_area": {"south": 35.0, "west": 118.5, "north": 35.8, "east": 119.7}},
}
IN_CHANGZHOU = [{"name": "常州站", "lat": 31.78, "lng": 119.97},
                {"name": "市政府", "lat": 31.81, "lng": 119.97}]


def local(*args) -> datetime:
    return datetime(*args, tzinfo=LOCAL)


def register(api, code: str) -> dict:
    return ok(api.post("/admin/partners", "demo-admin", json={
        **PARTNERS[code], "base_url": "http://127.0.0.1:9/api/v1", "our_id": "changzhou",
        "secret": KEYS[code]}), 201)


@pytest.fixture
def partners(api):
    return {code: register(api, code) for code in PARTNERS}


def _inbound(s, partner: Partner, n: int, *, total: str, reference: str | None, km: str,
             at: datetime, fleet, final: bool = True, channel: str = "fleet") -> None:
    """A settled inbound partner trip finished at ``at``: order, run and charge."""
    trip = factories.trip(s, applicant_id=partner.service_user_id, unit_id=partner.unit_id,
                          state=TripState.CONFIRMED, depart_at=at - timedelta(hours=3),
                          channel=channel)
    s.add(PartnerOrder(partner_id=partner.id, order_ref=f"{partner.code}-{n}",
                       approval_ref=f"AP-{n}", trip_id=trip.id, state=P.COMPLETED,
                       quoted_price=Decimal(total), contact={"name": "来访人员"}))
    vehicle, driver = fleet["sedans"][0]["id"], fleet["drivers"]["钱进"]
    assignment = Assignment.for_window(trip, vehicle_id=vehicle, driver_id=driver)
    assignment.release(ReleaseReason.FINISHED, actor_id=None, at=at)
    s.add(assignment)
    s.flush()
    s.add(TripRun(trip_id=trip.id, assignment_id=assignment.id, vehicle_id=vehicle,
                  driver_id=driver, started_at=at - timedelta(hours=3),
                  start_odometer_km=Decimal(1000), finished_at=at,
                  end_odometer_km=Decimal(1000) + Decimal(km), km=Decimal(km)))
    charge = factories.charge(s, trip=trip, total=total, channel=channel, finished_at=at,
                              final=final)
    charge.market_reference = Decimal(reference) if reference is not None else None


# (partner, total, market reference, km, local finish, final)
VISITS = [
    ("fuzhou", "180.00", "500.00", "80.5", local(2026, 10, 9, 17), True),
    ("fuzhou", "95.50", "250.00", "31.0", local(2026, 10, 31, 23, 40), True),  # UTC: 10-31
    ("fuzhou", "240.00", "425.00", "120.0", local(2026, 11, 1, 0, 20), True),  # UTC: 10-31
    ("rizhao", "300.00", "902.70", "180.0", local(2026, 11, 12, 18), True),
    ("rizhao", "60.00", "250.00", "12.5", local(2026, 11, 20, 11), True),
    ("fuzhou", "120.00", "250.00", "40.0", local(2026, 9, 30, 20), True),      # other month
    ("fuzhou", "110.00", "250.00", "35.0", local(2027, 1, 2, 10), True),       # other year
    ("fuzhou", "999.00", "1500.00", "300.0", local(2026, 11, 21, 12), False),  # not final
]


@pytest.fixture
def visits(api, partners, in_db, demo, fleet, frozen_clock):
    frozen_clock(local(2027, 1, 10, 9))
    api.tokens.clear()  # signed in at the real time
    with in_db() as s:
        rows = {p.code: p for p in s.scalars(select(Partner))}
        for n, (code, total, ref, km, at, final) in enumerate(VISITS):
            _inbound(s, rows[code], n, total=total, reference=ref, km=km, at=at, fleet=fleet,
                     final=final)
        # Our own units' fleet trips are the savings report's, not this one's.
        drc = demo["units"]["常州市发展和改革委员会"]
        own = factories.trip(s, applicant_id=demo["users"]["demo-traveler"], unit_id=drc,
                             state=TripState.CONFIRMED, depart_at=local(2026, 11, 3, 9))
        factories.charge(s, trip=own, total="50.00", finished_at=local(2026, 11, 3, 12)
                         ).market_reference = Decimal("250.00")
    return {code: p["id"] for code, p in partners.items()}


def expected(window_first: datetime, window_end: datetime) -> dict:
    """The report's figures summed here from the table above, independently."""
    cells = defaultdict(lambda: {"trips": 0, "km": Decimal(0), "ref": Decimal(0),
                                 "charged": Decimal(0)})
    for code, total, ref, km, at, final in VISITS:
        if final and window_first <= at < window_end:
            cell = cells[(code, f"{at:%Y-%m}")]
            cell["trips"] += 1
            cell["km"] += Decimal(km)
            cell["ref"] += Decimal(ref)
            cell["charged"] += Decimal(total)
    return dict(cells)


def test_visitor_savings_per_partner_and_month_add_up(api, visits):
    report = ok(api.get("/reports/visitor-savings?year=2026", "demo-supervisor"))
    want = expected(local(2026, 1, 1), local(2027, 1, 1))
    got = {(r["partner_code"], r["month"]): r for r in report["items"]}
    assert set(got) == set(want) == {("fuzhou", "2026-09"), ("fuzhou", "2026-10"),
                                     ("fuzhou", "2026-11"), ("rizhao", "2026-11")}
    for key, cell in want.items():
        row = got[key]
        assert row["trips"] == cell["trips"]
        assert Decimal(row["km"]) == cell["km"]
        assert Decimal(row["market_reference"]) == cell["ref"]
        assert Decimal(row["charged"]) == cell["charged"]
        assert Decimal(row["savings"]) == cell["ref"] - cell["charged"]
        assert Decimal(row["savings_rate"]) == ((cell["ref"] - cell["charged"]) / cell["ref"]
                                                ).quantize(Decimal("0.0001"))
    assert got[("fuzhou", "2026-10")]["trips"] == 2  # the local month, not the UTC one
    assert got[("rizhao", "2026-11")]["city"] == "日照市"
    assert got[("rizhao", "2026-11")]["partner_id"] == visits["rizhao"]
    totals = report["totals"]
    assert totals["trips"] == sum(c["trips"] for c in want.values()) == 6
    for key, mine in (("km", "km"), ("market_reference", "ref"), ("charged", "charged")):
        assert Decimal(totals[key]) == sum(c[mine] for c in want.values())
    assert totals["savings"] == "1582.20"  # 2577.70 − 995.50
    assert totals["savings_rate"] == "0.6138"


def test_visitor_savings_windows(api, visits):
    month = ok(api.get("/reports/visitor-savings?period=2026-11", "demo-finance"))
    want = expected(local(2026, 11, 1), local(2026, 12, 1))
    assert {(r["partner_code"], r["month"]) for r in month["items"]} == set(want)
    assert month["from"] == "2026-11-01" and month["to"] == "2026-11-30"
    assert Decimal(month["totals"]["charged"]) == sum(c["charged"] for c in want.values())
    year_2027 = ok(api.get("/reports/visitor-savings?year=2027", "demo-supervisor"))
    assert [(r["partner_code"], r["month"], r["trips"]) for r in year_2027["items"]] == [
        ("fuzhou", "2027-01", 1)]
    # this year by default
    assert ok(api.get("/reports/visitor-savings", "demo-supervisor")) == year_2027
    one = ok(api.get(f"/reports/visitor-savings?year=2026&partner_id={visits['rizhao']}",
                     "demo-supervisor"))
    assert {r["partner_code"] for r in one["items"]} == {"rizhao"}
    assert one["totals"]["charged"] == "360.00"
    for bad in ("period=2026-13", "year=1999", "period=2026-11&year=2026", "partner_id=0",
                "colour=red", "format=pdf"):
        resp = api.get(f"/reports/visitor-savings?{bad}", "demo-supervisor")
        assert resp.status_code == 422, bad


def test_visitor_savings_scope(api, visits, in_db):
    # Not a report reader: refused.
    for who in ("demo-approver", "demo-traveler", "demo-dispatcher"):
        assert api.get("/reports/visitor-savings?year=2026", who).status_code == 403
    # A unit's own finance sees its own unit's subtree, where no partner stands: nothing.
    own = ok(api.get("/reports/visitor-savings?year=2026", "demo-unit-finance"))
    assert own["items"] == [] and own["totals"]["trips"] == 0
    assert own["totals"]["savings_rate"] is None
    refused = api.get(f"/reports/visitor-savings?year=2026&partner_id={visits['fuzhou']}",
                      "demo-unit-finance")
    assert refused.status_code == 404
    # Platform staff see every partner; narrowed to a partner's stand-in unit, that one.
    with in_db() as s:
        unit = s.get(Partner, visits["fuzhou"]).unit_id
    for who in ("demo-admin", "demo-finance"):
        assert ok(api.get("/reports/visitor-savings?year=2026", who))["totals"]["trips"] == 6
    narrowed = ok(api.get(f"/reports/visitor-savings?year=2026&unit_id={unit}",
                          "demo-supervisor"))
    assert {r["partner_code"] for r in narrowed["items"]} == {"fuzhou"}


def test_visitor_savings_as_xlsx_has_numbers(api, visits):
    resp = api.get("/reports/visitor-savings?year=2026&format=xlsx", "demo-supervisor")
    assert resp.status_code == 200 and resp.mimetype.endswith("spreadsheetml.sheet")
    sheet = openpyxl.load_workbook(io.BytesIO(resp.data)).active
    header = [c.value for c in sheet[1]]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert rows[-1][0] == "合计" and len(rows) == 5
    for title in ("里程(公里)", "市场参考价", "实际收费", "节约金额"):
        col = header.index(title)
        values = [row[col] for row in rows]
        assert all(isinstance(v, (int, float)) for v in values), title
        assert values[-1] == pytest.approx(sum(values[:-1])), title
    assert rows[-1][header.index("节约金额")] == pytest.approx(1582.20)
    assert rows[-1][header.index("节约率")] == pytest.approx(0.6138)


# --- a real inbound order ---------------------------------------------------------------

def _signed(api, method, path, body, code="fuzhou"):
    raw = json.dumps(body).encode()
    headers = sign_request(method, f"/partner/v1{path}", raw, KEYS[code], code,
                           now=clock.now().timestamp())
    return api.client.open(f"/api/v1/partner/v1{path}", method=method, data=raw,
                           headers=headers)


def test_an_inbound_partner_trip_is_priced_with_its_market_reference(api, partners, now,
                                                                    drive, in_db):
    depart = now + timedelta(days=1)
    placed = _signed(api, "POST", "/orders", {
        "stops": IN_CHANGZHOU, "depart_at": depart.isoformat(),
        "return_at": (depart + timedelta(hours=4)).isoformat(), "passengers": 2,
        "vehicle_class": "sedan", "order_ref": "FZ-77", "approval_ref": "FZ-AP-77",
        "contact": {"name": "林华", "phone": "13950000099"}})
    assert placed.status_code == 201, placed.get_json()
    with in_db() as s:
        trip_id = s.scalar(select(PartnerOrder.trip_id).where(PartnerOrder.order_ref == "FZ-77"))
    drive(trip_id)
    with in_db() as s:
        charge = s.scalar(select(Charge).where(Charge.trip_id == trip_id))
        run = s.scalar(select(TripRun).where(TripRun.trip_id == trip_id))
        facts = engine.ChargeableRun("sedan", False, run.started_at, run.finished_at, run.km,
                                     run.waiting_minutes, run.tolls, run.parking, run.lodging)
        reference = engine.market_reference(
            tariff_in_force(s, TariffKind.RENTAL, run.started_at), facts)
        assert charge.final and charge.channel == "fleet"
        assert charge.market_reference == reference > charge.total
        total, km = charge.total, run.km
        finished = clock.local(charge.finished_at)
    report = ok(api.get(f"/reports/visitor-savings?period={finished:%Y-%m}", "demo-supervisor"))
    (row,) = report["items"]
    assert (row["partner_code"], row["trips"], Decimal(row["km"])) == ("fuzhou", 1, km)
    assert Decimal(row["market_reference"]) == reference and Decimal(row["charged"]) == total
    assert Decimal(row["savings"]) == reference - total


# --- outbound: our travellers on partner fleets ----------------------------------------------

def test_outbound_savings_against_the_partners_own_reference(api, partners, in_db, demo,
                                                            fleet, frozen_clock):
    frozen_clock(local(2027, 1, 10, 9))
    api.tokens.clear()
    drc, market = demo["units"]["常州市发展和改革委员会"], demo["units"]["武进区市场监督管理局"]
    t1, t2 = demo["users"]["demo-traveler"], demo["users"]["demo-traveler-2"]
    data = [  # applicant, unit, supplier, total, reference, local finish, final
        (t1, drc, "partner-fuzhou", "46.00", "250.00", local(2026, 11, 3, 15), True),
        (t2, market, "partner-fuzhou", "180.00", "425.00", local(2026, 11, 20, 18), True),
        (t1, drc, "partner-rizhao", "300.00", "902.70", local(2026, 12, 2, 18), True),
        (t1, drc, "partner-fuzhou", "90.00", None, local(2026, 11, 5, 15), True),    # no ref
        (t1, drc, "partner-fuzhou", "99.00", "250.00", local(2026, 11, 6, 15), False),  # open
    ]
    with in_db() as s:
        for applicant, unit, supplier, total, ref, at, final in data:
            trip = factories.trip(s, applicant_id=applicant, unit_id=unit,
                                  state=TripState.CONFIRMED, depart_at=at - timedelta(hours=3),
                                  channel="partner")
            factories.charge(s, trip=trip, total=total, channel="partner", supplier=supplier,
                             finished_at=at, final=final).market_reference = \
                Decimal(ref) if ref else None
        # A Fuzhou visitor's trip here is the inbound direction's, not this one's.
        _inbound(s, s.scalar(select(Partner).where(Partner.code == "fuzhou")), 1,
                 total="60.00", reference="250.00", km="10", at=local(2026, 11, 9, 12),
                 fleet=fleet)
    report = ok(api.get("/reports/visitor-savings?year=2026&direction=outbound",
                        "demo-supervisor"))
    assert report["direction"] == "outbound"
    got = [(r["partner_code"], r["month"], r["trips"], r["market_reference"], r["charged"],
            r["km"], r["unit_id"]) for r in report["items"]]
    assert got == [("fuzhou", "2026-11", 2, "675.00", "226.00", None, None),
                   ("rizhao", "2026-12", 1, "902.70", "300.00", None, None)]
    assert report["totals"]["savings"] == "1051.70" and report["totals"]["km"] is None
    assert report["totals"]["savings_rate"] == "0.6666"  # 1051.70 / 1577.70
    # A unit's own finance: its own travellers only; the inbound view is empty for it.
    own = ok(api.get("/reports/visitor-savings?year=2026&direction=outbound",
                     "demo-unit-finance"))
    assert [(r["partner_code"], r["charged"]) for r in own["items"]] == [
        ("fuzhou", "46.00"), ("rizhao", "300.00")]
    one = ok(api.get(f"/reports/visitor-savings?year=2026&direction=outbound"
                     f"&partner_id={partners['rizhao']['id']}", "demo-unit-finance"))
    assert [r["partner_code"] for r in one["items"]] == ["rizhao"]
    assert api.get("/reports/visitor-savings?direction=sideways",
                   "demo-supervisor").status_code == 422
    book = openpyxl.load_workbook(io.BytesIO(api.get(
        "/reports/visitor-savings?year=2026&direction=outbound&format=xlsx",
        "demo-supervisor").data)).active
    assert book.title == "赴合作城市节约情况"
    header = [c.value for c in book[1]]
    savings = [row[header.index("节约金额")].value for row in book.iter_rows(min_row=2)]
    assert savings[-1] == pytest.approx(sum(savings[:-1])) == pytest.approx(1051.70)


def test_a_partners_final_bill_brings_its_market_reference(session, demo):
    """Our traveller's partner trip completes: the partner's bill (its tariff) and its market
    reference (its city's rental ceiling) become our charge's total and reference."""
    from app.orders import callbacks
    from app.orders.models import OrderState, ProviderOrder
    from providers.partner import Area, PartnerClient, PartnerProvider

    trip = factories.trip(session, applicant_id=demo["users"]["demo-traveler"],
                          unit_id=demo["units"]["常州市发展和改革委员会"],
                          state=TripState.IN_PROGRESS, channel="partner", estimate=Decimal("36"))
    session.add(ProviderOrder(trip_id=trip.id, provider="partner-fuzhou", out_order_id="T-OUT-9",
                              order_id="PO000009", state=OrderState.IN_TRIP))
    session.flush()
    provider = PartnerProvider("partner-fuzhou", PartnerClient("http://127.0.0.1:9", "cz", "k"),
                               Area(25.15, 118.08, 26.65, 120.50), label="福州市公车平台",
                               callback_key="partner:fuzhou")
    order = provider.parse_callback({
        "id": "PO000009", "order_ref": "T-OUT-9", "state": "completed", "version": 3,
        "vehicle": {"plate": "闽AD7001", "driver_name": "黄磊", "driver_phone": "13950000003"},
        "occurred_at": clock.now().isoformat(),
        "bill": {"lines": [{"kind": "time_block", "description": "4小时包段", "amount": "36.00"},
                           {"kind": "tolls", "description": "通行费", "amount": "10.00"}],
                 "total": "46.00", "actual_km": "42.0", "market_reference": "250.00"}})
    callbacks.apply_callback(session, "partner-fuzhou", order, clock.now())
    charge = session.scalar(select(Charge).where(Charge.trip_id == trip.id))
    assert (charge.channel, charge.supplier, charge.total) == ("partner", "partner-fuzhou",
                                                               Decimal("46.00"))
    assert charge.market_reference == Decimal("250.00") and charge.savings == Decimal("204.00")
