"""The production worker, started exactly as the README says (``python -m app.worker``, its
own process, settings from the environment), runs the domains' jobs: a pending outbox
message is sent and an approved provider trip is booked."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
from sqlalchemy import func, select

from app import db
from app.notifications.models import OutboxMessage, OutboxState
from app.orders.models import ProviderOrder
from tests import factories
from tests.orders.conftest import APPROVERS

ROOT = Path(__file__).resolve().parents[2]


def _counts(app, trip_id):
    with app.app_context():
        pending = db.session.scalar(select(func.count()).select_from(OutboxMessage)
                                    .where(OutboxMessage.state == OutboxState.PENDING))
        order = db.session.scalar(select(ProviderOrder).where(ProviderOrder.trip_id == trip_id))
        db.session.remove()
        return pending, order and order.state, order and order.order_id


def test_python_m_app_worker_sends_messages_and_books_orders(app, orders, sandboxes,
                                                             committed_db):
    for approver in APPROVERS:  # they accepted approval messages: WeChat sends are due
        factories.grant(orders.api, sandboxes["wechat"].url, approver, ["tmpl-approval-task"])
    trip_id = orders.approved_trip("ridehail")
    pending, state, _ = _counts(app, trip_id)
    assert pending > 0 and state is None  # nothing has run yet: no order, messages waiting
    sent_before = requests.get(f"{sandboxes['wechat'].url}/__sandbox/stats",
                               timeout=5).json()["messages"]

    env = {**os.environ, "DATABASE_URL": committed_db, "OTB_SANDBOX_MODE": "1",
           "OTB_WECHAT_BASE_URL": sandboxes["wechat"].url,
           "OTB_PROVIDERS_JSON": json.dumps(
               {name: {"base_url": sandboxes[name].url}
                for name in ("ridehail", "rental-a", "rental-b")})}
    proc = subprocess.Popen([sys.executable, "-m", "app.worker"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            pending, state, provider_order_id = _counts(app, trip_id)
            if pending == 0 and state == "created":
                break
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)

    assert proc.returncode == 0, output
    assert pending == 0, output
    assert state == "created" and provider_order_id, output
    sent_after = requests.get(f"{sandboxes['wechat'].url}/__sandbox/stats",
                              timeout=5).json()["messages"]
    assert sent_after > sent_before
    assert "notifications.send" in output and "orders.book" in output
