"""Inbound (SPEC §7): a partner platform's signed requests, and its orders as our trips.

A partner's order becomes a fleet trip of the partner's stand-in unit, filed under the
partner's service account, priced by our paid-use tariff and approved by policy (the
partner approved it; its approval reference is kept on the trip). From then on it is
dispatched, driven and billed as usual; the lifecycle's events become signed status
callbacks to the partner (``outbox``), the last one with the final bill.
"""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app import audit, clock, supply
from app.accounts.models import Driver, User, Vehicle, VehicleClass
from app.billing.service import charge_of
from app.dispatch.models import Assignment, TripRun
from app.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from app.orders.callbacks import DbNonceStore
from app.partners.models import (CallbackState, P, Partner, PartnerCallback, PartnerOrder)
from app.quotes import policy
from app.trips import events
from app.trips.geo import is_cross_region
from app.trips.models import Channel, Offer, Purpose, Trip, TripState
from app.trips.service import city_bounds
from providers import base
from providers.partner import PARTNER_ID_HEADER, verify_request

S = TripState
# How long a quote's price holds (the order is priced again by the tariff in force).
QUOTE_VALID = timedelta(minutes=30)

SIGNATURE_REFUSALS = {
    "missing": ("signature_missing", "请求缺少签名头"),
    "stale": ("stale_timestamp", "请求时间戳已超过5分钟"),
    "bad_sign": ("bad_signature", "请求签名校验失败"),
    "replayed": ("replayed_request", "请求已处理过（重复的消息标识）"),
}


def nonce_key(partner: Partner) -> str:
    return f"partner:{partner.code}"


class _RecordingNonceStore(DbNonceStore):
    """The database nonce store, telling what it accepted (``keep_nonce``)."""

    def __init__(self, session, accepted: list | None):
        super().__init__(session)
        self.accepted = accepted

    def add(self, key: str, nonce: str, expires_at: float) -> bool:
        added = super().add(key, nonce, expires_at)
        if added and self.accepted is not None:
            self.accepted.append((key, nonce, expires_at))
        return added


def keep_nonce(session, accepted: list) -> None:
    """Record again the ``webhook-id`` ``authenticate`` accepted, after the request's
    transaction was rolled back (an error answer): a replay of a refused request is
    refused too, and cannot spend the partner's rate-limit budget."""
    store = DbNonceStore(session)
    for key, nonce, expires_at in accepted:
        store.add(key, nonce, expires_at)


def authenticate(session, headers, method: str, path: str, body: bytes, *,
                 accepted: list | None = None) -> Partner:
    """The enabled partner that signed this request, or 401 (unknown partner, missing or
    wrong signature, timestamp outside 5 minutes, replayed ``webhook-id``). The nonce it
    records is appended to ``accepted`` when given (see ``keep_nonce``)."""
    code = headers.get(PARTNER_ID_HEADER, "")
    partner = session.scalar(select(Partner).where(Partner.code == code)) if code else None
    if partner is None or not partner.enabled:
        raise Unauthorized("合作平台标识无效或已停用", code="unknown_partner")
    try:
        verify_request(headers, method, path, body, partner.secret, key=nonce_key(partner),
                       nonce_store=_RecordingNonceStore(session, accepted),
                       now=clock.now().timestamp())
    except base.SignatureError as exc:
        code, message = SIGNATURE_REFUSALS.get(exc.code, ("bad_signature", "请求签名校验失败"))
        raise Unauthorized(message, code=code) from None
    return partner


# --- quotes ------------------------------------------------------------------------------

def _request(data: dict, ref: str = "partner") -> base.QuoteRequest:
    stops = tuple(base.Stop(s["name"], float(s["lat"]), float(s["lng"])) for s in data["stops"])
    estimate = supply.route_estimator().estimate([(s.lat, s.lng) for s in stops])
    requested = data.get("vehicle_class")
    classes = policy.classes_to_quote(data["passengers"], requested)
    return base.QuoteRequest(
        trip_ref=ref, stops=stops, depart_at=data["depart_at"], return_at=data["return_at"],
        passengers=data["passengers"], vehicle_class=requested, est_km=estimate.km,
        est_minutes=estimate.minutes, cross_region=is_cross_region(city_bounds(), data["stops"]),
        vehicle_classes=classes)


