"""A ride-hailing driver accepts: the sandbox's callback carries the plate "苏D·T…", the
traveler hears of it, and WeChat gets a plate it accepts."""
from app.worker import run_due
from tests.factories import ok
from tests.orders.conftest import Orders, webhooks  # noqa: F401  (fixtures)


def test_the_provider_plate_reaches_the_traveler_fitted(api, app, sandboxes, webhooks, grant,
                                                        wechat):
    orders = Orders(api, app, sandboxes)
    grant("demo-traveler", "vehicle_assigned")
    trip_id = orders.approved_trip("ridehail")
    orders.book()
    row = orders.order(trip_id)
    orders.advance("ridehail", row.order_id, to="assigned")
    orders.wait_callbacks("ridehail", row.order_id, 1)
    plate = orders.order(trip_id).plate
    assert "·" in plate  # the sandbox prints plates as people write them
    with app.app_context():
        run_due(names=["notifications.send"])

    (sent,) = [m for m in wechat.received("demo-traveler")
               if m["template_id"] == "tmpl-vehicle-assigned"]
    assert sent["data"]["car_number1"]["value"] == plate.replace("·", "")
    assert sent["data"]["phone_number3"]["value"] == orders.order(trip_id).driver_phone
    assert wechat.refused() == []
    items = ok(api.get("/me/messages", as_="demo-traveler"))["items"]
    (shown,) = [m for m in items if m["kind"] == "vehicle_assigned"]
    assert shown["data"]["车牌号"] == plate and shown["wechat"] is True
