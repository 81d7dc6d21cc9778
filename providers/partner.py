"""Partner-city platforms (一体化): the client of our own platform-to-platform API
(``docs/partner-api.md``) and the ``partner`` supply provider built on it.

Every request is signed as Standard Webhooks signs a message, with the partner's key:
the signed content is ``"<METHOD> <path>\\n"`` followed by the raw body (``path`` from
``/partner/v1/`` on, so a signature cannot be moved to another route), the headers are
``webhook-id`` (a fresh id per request; the receiver refuses an id it has seen),
``webhook-timestamp`` and ``webhook-signature``, plus ``partner-id`` (the id the partner
gave us). ``providers.http.sign_webhook``/``verify_webhook`` do the signing both ways.
Status callbacks from the partner are plain Standard Webhooks over the JSON body, as a
rental company's (``verify_callback``).

The provider quotes only a trip whose destination lies in the partner's service area
(``NotApplicable`` otherwise; the app leaves it out of the fan-out altogether).
"""
from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

import requests

from providers.base import (Bill, Cancellation, FeeLine, MalformedResponse, NotApplicable, Order,
                            OrderRequest, ProviderError, ProviderOffer, ProviderTimeout,
                            QuoteRequest)
from providers.http import sign_webhook, verify_webhook
from providers.money import money

log = logging.getLogger(__name__)

API_PREFIX = "/partner/v1"
PARTNER_ID_HEADER = "partner-id"
# The partner's order states are ours (``providers.base.ORDER_STATES``).
STATES = ("created", "assigned", "arrived", "in_trip", "completed", "paid", "cancelled")


def request_content(method: str, path: str, body: bytes) -> bytes:
    """What a partner API request's signature covers: method, path and raw body."""
    return f"{method.upper()} {path}\n".encode() + body


def sign_request(method: str, path: str, body: bytes, secret: str, partner_id: str, *,
                 now: float | None = None) -> dict[str, str]:
    """The headers of one signed request (a fresh ``webhook-id`` each time)."""
    msg_id = "msg_" + secrets.token_hex(12)
    return {PARTNER_ID_HEADER: partner_id, "Content-Type": "application/json",
            **sign_webhook(msg_id, request_content(method, path, body), secret, now=now)}


def verify_request(headers: Mapping[str, str], method: str, path: str, body: bytes,
                   secret: str, *, key: str, nonce_store=None, now: float | None = None) -> None:
    """Check a signed partner request (raises ``SignatureError``: missing, stale, bad_sign,
    replayed); its ``webhook-id`` is remembered under ``key``."""
    verify_webhook(headers, request_content(method, path, body), secret, key=key,
                   nonce_store=nonce_store, now=now)


@dataclass(frozen=True)
class Area:
    """A partner's service area, a bounding box like the platform's ``CITY_BOUNDS``."""

    south: float
    west: float
    north: float
    east: float

    def contains(self, lat: float, lng: float) -> bool:
        return self.south <= lat <= self.north and self.west <= lng <= self.east


class PartnerClient:
    """Signed JSON calls to one partner platform, with timeouts, retries of idempotent
    calls and error translation (ProviderTimeout, ProviderError with the HTTP status or
    the partner's error ``code``, MalformedResponse)."""

    def __init__(self, base_url: str, partner_id: str, secret: str, *, provider: str = "",
                 connect_timeout: float = 0.5, read_timeout: float = 5.0, retries: int = 2,
                 backoff: float = 0.2, session: requests.Session | None = None):
        self.base_url = base_url.rstrip("/")
        self.partner_id = partner_id
        self.secret = secret
        self.provider = provider
        self.timeout = (connect_timeout, read_timeout)
        self.retries = retries
        self.backoff = backoff
        self.http = session or requests.Session()

    def call(self, method: str, path: str, payload: Mapping[str, Any] | None = None, *,
             idempotent: bool = False) -> Any:
        attempts = 1 + (self.retries if idempotent else 0)
        for attempt in range(attempts):
            try:
                return self._once(method, path, payload)
            except ProviderError as exc:
                retry = isinstance(exc, ProviderTimeout) or exc.code is None or (
                    isinstance(exc.code, int) and exc.code >= 500)
                if not retry or attempt + 1 == attempts:
                    raise
                time.sleep(self.backoff * (2 ** attempt))
        raise AssertionError("unreachable")

    def _once(self, method: str, path: str, payload: Mapping[str, Any] | None) -> Any:
        full = API_PREFIX + path
        body = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode()
        headers = sign_request(method, full, body, self.secret, self.partner_id)
        try:
            resp = self.http.request(method, self.base_url + full, data=body or None,
                                     headers=headers, timeout=self.timeout)
        except requests.Timeout as exc:
            raise ProviderTimeout(f"{method} {full} timed out", provider=self.provider) from exc
        except requests.RequestException as exc:
            raise ProviderError(f"{method} {full} unreachable: {exc.__class__.__name__}",
                                provider=self.provider) from exc
        try:
            data = resp.json()
        except ValueError:
            data = None
        if resp.status_code >= 500:
            raise ProviderError(f"{method} {full} answered HTTP {resp.status_code}",
                                provider=self.provider, code=resp.status_code)
        if not isinstance(data, dict):
            raise MalformedResponse(f"{method} {full}: not a JSON object "
                                    f"(HTTP {resp.status_code})", provider=self.provider,
                                    code=resp.status_code)
        if resp.status_code == 429:
            # Over our budget at the partner (its RATELIMIT_PARTNER): nothing was done;
            # worth another try later, not at once (code 429: the booking job's retry).
            raise ProviderError(f"{method} {full}: 429 {data.get('code')} (Retry-After "
                                f"{resp.headers.get('Retry-After', '?')} s)",
                                provider=self.provider, code=429)
        if resp.status_code >= 400:
            raise ProviderError(f"{method} {full}: {resp.status_code} {data.get('code')} "
                                f"{data.get('message', '')}", provider=self.provider,
                                code=data.get("code") or resp.status_code)
        return data