def _fleet_offers(request: base.QuoteRequest) -> list[base.ProviderOffer]:
    fleet = next((p for p in supply.providers().values() if p.channel == "fleet"), None)
    if fleet is None:
        return []
    try:
        return fleet.quote(request)
    except base.NotApplicable:
        return []


def quote(session, partner: Partner, data: dict) -> dict:
    """Our fleet's offers for the partner's trip, priced by our paid-use tariff."""
    request = _request(data)
    now = clock.now()
    return {"quotes": [{
        "quote_id": f"fleet-{offer.vehicle_class}-{secrets.token_hex(4)}",
        "product": VehicleClass(offer.vehicle_class).label, "vehicle_class": offer.vehicle_class,
        "seats": offer.seats, "nev": offer.nev, "price": str(offer.price),
        "lines": [line.as_dict() for line in offer.breakdown],
        "valid_until": clock.local(now + QUOTE_VALID).isoformat(), "available": offer.available}
        for offer in _fleet_offers(request)]}


# --- orders ------------------------------------------------------------------------------

def find(session, partner: Partner, public_id: str) -> PartnerOrder:
    """One of the partner's own orders by our id (``PO000123``), else 404."""
    number = public_id.removeprefix("PO")
    row = session.get(PartnerOrder, int(number)) if number.isdigit() and len(number) < 10 else None
    if row is None or row.partner_id != partner.id:
        raise NotFound("订单不存在", code="not_found")
    return row


def find_by_ref(session, partner: Partner, order_ref: str) -> PartnerOrder:
    row = session.scalar(select(PartnerOrder).where(PartnerOrder.partner_id == partner.id,
                                                    PartnerOrder.order_ref == order_ref))
    if row is None:
        raise NotFound("订单不存在", code="not_found")
    return row


def place(session, partner: Partner, data: dict) -> tuple[PartnerOrder, bool]:
    """Create the trip for the partner's order; the same ``order_ref`` again answers the
    order already made (``created`` False)."""
    existing = session.scalar(select(PartnerOrder).where(
        PartnerOrder.partner_id == partner.id, PartnerOrder.order_ref == data["order_ref"]))
    if existing is not None:
        return existing, False
    if data["depart_at"] <= clock.now():
        raise ValidationFailed("出发时间须晚于当前时间", errors={"depart_at": ["须为将来时间"]})
    request = _request(data)
    wanted = data.get("vehicle_class") or (request.vehicle_classes or (None,))[0]
    offers = [o for o in _fleet_offers(request) if o.vehicle_class == wanted]
    if not offers:
        raise Conflict("该时段本市暂无可用公车", code="no_vehicle_available")
    offer = offers[0]
    now = clock.now()
    contact = data["contact"]
    passengers = [{"name": contact["name"]}] + [{"name": "同行人员"}] * (data["passengers"] - 1)
    trip = Trip(unit_id=partner.unit_id, applicant_id=partner.service_user_id,
                state=S.DRAFT, purpose_category=Purpose.OTHER,
                purpose_text=f"合作城市{partner.city}来访用车"[:200], passengers=passengers,
                stops=[{"name": s["name"], "lat": s["lat"], "lng": s["lng"]}
                       for s in data["stops"]],
                depart_at=data["depart_at"], return_at=data["return_at"],
                vehicle_class=VehicleClass(offer.vehicle_class),
                cross_region=request.cross_region, est_distance_km=request.est_km,
                est_duration_min=request.est_minutes)
    session.add(trip)
    session.flush()
    row = Offer(trip_id=trip.id, channel=Channel.FLEET, provider=offer.provider,
                product=offer.product, vehicle_class=VehicleClass(offer.vehicle_class),
                seats=offer.seats, nev=offer.nev, price=offer.price,
                breakdown=[line.as_dict() for line in offer.breakdown],
                available=offer.available, expires_at=offer.expires_at, compliant=True,
                reasons=[], recommended=True, rank=1, quote_round=1, extra=dict(offer.extra))
    session.add(row)
    session.flush()
    order = PartnerOrder(partner_id=partner.id, order_ref=data["order_ref"],
                         approval_ref=data["approval_ref"], trip_id=trip.id, state=P.CREATED,
                         quoted_price=offer.price, contact=dict(contact))
    try:
        with session.begin_nested():
            session.add(order)
            session.flush()
    except IntegrityError:
        raise Conflict("同一订单号的请求正在处理，请稍后查询", code="order_in_progress") from None
    trip.selected_offer_id, trip.channel, trip.estimate = row.id, Channel.FLEET, offer.price
    trip.partner = {"code": partner.code, "name": partner.name, "order_id": order.public_id,
                    "order_ref": order.order_ref, "approval_ref": order.approval_ref}
    facts = {"partner": partner.code, "partner_order": order.public_id,
             "order_ref": order.order_ref, "approval_ref": order.approval_ref}
    audit.record(session, entity="trips", entity_id=trip.id, action="created",
                 actor_id=None, data={"cross_region": trip.cross_region, **facts})
    trip.transition(session, S.QUOTED, actor_id=None, at=now, data={"round": 1, **facts})
    trip.transition(session, S.PENDING_APPROVAL, actor_id=None, at=now,
                    data={"offer_id": row.id, "estimate": str(offer.price), **facts})
    trip.transition(session, S.APPROVED, actor_id=None, at=now,
                    comment=f"合作平台{partner.name}已审批（审批单号 {order.approval_ref}），"
                            "按政策免于本平台审批", data={"approval": "partner", **facts})
    events.publish(session, events.TRIP_APPROVED, trip=trip, at=now)
    audit.record(session, entity="partner_orders", entity_id=order.id, action="created",
                 actor_id=None, data={**facts, "trip_id": trip.id, "price": str(offer.price)})
    return order, True


