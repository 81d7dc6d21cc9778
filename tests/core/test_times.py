"""Times are answered in one offset, Beijing time (issue 12 #8b: a trip created with +08:00
times read back in UTC)."""
from datetime import datetime, timedelta, timezone

from app import clock
from tests import factories
from tests.factories import ok


def test_times_read_back_in_beijing_time_whatever_offset_they_came_in(api):
    tomorrow = clock.local(clock.now() + timedelta(days=1)).date()
    depart = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 9, 30, tzinfo=clock.SHANGHAI)
    beijing = factories.trip_request(depart_at=depart)
    utc = factories.trip_request(depart_at=depart.astimezone(timezone.utc))
    assert utc["depart_at"].endswith("+00:00")
    want = f"{tomorrow.isoformat()}T09:30:00+08:00"
    for body in (beijing, utc):
        created = ok(api.post("/trips", "demo-traveler", json=body), 201)
        assert (created["depart_at"], created["return_at"]) == (
            want, f"{tomorrow.isoformat()}T12:30:00+08:00")
        read = ok(api.get(f"/trips/{created['id']}", as_="demo-traveler"))
        assert read["depart_at"] == want
        assert read["created_at"].endswith("+08:00")
        assert all(h["at"].endswith("+08:00") for h in read["history"])
    listed = ok(api.get("/trips", as_="demo-traveler"))["items"]
    assert {t["depart_at"] for t in listed} == {want}
