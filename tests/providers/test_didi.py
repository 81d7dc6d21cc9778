"""The DiDi-Enterprise-shaped adapter against its sandbox over real HTTP, and the protocol
layer's recipes."""
from __future__ import annotations

import hashlib
import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import requests
from flask import Flask, request

from providers.base import NotApplicable, OrderRequest, ProviderError, SignatureError
from providers.didi import DidiRideHailProvider
from providers.geo import wgs84_to_gcj02
from providers.http import SignedClient
from providers.protocol import PROTOCOLS, protocol_from
from providers.sandbox import didi as didi_sandbox
from providers.sandbox.server import SandboxServer
from tests.factories import quote_request
from tests.providers.conftest import control

DIDI = PROTOCOLS["didi"]
CLIENT_ID, CLIENT_SECRET, SIGN_KEY = "otb-didi-client", "sandbox-didi-secret", "sandbox-didi-sign-key"


@pytest.fixture
def didi_server():
    with SandboxServer(didi_sandbox.create_app(CLIENT_ID, CLIENT_SECRET, SIGN_KEY)) as server:
        yield server


def didi_client(server, *, sign_key=SIGN_KEY, secret=CLIENT_SECRET) -> SignedClient:
    return SignedClient(server.url, CLIENT_ID, secret, provider="didi", protocol=DIDI,
                        sign_key=sign_key, backoff=0.01, read_timeout=2.0)


@pytest.fixture
def didi(didi_server):
    return DidiRideHailProvider("didi", didi_client(didi_server))


def seen(server, path: str) -> list[dict]:
    """The parameters of every call the sandbox received on ``path``."""
    items = requests.get(f"{server.url}/__sandbox/requests", timeout=2).json()["items"]
    return [item["params"] for item in items if item["path"] == path]


def booked(didi, out_order_id="T1-didi", **over):
    req = quote_request(**over)
    fast = next(o for o in didi.quote(req) if o.extra["require_level"] == "600")
    return didi.book(OrderRequest(out_order_id, fast, req, "张明", "13800000001"))


# --- the protocol layer ---------------------------------------------------------------------

def test_didi_signs_md5_over_sorted_raw_fields_with_a_sign_key_that_is_never_sent(didi,
                                                                                   didi_server):
    params = {"b": "2", "a": "x y", "sign": "ignored", "none": None}
    expected = hashlib.md5(b"a=x y&b=2&sign_key=K").hexdigest()
    assert DIDI.signer.sign(params, "K") == expected
    t3 = hashlib.md5(b"a=x y&b=2&token=K").hexdigest()
    assert PROTOCOLS["t3"].signer.sign(params, "K") == t3
    assert PROTOCOLS["caocao"].signer.sign(params, "K") == \
        hashlib.sha1(b"a=x y&b=2&sign_key=K").hexdigest()
    didi.quote(quote_request())
    for path in (DIDI.token_path, "/river/EstimatePrice/get"):
        [sent] = seen(didi_server, path)
        assert "sign_key" not in sent and SIGN_KEY not in sent.values()
        assert sent["sign"] == DIDI.signer.sign(sent, SIGN_KEY)


def test_a_recipe_is_configuration():
    custom = protocol_from({"base": "didi", "signer": {"algorithm": "sha1", "uppercase": True},
                            "envelope": {"success": [0, 200]}})
    assert custom.signer.sign({"a": "1"}, "K") == \
        hashlib.sha1(b"a=1&sign_key=K").hexdigest().upper()
    assert custom.envelope.ok({"errno": 200}) and custom.money_unit == "fen"
    assert protocol_from("gaode").envelope.ok({"result_code": "0"})
    assert not protocol_from("gaode").envelope.ok({"result_code": "1"})
    with pytest.raises(ValueError):
        protocol_from({"base": "didi", "signer": {"algorithm": "md5", "secret_param": ""}})
    with pytest.raises(ValueError):
        protocol_from("wechat-pay")


