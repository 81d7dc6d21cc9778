"""What the supply-provider sandboxes (ride-hailing, rental) share: signed requests and
answers, a movable business clock, and signed status callbacks retried until answered 2xx.

Callbacks are signed in the sandbox's scheme: ride-hailing signs the body's fields
(``app_key``, ``timestamp``, ``nonce``, ``sign`` added to it, a fresh nonce per attempt);
a rental company, speaking our own protocol, sends the bare JSON body with Standard
Webhooks headers (the same ``webhook-id`` on every attempt of one message, a fresh
timestamp and signature each time).

Control endpoints (unsigned, loopback only, like the fault endpoints):

    POST /__sandbox/config     {"webhook_url": "...", "clock_offset_seconds": 601,
                                "callback_attempts": 6, "callback_backoff": 0.2,
                                "price_change": "50.00"}  (rental: added to new quotes)
    GET  /__sandbox/callbacks  every callback attempt: {order_id, state, attempt, status, at}
    POST /__sandbox/orders/<order_id>/advance  (per sandbox) move an order on and call back
"""
from __future__ import annotations

import json
import logging
import queue
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import requests
from flask import Flask, g, jsonify, request

from providers.base import SignatureError
from providers.http import (INVALID_SIGN_CODE, MemoryNonceStore, sign_params, sign_webhook,
                            verify)
from providers.sandbox.server import install_faults, json_body

log = logging.getLogger(__name__)


@dataclass
class SupplierState:
    app_key: str
    secret: str
    webhook_url: str | None = None
    # Callbacks as Standard Webhooks (our own protocol) rather than signed body fields.
    standard_webhooks: bool = False
    clock_offset: float = 0.0
    callback_attempts: int = 6
    callback_backoff: float = 0.2
    # Added to every new quote's price (yuan, may be negative): the market moved.
    price_change: Decimal = Decimal("0")
    callbacks: list[dict] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    nonces: MemoryNonceStore = field(default_factory=MemoryNonceStore)

    def now(self) -> float:
        """The provider's business time (estimate and quote locks); tests can move it."""
        return time.time() + self.clock_offset

    def now_dt(self) -> datetime:
        return datetime.fromtimestamp(self.now(), timezone.utc)


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat()


class CallbackSender:
    """Delivers callbacks in order from one thread; each is retried with backoff until
    the receiver answers 2xx or the attempts run out."""

    def __init__(self, state: SupplierState):
        self.state = state
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="sandbox-callbacks", daemon=True)
        self._thread.start()

    def send(self, payload: dict) -> None:
        if self.state.webhook_url:
            self._queue.put(payload)

    def _run(self) -> None:
        while True:
            payload = self._queue.get()
            self._deliver(payload)

    def _signed(self, msg_id: str, payload: dict) -> tuple[dict[str, str], bytes]:
        """One attempt's headers and body, signed afresh."""
        state = self.state
        headers = {"Content-Type": "application/json"}
        if state.standard_webhooks:
            body = json.dumps(payload, ensure_ascii=False).encode()
            return {**headers, **sign_webhook(msg_id, body, state.secret)}, body
        return headers, json.dumps(sign_params(payload, state.app_key, state.secret)).encode()

    def _deliver(self, payload: dict) -> None:
        state = self.state
        msg_id = "msg_" + secrets.token_hex(12)
        for attempt in range(1, state.callback_attempts + 1):
            headers, body = self._signed(msg_id, payload)
            try:
                resp = requests.post(state.webhook_url, data=body, headers=headers, timeout=5)
                status: int | str = resp.status_code
            except requests.RequestException as exc:
                status = exc.__class__.__name__
            with state.lock:
                state.callbacks.append({"order_id": payload["order_id"], "state": payload["state"],
                                        "attempt": attempt, "status": status, "at": time.time()})
            if isinstance(status, int) and 200 <= status < 300:
                return
            time.sleep(min(state.callback_backoff * 2 ** (attempt - 1), 5.0))
        log.warning("callback for %s (%s) given up", payload["order_id"], payload["state"])


def create_supplier_app(name: str, app_key: str, secret: str, webhook_url: str | None, *,
                        standard_webhooks: bool = False
                        ) -> tuple[Flask, SupplierState, CallbackSender]:
    """A Flask app with faults, signature checks on every API call and the control endpoints."""
    app = Flask(name)
    state = SupplierState(app_key=app_key, secret=secret, webhook_url=webhook_url,
                          standard_webhooks=standard_webhooks)
    sender = CallbackSender(state)
    app.extensions["supplier_state"] = state
    install_faults(app)

    @app.before_request
    def _check_signature():
        if request.path.startswith("/__sandbox/"):
            return None
        params = request.args.to_dict() if request.method == "GET" else json_body()
        try:
            verify(params, lambda key: state.secret if key == state.app_key else None,
                   nonce_store=state.nonces)
        except SignatureError as exc:
            return refuse(state, INVALID_SIGN_CODE, f"invalid sign: {exc.code}")
        g.params = params
        return None

    @app.post("/__sandbox/config")
    def _config():
        body = json_body()
        with state.lock:
            if "webhook_url" in body:
                state.webhook_url = body["webhook_url"]
            if "clock_offset_seconds" in body:
                state.clock_offset = float(body["clock_offset_seconds"])
            if "callback_attempts" in body:
                state.callback_attempts = int(body["callback_attempts"])
            if "callback_backoff" in body:
                state.callback_backoff = float(body["callback_backoff"])
            if "price_change" in body:
                state.price_change = Decimal(str(body["price_change"]))
        return jsonify({"ok": True})

    @app.get("/__sandbox/callbacks")
    def _callbacks():
        with state.lock:
            return jsonify({"items": list(state.callbacks)})

    return app, state, sender


def reply(state: SupplierState, data: Any, *, code: int = 0, msg: str = "ok"):
    """The signed ``{code, msg, data}`` envelope; the bad_signature fault spoils the sign."""
    body = sign_params({"code": code, "msg": msg, "data": data}, state.app_key, state.secret)
    if g.get("bad_signature"):
        body["sign"] = "0" * 64
    return jsonify(body)


def params() -> dict:
    """The verified request parameters of this call."""
    return g.params


def refuse(state: SupplierState, code: int, msg: str):
    """A signed refusal: non-zero ``code``, no data."""
    return reply(state, None, code=code, msg=msg)
