"""Per-test supply sandboxes on free loopback ports, adapters pointed at them, and a
webhook receiver that checks callback signatures and can refuse the first attempts."""
from __future__ import annotations

import threading

import pytest
import requests
from flask import Flask, request

from providers.http import MemoryNonceStore, SignedClient, verify, verify_webhook
from providers.rental import RentalProvider
from providers.ridehail import RideHailProvider
from providers.sandbox import rental as rental_sandbox
from providers.sandbox import ridehail as ridehail_sandbox
from providers.sandbox.server import SandboxServer

RIDEHAIL_KEYS = ("otb-ridehail", "sandbox-ridehail-secret")
RENTAL_KEYS = ("otb-rental-a", "sandbox-rental-a-secret")


def client(server: SandboxServer, keys, **kw) -> SignedClient:
    kw.setdefault("read_timeout", 2.0)
    return SignedClient(server.url, *keys, provider="test", backoff=0.01,
                        signature_codes=frozenset({40101}), **kw)


def fault(server: SandboxServer, **rule) -> None:
    requests.post(f"{server.url}/__sandbox/faults", json=rule, timeout=2).raise_for_status()


def control(server: SandboxServer, path: str, body: dict | None = None) -> dict:
    resp = requests.post(f"{server.url}/__sandbox{path}", json=body or {}, timeout=2)
    resp.raise_for_status()
    return resp.json()


@pytest.fixture
def ridehail_server():
    with SandboxServer(ridehail_sandbox.create_app(*RIDEHAIL_KEYS)) as server:
        yield server


@pytest.fixture
def rental_server():
    with SandboxServer(rental_sandbox.create_app(*RENTAL_KEYS, price_factor="0.80",
                                                 company="常州交运租车")) as server:
        yield server


@pytest.fixture
def ridehail(ridehail_server):
    return RideHailProvider("ridehail", client(ridehail_server, RIDEHAIL_KEYS), label="T3出行")


@pytest.fixture
def rental(rental_server):
    return RentalProvider("rental-a", client(rental_server, RENTAL_KEYS), label="常州交运租车")


class Receiver:
    """Our side of the callbacks: refuses the first ``fail_first`` (as if down), verifies
    the others in the provider's scheme (rental: Standard Webhooks; ride-hailing: signed
    body fields)."""

    def __init__(self, keys: dict[str, tuple[str, str]]):
        self.keys = keys  # hook name -> (app_key, secret)
        self.nonces = MemoryNonceStore()
        self.fail_first = 0
        self.accepted: list[dict] = []
        self.rejected: list[str] = []
        self.webhook_ids: list[str | None] = []  # every attempt's webhook-id header
        self.arrived = threading.Condition()
        app = Flask("receiver")
        app.post("/hook/<name>")(self._hook)
        self.server = SandboxServer(app).start()

    def _hook(self, name):
        self.webhook_ids.append(request.headers.get("webhook-id"))
        with self.arrived:
            if self.fail_first > 0:
                self.fail_first -= 1
                return {"ok": False}, 503
        app_key, secret = self.keys[name]
        body = request.get_json()
        try:
            if name.startswith("rental"):
                verify_webhook(request.headers, request.get_data(), secret, key=app_key,
                               nonce_store=self.nonces)
            else:
                verify(body, {app_key: secret}.get, nonce_store=self.nonces)
        except Exception as exc:  # noqa: BLE001 - the test inspects why
            self.rejected.append(str(exc))
            return {"ok": False}, 401
        with self.arrived:
            self.accepted.append(body)
            self.arrived.notify_all()
        return {"ok": True}

    def wait_for(self, n: int, timeout: float = 10) -> list[dict]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.accepted) >= n, timeout)
        return self.accepted

    def url(self, name: str) -> str:
        return f"{self.server.url}/hook/{name}"


@pytest.fixture
def receiver():
    r = Receiver({"ridehail": RIDEHAIL_KEYS, "rental-a": RENTAL_KEYS})
    yield r
    r.server.stop()
