"""Ride-hailing enterprise adapter (网约车, T3 / DiDi-enterprise style).

Estimates come per tier with an ``estimate_id`` that locks the price for 10 minutes and is
needed to order; orders are created with our idempotent ``out_order_id``; the provider's
signed callbacks (see ``parse_callback``) carry every state change and the final fee;
``status`` (or ``lookup`` by our ``out_order_id``) reads them when a callback was missed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping

from providers.base import (Bill, Cancellation, FeeLine, NotApplicable, Order, OrderRequest,
                            ProviderError, ProviderOffer, QuoteRequest)
from providers.fees import FEE_LABELS, map_fee_lines
from providers.money import money
from providers.http import SignedClient

# The provider's answer for an estimate or order it does not know.
NOT_FOUND = 40400
# This sandbox protocol's fee items are our kinds by name; ``total`` is what is charged.
FEE_KINDS = {kind: kind for kind in FEE_LABELS}


@dataclass(frozen=True)
class DriverPosition:
    lat: float
    lng: float
    at: datetime


def fee_lines(fee: Mapping[str, Any]) -> tuple[FeeLine, ...]:
    """A provider fee breakdown as our lines, in a fixed order, without zero extras; items
    of unknown kinds are kept in ``other``, and with a ``total`` the lines sum to it."""
    items = {k: money(v) for k, v in fee.items() if k != "total"}
    total = money(fee["total"]) if fee.get("total") is not None else None
    return map_fee_lines(items, FEE_KINDS, total=total)


class RideHailProvider:
    channel = "ridehail"
    takes_orders = True

    def __init__(self, name: str, client: SignedClient, *, label: str = "网约车"):
        self.name = name
        self.client = client
        self.label = label

    def quote(self, request: QuoteRequest) -> list[ProviderOffer]:
        data = self.client.post("/v1/estimate", {
            "points": [{"name": s.name, "lat": s.lat, "lng": s.lng} for s in request.stops],
            "depart_at": request.depart_at.isoformat(), "passengers": request.passengers})
        estimates = data.get("estimates") or []
        if not estimates:
            raise NotApplicable("乘车人数超出网约车车型座位数")
        return [ProviderOffer(
            provider=self.name, channel=self.channel,
            product=f"{self.label}·{e['tier_name']}", vehicle_class=e["vehicle_class"],
            seats=int(e["seats"]), nev=bool(e["nev"]), price=money(e["price"]),
            breakdown=fee_lines(e["breakdown"]),
            expires_at=datetime.fromtimestamp(int(e["expires_at"]), timezone.utc),
            extra={"estimate_id": e["estimate_id"], "tier": e["tier"],
                   "distance_m": e["distance_m"], "duration_s": e["duration_s"]})
            for e in estimates]

    def book(self, order_request: OrderRequest) -> Order:
        data = self.client.post("/v1/orders", {
            "estimate_id": order_request.offer.extra["estimate_id"],
            "out_order_id": order_request.out_order_id,
            "passenger_name": order_request.contact_name,
            "passenger_phone": order_request.contact_phone}, idempotent=True)
        return self._order(data)

    def cancel(self, order_id: str, reason: str) -> Cancellation:
        data = self.client.post("/v1/orders/cancel", {"order_id": order_id, "reason": reason},
                                idempotent=True)
        return Cancellation(order_id=data["order_id"], fee=money(data["fee"]))

    def status(self, order_id: str) -> Order:
        return self._order(self.client.get("/v1/orders/detail", {"order_id": order_id}))

    def lookup(self, out_order_id: str) -> Order | None:
        try:
            data = self.client.get("/v1/orders/detail", {"out_order_id": out_order_id})
        except ProviderError as exc:
            if exc.code == NOT_FOUND:
                return None
            raise
        return self._order(data)

    def driver_position(self, order_id: str) -> DriverPosition:
        data = self.client.get("/v1/orders/driver-location", {"order_id": order_id})
        return DriverPosition(lat=float(data["lat"]), lng=float(data["lng"]),
                              at=datetime.fromisoformat(data["at"]))

    def verify_callback(self, payload: Mapping[str, Any], headers: Mapping[str, str],
                        body: bytes, *, nonce_store=None, now: float | None = None) -> None:
        """The platform signs the callback's fields (``sign``, ``nonce`` in the body)."""
        self.client.verify(payload, nonce_store=nonce_store, now=now)

    def parse_callback(self, payload: Mapping[str, Any]) -> Order:
        """The order a (signature-checked) callback describes."""
        return self._order(payload)

    def _order(self, data: Mapping[str, Any]) -> Order:
        driver = data.get("driver") or {}
        fee = data.get("fee")
        extra = {k: data[k] for k in ("tier", "estimate_id", "estimate_price", "cancel_fee",
                                      "occurred_at") if data.get(k) is not None}
        return Order(provider=self.name, order_id=data["order_id"],
                     out_order_id=data["out_order_id"], state=data["state"],
                     plate=driver.get("plate"), driver_name=driver.get("name"),
                     driver_phone=driver.get("phone"),
                     bill=Bill(fee_lines(fee)) if fee else None, extra=extra)