class PartnerProvider:
    """A partner city's pooled fleet as one more supply channel (SPEC §7, outbound)."""

    channel = "partner"
    takes_orders = True

    def __init__(self, name: str, client: PartnerClient, area: Area, *, label: str,
                 callback_key: str):
        self.name = name
        self.client = client
        self.area = area
        self.label = label
        self.callback_key = callback_key

    def serves(self, request: QuoteRequest) -> bool:
        return self.area.contains(request.destination.lat, request.destination.lng)

    @staticmethod
    def trip_body(request: QuoteRequest) -> dict:
        return {"stops": [{"name": s.name, "lat": s.lat, "lng": s.lng} for s in request.stops],
                "depart_at": request.depart_at.isoformat(),
                "return_at": request.return_at.isoformat(),
                "passengers": request.passengers, "vehicle_class": request.vehicle_class}

    def quote(self, request: QuoteRequest) -> list[ProviderOffer]:
        if not self.serves(request):
            raise NotApplicable("目的地不在合作城市服务范围内")
        data = self.client.call("POST", "/quotes", self.trip_body(request), idempotent=True)
        return [ProviderOffer(
            provider=self.name, channel=self.channel, product=f"{self.label}·{q['product']}",
            vehicle_class=q["vehicle_class"], seats=int(q["seats"]), nev=bool(q["nev"]),
            price=money(q["price"]), breakdown=tuple(FeeLine.from_dict(x) for x in q["lines"]),
            expires_at=datetime.fromisoformat(q["valid_until"]),
            available=bool(q.get("available", True)),
            extra={"quote_id": q["quote_id"], "partner": self.label})
            for q in data.get("quotes") or []]

    def book(self, order_request: OrderRequest) -> Order:
        request = order_request.request
        body = {**self.trip_body(request),
                "order_ref": order_request.out_order_id,
                "quote_id": order_request.offer.extra.get("quote_id"),
                "vehicle_class": order_request.offer.vehicle_class,
                "quoted_price": str(order_request.offer.price),
                "approval_ref": f"trip-{request.trip_ref}",
                "contact": {"name": order_request.contact_name,
                            "phone": order_request.contact_phone}}
        return self._order(self.client.call("POST", "/orders", body, idempotent=True))

    def cancel(self, order_id: str, reason: str) -> Cancellation:
        data = self.client.call("POST", f"/orders/{order_id}/cancel", {"reason": reason},
                                idempotent=True)
        return Cancellation(order_id=data["id"], fee=money(data.get("cancel_fee") or "0"))

    def status(self, order_id: str) -> Order:
        return self._order(self.client.call("GET", f"/orders/{order_id}", idempotent=True))

    def lookup(self, out_order_id: str) -> Order | None:
        try:
            data = self.client.call("GET", f"/orders/by-ref/{out_order_id}", idempotent=True)
        except ProviderError as exc:
            if exc.code in ("not_found", 404):
                return None
            raise
        return self._order(data)

    def verify_callback(self, payload: Mapping[str, Any], headers: Mapping[str, str],
                        body: bytes, *, nonce_store=None, now: float | None = None) -> None:
        verify_webhook(headers, body, self.client.secret, key=self.callback_key,
                       nonce_store=nonce_store, now=now)

    def parse_callback(self, payload: Mapping[str, Any]) -> Order:
        return self._order(payload)

    def _order(self, data: Mapping[str, Any]) -> Order:
        if data["state"] not in STATES:
            raise ValueError(f"unknown order state {data['state']!r}")
        vehicle = data.get("vehicle") or {}
        bill = data.get("bill")
        extra = {k: data[k] for k in ("cancel_fee", "occurred_at") if data.get(k)}
        if isinstance(data.get("version"), int):  # the order's change count: callbacks' order
            extra["version"] = data["version"]
        if bill and bill.get("actual_km"):
            extra["actual_km"] = bill["actual_km"]
        if bill and bill.get("market_reference"):  # the partner's local rental market
            extra["market_reference"] = bill["market_reference"]
        return Order(provider=self.name, order_id=str(data["id"]),
                     out_order_id=str(data["order_ref"]), state=data["state"],
                     plate=vehicle.get("plate"), driver_name=vehicle.get("driver_name"),
                     driver_phone=vehicle.get("driver_phone"),
                     bill=Bill(tuple(FeeLine.from_dict(x) for x in bill["lines"]))
                     if bill else None, extra=extra)