def cancel(session, partner: Partner, order: PartnerOrder, reason: str) -> PartnerOrder:
    """The partner cancels: the trip is cancelled as its applicant would (not once the
    vehicle set off); free of charge."""
    from app.trips.service import cancel as cancel_trip

    if order.state == P.CANCELLED:
        return order
    actor = session.get(User, partner.service_user_id)
    cancel_trip(session, actor=actor, trip_id=order.trip_id, reason=reason or "合作平台取消")
    return order


def version_of(session, order: PartnerOrder) -> int:
    """How many changes the order has had (callbacks owed so far; 0 when none yet)."""
    with session.no_autoflush:
        return session.scalar(select(func.count(PartnerCallback.id)).where(
            PartnerCallback.partner_order_id == order.id)) or 0


def view(session, order: PartnerOrder, *, version: int | None = None) -> dict:
    """The order as the partner API answers it (and as callbacks carry it). ``version``
    counts the order's changes: each callback carries the next one, a read the last one,
    so the receiver orders what it hears by it (a step back to ``created`` included)."""
    trip = session.get(Trip, order.trip_id)
    vehicle = _vehicle(session, trip) if order.state != P.CREATED else None
    out = {"id": order.public_id, "order_ref": order.order_ref,
           "approval_ref": order.approval_ref, "state": order.state.value,
           "version": version_of(session, order) if version is None else version,
           "trip_state": trip.state.value, "vehicle_class": str(trip.vehicle_class),
           "quoted_price": str(order.quoted_price), "vehicle": vehicle,
           "bill": None, "cancel_fee": "0.00" if order.state == P.CANCELLED else None,
           "occurred_at": clock.local(order.updated_at or clock.now()).isoformat()}
    charge = charge_of(session, trip.id)
    if charge is not None and order.state == P.COMPLETED:
        out["bill"] = {"lines": [{"kind": line.kind, "description": line.description,
                                  "amount": str(line.amount)} for line in charge.lines],
                       "total": str(charge.total), "actual_km": _km(session, trip),
                       "market_reference": None if charge.market_reference is None
                       else str(charge.market_reference)}
        out["occurred_at"] = clock.local(charge.finished_at).isoformat()
    return out


def _km(session, trip: Trip) -> str | None:
    run = session.scalar(select(TripRun).where(TripRun.trip_id == trip.id))
    return str(run.km) if run is not None and run.km is not None else None


