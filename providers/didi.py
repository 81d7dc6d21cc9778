"""DiDi-Enterprise-shaped ride-hailing adapter (滴滴企业版), speaking the ``didi`` protocol.

The wire (``providers.protocol.PROTOCOLS["didi"]``): ``client_id``/``client_secret`` →
``access_token`` (kept and renewed by the client), MD5 over sorted raw ``k=v&`` form fields
with a ``sign_key`` that is never sent, unsigned ``{errno, errmsg, data}`` answers, amounts
in fen. What this adapter adds, at the edge:

- coordinates go out as GCJ-02 (converted from our WGS-84), times as ``yyyy-MM-dd
  HH:mm:ss`` in Asia/Shanghai;
- the booking window: a departure at least 30 minutes and at most 3 days ahead, refused
  before any call (quote: NotApplicable; book: ProviderError ``booking_window``);
- estimates carry no seats or vehicle class: each ``require_level`` is mapped by
  configuration (``products``) to our vehicle class, seats and new-energy flag; levels not
  configured are not offered;
- fee items are mapped by configuration (``fee_kinds``) to our kinds, with an ``other``
  remainder so the lines sum exactly to the provider's ``total_price``;
- callbacks carry no state or fee: ``verify_callback`` checks the MD5 sign, the client id and
  the timestamp window, and ``parse_callback`` re-queries the order (its detail is the
  truth); the webhook answers ``callback_ack()``;
- an order id can change when DiDi reassigns the order: the new order's detail names the
  old id (``pre_order_id``, in ``extra["previous_order_ids"]``); asking about an old id
  follows our reference to the order that took over;
- cancelling asks the fee rule first (``getCancelFee``), then cancels; the fee the provider
  finally decides arrives in the order's detail (``extra["cancel_fee"]``).

DiDi's own documentation is not public; paths, status numbers and errnos follow its public
clients and the sandbox (``providers.sandbox.didi``) and are kept in this module's tables.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping
from zoneinfo import ZoneInfo

from providers.base import (Bill, Cancellation, NotApplicable, Order, OrderRequest,
                            ProviderError, ProviderOffer, QuoteRequest, SignatureError)
from providers.fees import map_fee_lines
from providers.geo import wgs84_to_gcj02
from providers.http import SIGNATURE_WINDOW_SECONDS, SignedClient

SHANGHAI = ZoneInfo("Asia/Shanghai")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
MIN_AHEAD = timedelta(minutes=30)
MAX_AHEAD = timedelta(days=3)
NOT_FOUND = 40400
BOOKING_WINDOW = "booking_window"
WINDOW_MESSAGE = "滴滴企业版仅受理出发时间在30分钟后、3天以内的预约用车"
PATHS = {"estimate": "/river/EstimatePrice/get", "create": "/river/Order/Create",
         "detail": "/river/Order/detail", "cancel_fee": "/river/Order/getCancelFee",
         "cancel": "/river/Order/Cancel"}
STATES = {300: "created", 400: "assigned", 410: "arrived", 500: "in_trip", 600: "completed",
          700: "paid", 311: "cancelled"}
REASSIGNED = 312
CALLBACK_FIELDS = ("client_id", "order_id", "notify_type", "notify_desc", "timestamp", "sign")
DEFAULT_FEE_KINDS = {"start_price": "base", "normal_fee": "distance", "time_fee": "time",
                     "normal_time_fee": "time", "highway_fee": "tolls", "bridge_fee": "tolls",
                     "park_fee": "parking"}


@dataclass(frozen=True)
class Product:
    """What a ``require_level`` is in our terms: vehicle class, seats, new-energy, and the
    ride-hailing tier the travel policy allows or not (economy, comfort, business, luxury)."""

    name: str
    vehicle_class: str
    seats: int
    tier: str
    nev: bool = False

    @classmethod
    def from_config(cls, data: Mapping[str, Any]) -> "Product":
        return cls(name=str(data["name"]), vehicle_class=str(data["vehicle_class"]),
                   seats=int(data["seats"]), tier=str(data["tier"]),
                   nev=bool(data.get("nev", False)))


DEFAULT_PRODUCTS = {"600": Product("快车", "sedan", 4, "economy", True),
                    "900": Product("优享", "sedan", 4, "comfort", True),
                    "100": Product("专车", "sedan", 4, "luxury"),
                    "400": Product("六座商务", "mpv", 6, "business")}


def didi_time(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime(TIME_FORMAT)


def _coords(prefix: str, lat: float, lng: float) -> dict[str, str]:
    glat, glng = wgs84_to_gcj02(lat, lng)
    return {f"{prefix}lat": f"{glat:.6f}", f"{prefix}lng": f"{glng:.6f}"}


class DidiRideHailProvider:
    channel = "ridehail"
    takes_orders = True
    # The fee of a cancelled order is decided after the cancel: the poller keeps asking.
    cancel_fee_decided_later = True

    def __init__(self, name: str, client: SignedClient, *, label: str = "滴滴企业版",
                 products: Mapping[str, Any] | None = None,
                 fee_kinds: Mapping[str, str] | None = None,
                 now: Callable[[], datetime] | None = None, price_lock_seconds: int = 600):
        self.name = name
        self.client = client
        self.label = label
        self.protocol = client.protocol
        self.products = ({code: p if isinstance(p, Product) else Product.from_config(p)
                          for code, p in products.items()} if products else DEFAULT_PRODUCTS)
        self.fee_kinds = dict(fee_kinds or DEFAULT_FEE_KINDS)
        self.now = now or (lambda: datetime.now(timezone.utc))
        self.price_lock = timedelta(seconds=price_lock_seconds)

    # --- the supply contract ---------------------------------------------------------------

    def in_window(self, depart_at: datetime) -> bool:
        now = self.now()
        return now + MIN_AHEAD <= depart_at <= now + MAX_AHEAD

    def quote(self, request: QuoteRequest) -> list[ProviderOffer]:
        if not self.in_window(request.depart_at):
            raise NotApplicable(WINDOW_MESSAGE)
        if not any(p.seats >= request.passengers for p in self.products.values()):
            raise NotApplicable("乘车人数超出网约车车型座位数")
        data = self.client.post(PATHS["estimate"], {
            **_coords("f", request.origin.lat, request.origin.lng),
            **_coords("t", request.destination.lat, request.destination.lng),
            "start_name": request.origin.name, "end_name": request.destination.name,
            "departure_time": didi_time(request.depart_at),
            "passenger_count": request.passengers})
        expires_at = self.now() + self.price_lock
        offers = []
        for e in data.get("estimates") or []:
            product = self.products.get(str(e["require_level"]))
            if product is None or product.seats < request.passengers:
                continue
            price = self.protocol.to_money(e["price"])
            offers.append(ProviderOffer(
                provider=self.name, channel=self.channel, product=f"{self.label}·{product.name}",
                vehicle_class=product.vehicle_class, seats=product.seats, nev=product.nev,
                price=price, breakdown=self._lines(e.get("fee_detail") or {}, price),
                expires_at=expires_at,
                extra={"estimate_id": e["estimate_id"], "require_level": str(e["require_level"]),
                       "tier": product.tier, "distance_m": int(e["dist"]),
                       "duration_s": int(e["time"]) * 60}))
        if not offers:
            raise NotApplicable("乘车人数超出网约车车型座位数")
        return offers

    def book(self, order_request: OrderRequest) -> Order:
        request = order_request.request
        if not self.in_window(request.depart_at):
            raise ProviderError(WINDOW_MESSAGE, provider=self.name, code=BOOKING_WINDOW)
        extra = order_request.offer.extra
        data = self.client.post(PATHS["create"], {
            "estimate_id": extra["estimate_id"], "require_level": extra["require_level"],
            **_coords("f", request.origin.lat, request.origin.lng),
            **_coords("t", request.destination.lat, request.destination.lng),
            "start_name": request.origin.name, "end_name": request.destination.name,
            "departure_time": didi_time(request.depart_at),
            "passenger_name": order_request.contact_name,
            "passenger_phone": order_request.contact_phone,
            "callback_info": order_request.out_order_id}, idempotent=True)
        return Order(provider=self.name, order_id=str(data["order_id"]),
                     out_order_id=order_request.out_order_id, state="created")

    def cancel(self, order_id: str, reason: str) -> Cancellation:
        """Ask the fee rule first, then cancel; the fee asked is what the cancel costs now
        (the detail carries the fee the provider finally decides)."""
        rule = self.client.get(PATHS["cancel_fee"], {"order_id": order_id})
        self.client.post(PATHS["cancel"], {"order_id": order_id, "force": "true",
                                           "reason": reason}, idempotent=True)
        return Cancellation(order_id=order_id, fee=self.protocol.to_money(rule["cost"]))

    def status(self, order_id: str) -> Order:
        order = self._order(self.client.get(PATHS["detail"], {"order_id": order_id}))
        if order.state == "reassigned":  # follow our reference to the order that took over
            found = self.lookup(order.out_order_id)
            if found is None:
                raise ProviderError(f"order {order_id} was reassigned to an unknown order",
                                    provider=self.name, code=NOT_FOUND)
            return found
        return order

    def lookup(self, out_order_id: str) -> Order | None:
        try:
            data = self.client.get(PATHS["detail"], {"callback_info": out_order_id})
        except ProviderError as exc:
            if exc.code == NOT_FOUND:
                return None
            raise
        return self._order(data)

    # --- callbacks -------------------------------------------------------------------------

    def verify_callback(self, payload: Mapping[str, Any], headers: Mapping[str, str],
                        body: bytes, *, nonce_store=None, now: float | None = None) -> None:
        """The notify's fields are signed like a request (MD5 with ``sign_key``). No nonce
        store: a notify only makes us re-query the order, so a replay changes nothing."""
        missing = [f for f in CALLBACK_FIELDS if not payload.get(f)]
        if missing:
            raise SignatureError(f"missing {', '.join(missing)}", code="missing")
        if payload["client_id"] != self.client.app_key:
            raise SignatureError("unknown client_id", code="unknown_key")
        try:
            stamp = int(str(payload["timestamp"]))
        except ValueError:
            raise SignatureError("timestamp is not an integer", code="stale") from None
        if abs((now if now is not None else self.now().timestamp()) - stamp) \
                > SIGNATURE_WINDOW_SECONDS:
            raise SignatureError("timestamp outside the window", code="stale")
        if not self.protocol.signer.holds(payload, self.client.sign_key):
            raise SignatureError("signature mismatch", code="bad_sign")

    def parse_callback(self, payload: Mapping[str, Any]) -> Order:
        """A notify says only that something changed: the order's detail says what."""
        return self.status(str(payload["order_id"]))

    def callback_ack(self, result: Mapping[str, Any]) -> dict:
        return {"errno": 0, "errmsg": "ok"}

    # --- answers -------------------------------------------------------------------------

    def _lines(self, items: Mapping[str, Any], total):
        return map_fee_lines({k: self.protocol.to_money(v) for k, v in items.items()
                              if k not in ("total_price", "cancel_fee")},
                             self.fee_kinds, total=total)

    def _order(self, data: Mapping[str, Any]) -> Order:
        status = int(data["status"])
        if status == REASSIGNED:
            state = "reassigned"
        elif status in STATES:
            state = STATES[status]
        else:
            raise ValueError(f"unknown DiDi order status {status}")
        product = self.products.get(str(data.get("require_level")))
        extra: dict[str, Any] = {"require_level": data.get("require_level"),
                                 "tier": product.tier if product else None, "status": status}
        if data.get("pre_order_id"):
            extra["previous_order_ids"] = [str(data["pre_order_id"])]
        if data.get("cancel_fee") is not None:
            extra["cancel_fee"] = str(self.protocol.to_money(data["cancel_fee"]))
        bill = None
        price = data.get("price") or {}
        if state in ("completed", "paid") and price.get("total_price") is not None:
            bill = Bill(self._lines(price, self.protocol.to_money(price["total_price"])))
        return Order(provider=self.name, order_id=str(data["order_id"]),
                     out_order_id=str(data.get("callback_info") or ""), state=state,
                     plate=data.get("driver_car_number") or None,
                     driver_name=data.get("driver_name") or None,
                     driver_phone=data.get("driver_phone") or None, bill=bill,
                     extra={k: v for k, v in extra.items() if v is not None})