def test_fen_are_converted_exactly_and_refused_when_not_whole():
    assert DIDI.to_money(1922) == Decimal("19.22")
    assert DIDI.to_money("5") == Decimal("0.05")
    assert DIDI.from_money(Decimal("19.22")) == 1922
    with pytest.raises(TypeError):
        DIDI.to_money(19.22)
    with pytest.raises(ValueError):
        DIDI.to_money("1922.5")


def test_a_wrong_md5_signature_is_refused_by_the_provider(didi_server):
    wrong = DidiRideHailProvider("didi", didi_client(didi_server, sign_key="not-the-key"))
    with pytest.raises(SignatureError) as refused:
        wrong.quote(quote_request())
    assert refused.value.code == 40001  # refused already when asking for a token
    good = didi_client(didi_server)
    good.access_token()
    wrong.client._token = good._token  # a valid token, signed with the wrong key
    with pytest.raises(SignatureError) as refused:
        wrong.quote(quote_request())
    assert refused.value.code == 40001


def test_a_revoked_token_is_renewed_and_the_call_made_again(didi, didi_server):
    didi.quote(quote_request())
    first = didi.client._token[0]
    control(didi_server, "/config", {"expire_tokens": True})
    assert didi.quote(quote_request())  # 40002, a new token, the estimate again
    assert didi.client._token[0] != first
    assert len(seen(didi_server, DIDI.token_path)) == 2
    assert [p["access_token"] for p in seen(didi_server, "/river/EstimatePrice/get")] == \
        [first, first, didi.client._token[0]]


def test_a_token_about_to_expire_is_renewed_before_the_call(didi, didi_server):
    control(didi_server, "/config", {"token_ttl": 30})  # inside the client's 60 s margin
    didi.quote(quote_request())
    didi.quote(quote_request())
    tokens = [p["access_token"] for p in seen(didi_server, "/river/EstimatePrice/get")]
    assert len(seen(didi_server, DIDI.token_path)) == 2 and len(set(tokens)) == 2


# --- estimates ------------------------------------------------------------------------------

def test_estimates_in_fen_become_exact_yuan_with_products_mapped_by_configuration(didi,
                                                                                  didi_server):
    raw = {e["require_level"]: e for e in didi.client.post(
        "/river/EstimatePrice/get", seen_params_for(didi, didi_server))["estimates"]}
    offers = {o.extra["require_level"]: o for o in didi.quote(quote_request())}
    assert set(offers) == {"600", "900", "100", "400"}
    fast = offers["600"]
    assert isinstance(raw["600"]["price"], int) and raw["600"]["price"] > 1000
    assert fast.price == Decimal(raw["600"]["price"]) / 100  # fen, not yuan
    assert fast.price == sum(line.amount for line in fast.breakdown)
    assert [line.kind for line in fast.breakdown] == ["base", "distance", "time"]
    assert fast.breakdown[0].amount == Decimal(raw["600"]["fee_detail"]["start_price"]) / 100
    assert (fast.vehicle_class, fast.seats, fast.nev, fast.product, fast.extra["tier"]) == \
        ("sedan", 4, True, "滴滴企业版·快车", "economy")
    mapped = DidiRideHailProvider("didi", didi.client, products={
        "400": {"name": "商务七座", "vehicle_class": "mpv", "seats": 6, "tier": "business"}})
    [mpv] = mapped.quote(quote_request(passengers=5))
    assert (mpv.extra["require_level"], mpv.extra["tier"], mpv.vehicle_class, mpv.seats,
            mpv.nev, mpv.product) == ("400", "business", "mpv", 6, False, "滴滴企业版·商务七座")
    assert {o.extra["tier"] for o in offers.values()} == {"economy", "comfort", "luxury",
                                                          "business"}


def seen_params_for(didi, didi_server) -> dict:
    """The estimate parameters the adapter sends (coordinates, time), taken from the sandbox."""
    didi.quote(quote_request())
    sent = seen(didi_server, "/river/EstimatePrice/get")[-1]
    return {k: sent[k] for k in ("flat", "flng", "tlat", "tlng", "departure_time",
                                 "passenger_count")}