def _vehicle(session, trip: Trip) -> dict | None:
    assignment = session.scalar(select(Assignment).where(Assignment.trip_id == trip.id)
                                .order_by(Assignment.active.desc(), Assignment.id.desc()))
    if assignment is None:
        return None
    vehicle = session.get(Vehicle, assignment.vehicle_id)
    driver = session.get(Driver, assignment.driver_id)
    return {"plate": vehicle.plate, "vehicle_class": str(vehicle.vehicle_class),
            "driver_name": driver.name, "driver_phone": driver.phone}


# --- the lifecycle's events → the partner's callbacks ---------------------------------------

def _order_of(session, trip: Trip) -> PartnerOrder | None:
    """The partner order behind ``trip``, looked up without flushing the caller's pending
    changes (the trip's version is checked at the request's commit, as for any trip)."""
    with session.no_autoflush:
        return session.scalar(select(PartnerOrder).where(PartnerOrder.trip_id == trip.id))


def _move(session, order: PartnerOrder, to: P, at: datetime, data: dict | None = None) -> None:
    if order.state == to or not order.can_transition(to):
        return
    order.transition(session, to, actor_id=None, at=at,
                     data={"trip_id": order.trip_id, **(data or {})})
    order.updated_at = at
    session.flush()
    enqueue(session, order, at)


def enqueue(session, order: PartnerOrder, at: datetime) -> PartnerCallback:
    """Owe the partner a signed callback with the order as it is now."""
    payload = view(session, order, version=version_of(session, order) + 1)
    row = PartnerCallback(partner_id=order.partner_id, partner_order_id=order.id,
                          msg_id="msg_" + secrets.token_hex(12), payload=payload,
                          state=CallbackState.PENDING, next_attempt_at=at, created_at=at)
    session.add(row)
    session.flush()  # counted by the next change's version_of
    return row


def on_dispatched(session, *, trip: Trip, at: datetime) -> None:
    order = _order_of(session, trip)
    if order is not None:
        _move(session, order, P.ASSIGNED, at)


def on_reassigned(session, *, trip: Trip, previous: dict, current: dict | None,
                  at: datetime) -> None:
    """Our dispatcher unassigned a partner trip (``current`` None: the order is ``created``
    again, no vehicle) or changed its vehicle or driver (``assigned`` with the new crew);
    either way the partner is told, by a callback with the next version."""
    order = _order_of(session, trip)
    if order is None or order.state != P.ASSIGNED:
        return
    if current is None:
        _move(session, order, P.CREATED, at, {"unassigned": True})
        return
    order.updated_at = at
    session.flush()
    audit.record(session, entity="partner_orders", entity_id=order.id, action="reassigned",
                 actor_id=None, at=at, data={"trip_id": order.trip_id})
    enqueue(session, order, at)


def on_started(session, *, trip: Trip, at: datetime) -> None:
    order = _order_of(session, trip)
    if order is not None:
        _move(session, order, P.IN_TRIP, at)


def on_finished(session, *, trip: Trip, facts) -> None:
    """A partner trip finished: billing priced it (it subscribed first). The partner's
    traveler confirms on the partner's platform; here the trip is confirmed at once, so
    that its charge is final for the monthly partner statement, and the final bill goes
    to the partner."""
    order = _order_of(session, trip)
    if order is None:
        return
    if trip.state == S.COMPLETED:
        trip.transition(session, S.CONFIRMED, actor_id=None, at=facts.finished_at,
                        comment="合作平台行程：费用随回调发送合作平台，平台间按月结算",
                        data={"auto_confirmed": False, "partner": order.partner.code})
        events.publish(session, events.TRIP_CONFIRMED, trip=trip, auto=False)
    charge = charge_of(session, trip.id)
    _move(session, order, P.COMPLETED, facts.finished_at,
          {"total": str(charge.total) if charge is not None else None})


def on_cancelled(session, *, trip: Trip, actor, reason: str, at: datetime):
    order = _order_of(session, trip)
    if order is not None:
        _move(session, order, P.CANCELLED, at, {"reason": reason})
    return None
