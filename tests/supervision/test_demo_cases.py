"""The seeded demo history gives a supervisor something to see: cases detected as the
month's trips ran, an under-used stationed vehicle, NEV shares that differ by district."""
from datetime import datetime

import pytest
from sqlalchemy import select

from app import clock, db, demo_history
from app.supervision.models import Violation
from tests.factories import ok

NOW = datetime(2026, 11, 25, 17, 48, tzinfo=clock.SHANGHAI)


def _seed(session):
    assert demo_history.seed_demo_with_history(session, now=NOW)


@pytest.fixture(scope="module")
def isolated_engine(seeded_database):
    engine = seeded_database("supervision_history", NOW, _seed)
    yield engine
    engine.dispose()


@pytest.fixture
def seeded(isolated_engine, app, frozen_clock):
    frozen_clock(NOW)


def test_the_month_left_cases_for_the_supervisor(app, client, seeded):
    from tests.conftest import Api
    api = Api(client)
    found = ok(api.get("/supervision/violations?limit=100", "demo-supervisor"))["items"]
    by_rule: dict[str, list] = {}
    for case in found:
        by_rule.setdefault(case["rule"], []).append(case)
    assert set(by_rule) >= {"odometer_gap", "outside_window", "over_ceiling_bill", "distance_overrun",
                            "fare_over_estimate"}
    assert [c["facts"]["gap_km"] for c in by_rule["odometer_gap"]] == ["12.0"]
    (late,) = by_rule["outside_window"]
    assert late["facts"]["late_minutes"] > 120
    assert {c["state"] for c in found} == {"open"}
    # a re-run of the sweep finds what the lifecycle found, nothing new
    assert ok(api.post("/supervision/sweep", "demo-supervisor"))["new"] == 0
    with app.app_context():
        units = {v.unit_id for v in db.session.scalars(select(Violation))}
        db.session.remove()
    assert len(units) >= 2

    year = ok(api.get("/reports/utilisation?year=2026", "demo-supervisor"))
    stationed = [r for r in year["items"] if r["placement"] == "stationed"]
    assert len(stationed) == 2 and all(r["recall_candidate"] for r in stationed)
    shares = ok(api.get("/reports/nev-share?year=2026", "demo-supervisor"))["items"]
    district_shares = {r["unit_name"]: r["vehicle_share"] for r in shares
                       if r["unit_name"] in ("武进区市场监督管理局", "天宁区人民政府办公室")}
    assert district_shares == {"武进区市场监督管理局": "0.0000", "天宁区人民政府办公室": "1.0000"}
    saved = ok(api.get("/reports/savings?from=2026-10&to=2026-10", "demo-supervisor"))
    assert saved["totals"]["trips"] > 0 and saved["totals"]["savings_rate"] is not None
