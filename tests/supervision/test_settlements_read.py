"""Supervisors read settlements platform-wide (list, detail, lines, export) and write nothing."""
import io
from datetime import datetime

import openpyxl

from app import clock
from tests import factories
from tests.factories import ok

SH = clock.SHANGHAI


def test_a_supervisor_reads_every_statement_and_changes_none(api, in_db, demo, frozen_clock):
    frozen_clock(datetime(2026, 11, 5, 9, tzinfo=SH))
    units = demo["units"]
    with in_db() as s:
        for who, unit, total in [("demo-traveler", "常州市发展和改革委员会", "70.00"),
                                 ("demo-traveler-2", "武进区市场监督管理局", "515.50")]:
            trip = factories.trip(s, applicant_id=demo["users"][who], unit_id=units[unit],
                                  state="confirmed", depart_at=datetime(2026, 10, 10, 9, tzinfo=SH))
            factories.charge(s, trip=trip, total=total)
    ok(api.post("/settlements", "demo-finance", json={"period": "2026-10"}))
    listed = ok(api.get("/settlements?period=2026-10", "demo-supervisor"))["items"]
    assert {(i["unit_id"], i["total"]) for i in listed} == {
        (units["常州市发展和改革委员会"], "70.00"), (units["武进区市场监督管理局"], "515.50")}
    one = listed[0]
    detail = ok(api.get(f"/settlements/{one['id']}", "demo-supervisor"))
    assert detail["allowed_actions"] == ["export"]
    assert ok(api.get(f"/settlements/{one['id']}/lines", "demo-supervisor"))["items"]
    book = api.get(f"/settlements/{one['id']}/export?format=xlsx", "demo-supervisor")
    assert book.status_code == 200
    assert openpyxl.load_workbook(io.BytesIO(book.data)).sheetnames
    for path in ("/settlements", f"/settlements/{one['id']}/issue",
                 f"/settlements/{one['id']}/close"):
        assert api.post(path, "demo-supervisor", json={"period": "2026-10"}).status_code == 403
    assert api.post(f"/settlements/{one['id']}/dispute", "demo-supervisor",
                    json={"reason": "x"}).status_code == 403
    assert api.get("/settlements", "demo-traveler").status_code == 403
    assert api.get("/settlements/999999", "demo-supervisor").status_code == 404