def test_big_groups_get_the_six_seater_or_nothing(didi):
    levels = {o.extra["require_level"] for o in didi.quote(quote_request(passengers=5))}
    assert levels == {"400"}
    with pytest.raises(NotApplicable):
        didi.quote(quote_request(passengers=7))


def test_coordinates_go_out_as_gcj02_and_times_in_shanghai(didi, didi_server):
    depart = (datetime.now(timezone.utc) + timedelta(days=1)).replace(hour=17, minute=30,
                                                                      second=0, microsecond=0)
    req = quote_request(depart_at=depart)
    didi.quote(req)
    [sent] = seen(didi_server, "/river/EstimatePrice/get")
    next_day = (depart + timedelta(days=1)).date().isoformat()
    assert sent["departure_time"] == f"{next_day} 01:30:00"  # 17:30 UTC is 01:30 +08:00
    glat, glng = wgs84_to_gcj02(req.origin.lat, req.origin.lng)
    assert (sent["flat"], sent["flng"]) == (f"{glat:.6f}", f"{glng:.6f}")
    assert abs(float(sent["flat"]) - req.origin.lat) > 0.001  # really shifted
    tlat, tlng = wgs84_to_gcj02(req.destination.lat, req.destination.lng)
    assert (sent["tlat"], sent["tlng"]) == (f"{tlat:.6f}", f"{tlng:.6f}")


def test_the_booking_window_is_refused_clearly_on_both_sides(didi, didi_server):
    now = datetime.now(timezone.utc)
    for depart in (now + timedelta(minutes=20), now + timedelta(days=3, hours=1)):
        with pytest.raises(NotApplicable, match="30分钟后、3天以内"):
            didi.quote(quote_request(depart_at=depart))
    req = quote_request()
    fast = didi.quote(req)[0]
    soon = quote_request(depart_at=now + timedelta(minutes=10))
    with pytest.raises(ProviderError) as refused:
        didi.book(OrderRequest("T9-soon", fast, soon, "张明", "13800000001"))
    assert refused.value.code == "booking_window"
    # the provider refuses it too, should our check be skipped
    with pytest.raises(ProviderError) as refused:
        didi.client.post("/river/EstimatePrice/get", {
            "flat": "31.8", "flng": "119.9", "tlat": "31.7", "tlng": "119.8",
            "departure_time": (now + timedelta(minutes=5)).astimezone(
                didi_sandbox.SHANGHAI).strftime(didi_sandbox.TIME_FORMAT)})
    assert refused.value.code == 42201


# --- orders ---------------------------------------------------------------------------------

def test_orders_are_idempotent_by_our_reference_and_bills_sum_to_the_provider_total(
        didi, didi_server):
    order = booked(didi)
    assert booked(didi).order_id == order.order_id and order.state == "created"
    assert didi.lookup("T1-didi").order_id == order.order_id
    assert didi.lookup("T-never") is None
    control(didi_server, f"/orders/{order.order_id}/advance",
            {"to": "completed", "highway_fee": 500, "park_fee": 0,
             "extra_fees": {"night_fee": 300, "dynamic_price": 123}})
    done = didi.status(order.order_id)
    raw = didi.client.get("/river/Order/detail", {"order_id": order.order_id})["price"]
    assert done.state == "completed" and done.plate and done.driver_phone
    assert done.bill.total == Decimal(raw["total_price"]) / 100
    lines = {line.kind: line.amount for line in done.bill.lines}
    assert lines["tolls"] == Decimal("5.00")
    assert lines["other"] == Decimal("4.23")  # night_fee and dynamic_price, not dropped
    assert "parking" not in lines


def test_a_reassigned_order_is_followed_to_its_new_id(didi, didi_server):
    order = booked(didi, "T2-didi")
    control(didi_server, f"/orders/{order.order_id}/advance", {"to": "assigned"})
    new = control(didi_server, f"/orders/{order.order_id}/reassign")
    assert new["order_id"] != order.order_id
    for found in (didi.status(order.order_id), didi.lookup("T2-didi")):
        assert found.order_id == new["order_id"] and found.state == "created"
        assert found.extra["previous_order_ids"] == [order.order_id]
        assert found.out_order_id == "T2-didi" and found.plate is None


