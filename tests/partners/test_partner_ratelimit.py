"""The partner API's rate limit: one budget per partner platform across its routes
(``RATELIMIT_PARTNER``), 429 in the error shape with Retry-After; another partner keeps
its own budget, and requests refused at the signature (forged, replayed, stale) never
spend a real partner's budget; on the booking side a partner's 429 is worth a later try."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.orders import booking
from app.ratelimit import limiter
from providers.base import ProviderError
from providers.partner import PartnerClient, sign_request
from tests.partners.test_partner_api import KEY, order_body, register, signed

RIZHAO_KEY = "rizhao-partner-key-0123456789"


@pytest.fixture
def low_limit(app, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_PARTNER", "3 per minute")
    limiter.reset()
    yield
    limiter.reset()


@pytest.fixture
def two_partners(api):
    register(api)
    register(api, code="rizhao", name="日照市公务用车平台", city="日照市", secret=RIZHAO_KEY,
             service_area={"south": 35.0, "west": 118.5, "north": 35.8, "east": 119.7})


def assert_too_many(resp):
    assert resp.status_code == 429
    body = resp.get_json()
    assert body["code"] == "too_many_requests" and body["status"] == 429
    assert "请求过于频繁" in body["message"]
    assert 0 < int(resp.headers["Retry-After"]) <= 60


def rizhao(api, method, path, body=None):
    return signed(api, method, path, body, key=RIZHAO_KEY, partner="rizhao")


def test_one_partner_over_its_budget_gets_429_another_does_not(api, two_partners, low_limit):
    # One budget across the routes: a quote, an order, a status read...
    assert signed(api, "POST", "/quotes", {k: order_body()[k] for k in (
        "stops", "depart_at", "return_at", "passengers")}).status_code == 200
    order = signed(api, "POST", "/orders", order_body())
    assert order.status_code == 201
    assert signed(api, "GET", f"/orders/{order.get_json()['id']}").status_code == 200
    # ...and the fourth call of the minute, on any route, is refused before it is served.
    assert_too_many(signed(api, "POST", "/orders", order_body("FZ-2")))
    assert_too_many(signed(api, "GET", "/orders/by-ref/FZ-1"))
    # Rizhao's budget is its own.
    for n in range(3):
        assert rizhao(api, "GET", f"/orders/by-ref/RZ-{n}").status_code == 404
    assert_too_many(rizhao(api, "GET", "/orders/by-ref/RZ-9"))
    # A new window, a new budget: the refused order was never placed.
    limiter.reset()
    assert signed(api, "GET", "/orders/by-ref/FZ-2").status_code == 404


def test_requests_refused_at_the_signature_do_not_spend_the_partners_budget(
        api, two_partners, low_limit):
    path = "/partner/v1/orders/by-ref/FZ-1"
    for n in range(10):
        forged = signed(api, "GET", "/orders/by-ref/FZ-1", key=RIZHAO_KEY)  # claims fuzhou
        assert forged.status_code == 401 and forged.get_json()["code"] == "bad_signature"
    stale_headers = sign_request("GET", path, b"", KEY, "fuzhou", now=time.time() - 3600)
    stale = api.client.get(f"/api/v1{path}", headers=stale_headers)
    assert stale.status_code == 401 and stale.get_json()["code"] == "stale_timestamp"
    # A genuine request, then its replay (the same webhook-id) over and over.
    headers = sign_request("GET", path, b"", KEY, "fuzhou")
    assert api.client.get(f"/api/v1{path}", headers=headers).status_code == 404
    for _ in range(5):
        replayed = api.client.get(f"/api/v1{path}", headers=headers)
        assert replayed.status_code == 401 and replayed.get_json()["code"] == "replayed_request"
    unknown = api.client.get(f"/api/v1{path}", headers=sign_request(
        "GET", path, b"", KEY, "nanjing"))
    assert unknown.status_code == 401 and unknown.get_json()["code"] == "unknown_partner"
    # Fuzhou has spent one call of three: two more are served, the next is refused.
    for ref in ("FZ-2", "FZ-3"):
        assert signed(api, "GET", f"/orders/by-ref/{ref}").status_code == 404
    assert_too_many(signed(api, "GET", "/orders/by-ref/FZ-4"))
    assert_too_many(signed(api, "POST", "/orders/PO000001/cancel", {"reason": "x"}))


@pytest.fixture
def busy_partner():
    """A partner platform on loopback that answers every call 429, as ours does."""
    class Handler(BaseHTTPRequestHandler):
        def _busy(self):
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            body = json.dumps({"code": "too_many_requests", "status": 429, "errors": {},
                               "message": "请求过于频繁，请17秒后再试"}).encode()
            self.send_response(429)
            self.send_header("Content-Type", "application/json")
            self.send_header("Retry-After", "17")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _busy  # noqa: N815 - http.server's names

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/api/v1"
    server.shutdown()


def test_our_booking_treats_a_partners_429_as_try_again_later(busy_partner):
    client = PartnerClient(busy_partner, "changzhou", KEY, provider="partner-fuzhou",
                           backoff=0)
    with pytest.raises(ProviderError) as refused:
        client.call("POST", "/orders", {"order_ref": "T1"}, idempotent=True)
    assert refused.value.code == 429 and "Retry-After 17" in str(refused.value)
    assert booking.transient(refused.value)  # the booking job tries again later
    # ...whereas a definite refusal stays final.
    assert not booking.transient(ProviderError("x", code="no_vehicle_available"))
