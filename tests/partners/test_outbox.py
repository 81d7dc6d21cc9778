"""Callbacks owed to a partner: posted signed as Standard Webhooks to its webhook of our
provider (a real loopback receiver checks the signature), retried with growing backoff
while the partner does not answer, and given up (audited) after the last attempt."""
from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from app import clock, db
from app.audit import AuditEntry
from app.partners import outbox
from app.partners.models import CallbackState, PartnerCallback
from providers.http import verify_webhook
from tests.partners.test_partner_api import KEY, order_body, register, signed


@pytest.fixture
def receiver():
    """A partner platform's webhook endpoint on loopback, answering 200 and recording."""
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"ok": true}')

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/api/v1", seen
    server.shutdown()


def _cancelled_order(api, base_url):
    register(api, base_url=base_url)
    order = signed(api, "POST", "/orders", order_body()).get_json()
    assert signed(api, "POST", f"/orders/{order['id']}/cancel", {}).status_code == 200
    return order


def test_a_callback_goes_signed_to_the_partners_webhook(api, app, receiver):
    base_url, seen = receiver
    order = _cancelled_order(api, base_url)
    with app.app_context():
        session = db.session
        now = clock.now()
        deliveries = outbox.claim(session, now)
        assert len(deliveries) == 1
        assert outbox.deliver(deliveries[0]) is None
        outbox.record(session, deliveries[0], None, now)
        row = session.scalar(select(PartnerCallback))
        assert row.state == CallbackState.SENT and row.attempts == 1
        db.session.remove()
    (path, headers, body), = seen
    assert path == "/api/v1/webhooks/partner-changzhou"
    verify_webhook(headers, body, KEY, key="test")  # raises if the signature does not hold
    assert headers["webhook-id"] == row.msg_id
    assert json.loads(body)["id"] == order["id"] and json.loads(body)["state"] == "cancelled"


def test_an_unanswered_callback_is_retried_later_then_given_up(api, app):
    _cancelled_order(api, "http://127.0.0.1:9/api/v1")  # nothing listens there
    with app.app_context():
        session = db.session
        now = clock.now()
        waits = []
        for attempt in range(1, outbox.MAX_ATTEMPTS + 1):
            deliveries = outbox.claim(session, now)
            assert len(deliveries) == 1, attempt
            error = outbox.deliver(deliveries[0])
            assert error is not None
            outbox.record(session, deliveries[0], error, now)
            row = session.scalar(select(PartnerCallback))
            assert row.attempts == attempt
            if row.state == CallbackState.PENDING:
                assert outbox.claim(session, now) == []  # not due again yet
                waits.append(row.next_attempt_at - now)
                now = row.next_attempt_at
        assert row.state == CallbackState.FAILED and row.last_error
        assert waits == sorted(waits) and waits[0] == outbox.RETRY_BASE
        assert max(waits) <= outbox.RETRY_MAX
        given_up = session.scalar(select(AuditEntry).where(
            AuditEntry.entity == "partner_callbacks", AuditEntry.action == "given_up"))
        assert given_up.entity_id == row.id
        assert outbox.claim(session, now + timedelta(days=1)) == []
        db.session.remove()
