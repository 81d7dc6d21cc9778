"""Rental company adapter (社会租赁, framework-agreement supplier, car with driver).

One instance per company. Quotes are by class for the trip's time range and estimated
km; reservations carry our idempotent ``out_order_id``; cancellation is free until the
company's cut-off; the final bill comes by callback signed as Standard Webhooks (``verify_callback``,
``parse_callback``) or
``status`` (``lookup`` finds a reservation by our ``out_order_id``). Our own
agreement-ceiling check of every quote lives in app/quotes/policy.py.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from providers.base import (Bill, Cancellation, FeeLine, NotApplicable, Order, OrderRequest,
                            ProviderError, ProviderOffer, QuoteRequest)
from providers.money import money
from providers.http import SignedClient

# The company's answer for a quote or reservation it does not know.
NOT_FOUND = 40400
# The company's reservation states → our order states.
STATES = {"reserved": "created", "assigned": "assigned", "in_service": "in_trip",
          "finished": "completed", "cancelled": "cancelled"}


class RentalProvider:
    channel = "rental"
    takes_orders = True

    def __init__(self, name: str, client: SignedClient, *, label: str = "租赁公司"):
        self.name = name
        self.client = client
        self.label = label

    def quote(self, request: QuoteRequest) -> list[ProviderOffer]:
        if not request.vehicle_classes:
            raise NotApplicable("没有适合该行程的车型")
        data = self.client.post("/api/v2/quote", {
            "vehicle_classes": list(request.vehicle_classes),
            "start_at": request.depart_at.isoformat(), "end_at": request.return_at.isoformat(),
            "est_km": str(request.est_km), "passengers": request.passengers,
            "with_driver": True})
        return [ProviderOffer(
            provider=self.name, channel=self.channel, product=f"{self.label}·{q['model']}",
            vehicle_class=q["vehicle_class"], seats=int(q["seats"]), nev=bool(q["nev"]),
            price=money(q["price"]), breakdown=tuple(FeeLine.from_dict(x) for x in q["lines"]),
            expires_at=datetime.fromisoformat(q["valid_until"]),
            extra={"quote_id": q["quote_id"], "model": q["model"], "company": q["company"]})
            for q in data.get("quotes") or []]

    def book(self, order_request: OrderRequest) -> Order:
        origin = order_request.request.origin
        data = self.client.post("/api/v2/reservations", {
            "quote_id": order_request.offer.extra["quote_id"],
            "out_order_id": order_request.out_order_id,
            "contact_name": order_request.contact_name,
            "contact_phone": order_request.contact_phone,
            "pickup": {"name": origin.name, "lat": origin.lat, "lng": origin.lng}},
            idempotent=True)
        return self._order(data)

    def cancel(self, order_id: str, reason: str) -> Cancellation:
        data = self.client.post("/api/v2/reservations/cancel",
                                {"reservation_id": order_id, "reason": reason}, idempotent=True)
        return Cancellation(order_id=data["reservation_id"], fee=money(data["fee"]))

    def status(self, order_id: str) -> Order:
        return self._order(self.client.get("/api/v2/reservations/detail",
                                           {"reservation_id": order_id}))

    def lookup(self, out_order_id: str) -> Order | None:
        try:
            data = self.client.get("/api/v2/reservations/detail", {"out_order_id": out_order_id})
        except ProviderError as exc:
            if exc.code == NOT_FOUND:
                return None
            raise
        return self._order(data)

    def verify_callback(self, payload: Mapping[str, Any], headers: Mapping[str, str],
                        body: bytes, *, nonce_store=None, now: float | None = None) -> None:
        """Our own protocol: Standard Webhooks (``id.timestamp.body``, replay keyed on the id)."""
        self.client.verify_webhook(headers, body, nonce_store=nonce_store, now=now)

    def parse_callback(self, payload: Mapping[str, Any]) -> Order:
        """The order a (signature-checked) callback describes."""
        return self._order({**payload, "reservation_id": payload["order_id"]})

    def _order(self, data: Mapping[str, Any]) -> Order:
        vehicle = data.get("vehicle") or {}
        bill = data.get("bill")
        extra = {k: data[k] for k in ("price", "cancel_fee", "occurred_at") if data.get(k)}
        if bill and bill.get("actual_km"):
            extra["actual_km"] = bill["actual_km"]
        return Order(provider=self.name, order_id=data["reservation_id"],
                     out_order_id=data["out_order_id"], state=STATES[data["state"]],
                     plate=vehicle.get("plate"), driver_name=vehicle.get("driver_name"),
                     driver_phone=vehicle.get("driver_phone"),
                     bill=Bill(tuple(FeeLine.from_dict(x) for x in bill["lines"]))
                     if bill else None, extra=extra)