def test_cancelling_asks_the_fee_rule_first_and_the_fee_follows_in_the_detail(didi,
                                                                              didi_server):
    order = booked(didi, "T3-didi")
    control(didi_server, f"/orders/{order.order_id}/advance", {"to": "assigned"})
    cancelled = didi.cancel(order.order_id, "行程取消")
    assert cancelled.fee == Decimal("5.00")
    assert seen(didi_server, "/river/Order/getCancelFee")[0]["order_id"] == order.order_id
    detail = didi.status(order.order_id)
    assert detail.state == "cancelled" and detail.extra["cancel_fee"] == "5.00"
    with pytest.raises(ProviderError) as refused:
        didi.cancel(booked_and_finished(didi, didi_server), "太晚了")
    assert refused.value.code == 40901


def booked_and_finished(didi, didi_server) -> str:
    order = booked(didi, "T4-didi")
    control(didi_server, f"/orders/{order.order_id}/advance", {"to": "completed"})
    return order.order_id


# --- callbacks ------------------------------------------------------------------------------

class Notified:
    """Our side of DiDi's notifies: checks them with the adapter and answers errno 0."""

    def __init__(self, didi):
        self.didi, self.forms, self.refused = didi, [], []
        self.arrived = threading.Condition()
        app = Flask("notified")
        app.post("/notify")(self._notify)
        self.server = SandboxServer(app).start()

    def _notify(self):
        form = request.form.to_dict()
        with self.arrived:
            try:
                self.didi.verify_callback(form, request.headers, request.get_data())
            except SignatureError as exc:
                self.refused.append(exc.code)
                self.arrived.notify_all()
                return {"errno": 401, "errmsg": "bad sign"}, 401
            self.forms.append((request.mimetype, form))
            self.arrived.notify_all()
        return self.didi.callback_ack({})

    def wait(self, check, timeout=10):
        with self.arrived:
            assert self.arrived.wait_for(check, timeout)


@pytest.fixture
def notified(didi, didi_server):
    n = Notified(didi)
    control(didi_server, "/config", {"webhook_url": f"{n.server.url}/notify",
                                     "callback_backoff": 0.05})
    yield n
    n.server.stop()


def test_notifies_are_signed_multipart_forms_without_state_and_the_order_is_requeried(
        didi, didi_server, notified):
    order = booked(didi, "T5-didi")
    control(didi_server, f"/orders/{order.order_id}/advance", {"to": "assigned"})
    notified.wait(lambda: notified.forms)
    mimetype, form = notified.forms[0]
    assert mimetype == "multipart/form-data"
    assert set(form) == {"client_id", "order_id", "notify_type", "notify_desc", "timestamp",
                         "sign"}
    found = didi.parse_callback(form)  # the notify says nothing: the detail says assigned
    assert (found.order_id, found.state, found.out_order_id) == \
        (order.order_id, "assigned", "T5-didi")
    assert found.plate and found.driver_name


def test_a_notify_with_a_wrong_md5_signature_is_refused(didi, didi_server, notified):
    order = booked(didi, "T6-didi")
    control(didi_server, "/callbacks/send", {"order_id": order.order_id, "sign": "0" * 32})
    notified.wait(lambda: notified.refused)
    assert notified.refused == ["bad_sign"] and notified.forms == []
    form = {"client_id": CLIENT_ID, "order_id": order.order_id, "notify_type": "1",
            "notify_desc": "x", "timestamp": str(int(datetime.now().timestamp()))}
    form["sign"] = DIDI.signer.sign(form, SIGN_KEY)
    didi.verify_callback(form, {}, b"")  # the right key holds
    with pytest.raises(SignatureError) as refused:
        didi.verify_callback({**form, "order_id": "DD-other"}, {}, b"")
    assert refused.value.code == "bad_sign"
    with pytest.raises(SignatureError) as refused:
        didi.verify_callback({**form, "timestamp": str(int(form["timestamp"]) - 600)}, {}, b"")
    assert refused.value.code == "stale"
