"""``POST /api/v1/webhooks/{provider}``: the providers' signed status callbacks.

No JWT: the signature is the authentication. The request is checked with the provider's
configured secret in the provider's scheme (rental suppliers: Standard Webhooks headers
over the raw body; ride-hailing: the signed fields of the body, a JSON object or, DiDi, a
multipart form), a 5-minute window against
``app.clock.now()`` and the database nonce store, keyed on the ``webhook-id`` or the
``nonce`` (so a replay is refused by every app node); failures are 401 with the usual error
body, an unknown provider 404. A callback for an order we do not know is answered 200
``{"ignored": "unknown_order"}`` and changes nothing: it is not ours to fix, and a non-2xx
answer would only make the provider retry it for hours. Duplicates and out-of-order events
are answered 200 ``{"ignored": "stale_event"}`` likewise. A DiDi notify carries no state:
its adapter re-queries the order (``parse_callback``; 502 if that fails, so DiDi retries)
and the answer is DiDi's acknowledgement ``{"errno": 0, "errmsg": "ok"}``.
"""
from __future__ import annotations

from flask import request
from marshmallow import Schema, fields
from sqlalchemy import select

from app import clock, db, supply
from app.accounts.models import Role
from app.api import ErrorBodySchema, blueprint
from app.dispatch.models import Assignment, TripDispute, TripRun
from app.dispatch.schemas import DispatchedTripSchema, ReasonBodySchema, TripDispatchSchema
from app.errors import NotFound, Unauthorized, UpstreamError, ValidationFailed
from app.orders import callbacks, cancellation, requote
from app.orders.models import ProviderOrder
from app.security import current_user, roles_required
from app.trips.schemas import TripSchema
from app.trips.service import get_visible
from providers.base import ProviderError, SignatureError

blp = blueprint("webhooks", "/webhooks", "Signed status callbacks from supply providers")
trip_blp = blueprint("trip-orders", "/trips",
                     "A trip's dispatch record; provider trips the dispatcher takes over")

SIGNATURE_REFUSALS = {
    "missing": ("signature_missing", "回调缺少签名参数"),
    "unknown_key": ("unknown_app_key", "回调的应用标识无效"),
    "stale": ("stale_timestamp", "回调时间戳已超过5分钟"),
    "bad_sign": ("bad_signature", "回调签名校验失败"),
    "replayed": ("replayed_nonce", "回调已处理过（重复的消息标识或随机数）"),
}


class WebhookAckSchema(Schema):
    ok = fields.Boolean()
    state = fields.String()
    ignored = fields.String()
    # A provider that expects its own acknowledgement (DiDi: ``{"errno": 0}``) gets it.
    errno = fields.Integer()
    errmsg = fields.String()


@blp.route("/<provider>", methods=["POST"])
@blp.doc(security=[])
@blp.response(200, WebhookAckSchema)
@blp.alt_response(401, schema=ErrorBodySchema, description="Signature missing or wrong, "
                  "timestamp outside 5 minutes, or message id or nonce replayed (code says which)")
@blp.alt_response(404, schema=ErrorBodySchema, description="Unknown provider")
@blp.alt_response(422, schema=ErrorBodySchema, description="Body not a JSON object or incomplete")
@blp.alt_response(502, schema=ErrorBodySchema, description="The provider's notify carries no "
                  "state and the order could not be re-queried (the provider retries)")
def callback(provider):
    """A provider's signed order-state callback (verified, idempotent, forward-only)."""
    adapter = supply.ordering(provider)
    if adapter is None:
        raise NotFound("未知的供应商", code="unknown_provider")
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        payload = request.form.to_dict()  # DiDi posts its notifies as forms
    else:
        payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise ValidationFailed("回调内容不是JSON对象", code="malformed_callback")
    try:
        adapter.verify_callback(payload, request.headers, request.get_data(),
                                nonce_store=callbacks.DbNonceStore(db.session()),
                                now=clock.now().timestamp())
    except SignatureError as exc:
        code, message = SIGNATURE_REFUSALS.get(exc.code, ("bad_signature", "回调签名校验失败"))
        raise Unauthorized(message, code=code) from None
    try:
        order = adapter.parse_callback(payload)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValidationFailed("回调内容不完整", code="malformed_callback",
                               errors={"payload": [str(exc)]}) from None
    except ProviderError as exc:  # a notify re-queries the order; the provider retries it
        raise UpstreamError("暂时无法向供应商查询订单，请稍后重试", code="provider_query_failed",
                            errors={"provider": provider, "reason": str(exc)}) from None
    result = callbacks.apply_callback(db.session(), provider, order, clock.now())
    ack = getattr(adapter, "callback_ack", None)
    return ack(result) if ack else result


@trip_blp.route("/<int:trip_id>/switch-to-fleet", methods=["POST"])
@roles_required(Role.DISPATCHER)
@trip_blp.arguments(ReasonBodySchema)
@trip_blp.response(200, DispatchedTripSchema)
def switch_to_fleet(data, trip_id):
    """A provider trip whose booking failed goes to the fleet queue (then assign it)."""
    return cancellation.switch_to_fleet(db.session, actor=current_user(), trip_id=trip_id, **data)


@trip_blp.route("/<int:trip_id>/accept-price", methods=["POST"])
@roles_required(Role.TRAVELER)
@trip_blp.response(200, TripSchema)
@trip_blp.alt_response(409, schema=ErrorBodySchema,
                       description="The trip is not waiting on a new price (code no_price_change)")
def accept_price(trip_id):
    """The traveler accepts the provider's new price of a ``price_changed`` trip (its
    locked price expired before booking and the new one is beyond the policy's tolerance):
    the trip is approved again at the new price, after the approval steps the policy now
    requires, and booking resumes. To decline, cancel the trip."""
    return requote.accept_price(db.session, actor=current_user(), trip_id=trip_id,
                                now=clock.now())


@trip_blp.route("/<int:trip_id>/dispatch")
@trip_blp.response(200, TripDispatchSchema)
def trip_dispatch(trip_id):
    """The trip's dispatch record, fleet or provider: its assignments (current and past),
    the driver's record, disputes, and a provider trip's order (plate, driver, state, bill).
    It lives here because it reads both the fleet's records and the provider's order."""
    trip = get_visible(db.session, current_user(), trip_id)
    session = db.session
    return {
        "trip_id": trip.id, "state": str(trip.state), "dispatch_issue": trip.dispatch_issue,
        "cancellation_fee": trip.cancellation_fee,
        "assignments": list(session.scalars(select(Assignment).where(
            Assignment.trip_id == trip.id).order_by(Assignment.id))),
        "run": session.scalar(select(TripRun).where(TripRun.trip_id == trip.id)),
        "disputes": list(session.scalars(select(TripDispute).where(
            TripDispute.trip_id == trip.id).order_by(TripDispute.id))),
        "provider_order": session.scalar(select(ProviderOrder).where(
            ProviderOrder.trip_id == trip.id)),
    }
