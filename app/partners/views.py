"""``/partner/v1/...``: the signed platform-to-platform API (docs/partner-api.md), and
``/admin/partners``: partner platforms, their monthly statements and reconciliation."""
from __future__ import annotations

import functools
import logging

from flask import Response, g, request
from flask.views import MethodView
from marshmallow import ValidationError
from sqlalchemy import select

from app import db, ratelimit
from app.accounts.models import Role
from app.api import ErrorBodySchema, blueprint
from app.errors import Forbidden, NotFound, ValidationFailed
from app.partners import admin, inbound, statements
from app.partners.models import Partner
from app.partners.schemas import (PartnerCancelSchema, PartnerListSchema, PartnerOrderSchema,
                                  PartnerPatchSchema, PartnerSchema, PartnerStatementSchema,
                                  PartnerTripSchema, PeriodArgs,
                                  PartnerOrderViewSchema, PartnerQuotesSchema, ReconcileFormSchema)
from app.security import current_user, is_platform, platform_admin, roles_required
from app.settlements.reconcile import StatementFormatError
from app.settlements.schemas import ReconciliationFileSchema, ReconciliationSchema
from providers.partner import API_PREFIX

log = logging.getLogger(__name__)

api_blp = blueprint("partner-api", "/partner/v1",
                    "Partner platforms' signed API (docs/partner-api.md)")
admin_blp = blueprint("partners", "/admin/partners", "Partner platforms (platform admin)")


def signed(view):
    """The request must be signed by an enabled partner (``g.partner``), else 401."""

    @functools.wraps(view)
    def inner(*args, **kwargs):
        path = request.path[request.path.index(API_PREFIX):]
        accepted: list = []
        g.partner = inbound.authenticate(db.session(), request.headers, request.method, path,
                                         request.get_data(), accepted=accepted)
        try:
            return view(*args, **kwargs)
        except Exception:
            # An error answer rolls the request's transaction back, the webhook-id with it:
            # keep that on its own, so that a replay is refused whatever the first answer.
            db.session.rollback()
            try:
                db.begin_write()
                inbound.keep_nonce(db.session(), accepted)
                db.session.commit()
            except Exception:  # the database itself failing: answer the original error
                log.exception("could not keep the nonce of a refused partner request")
                db.session.rollback()
            raise

    return inner


def _body(schema):
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationFailed("请求内容应为JSON对象", code="malformed_body")
    try:
        return schema().load(data)
    except ValidationError as exc:
        raise ValidationFailed(errors=exc.messages) from None


def _answer(data: dict, status: int = 200) -> Response:
    from flask import jsonify
    resp = jsonify(data)
    resp.status_code = status
    return resp


SECURITY_SCHEME = "partnerSignature"
PARTNER_SIGNATURE = {
    "type": "apiKey", "in": "header", "name": "webhook-signature",
    "description": "Partner platforms sign every request with their key, Standard Webhooks "
                   "style: headers partner-id, webhook-id, webhook-timestamp and "
                   "webhook-signature over \"<METHOD> <path>\\n<body>\" (docs/partner-api.md)"}
SIGNED_DOC = {"security": [{SECURITY_SCHEME: []}]}


def signed_route(rule: str, method: str, answer=None, status: int = 200):
    """A partner API route: signed, limited per partner (``RATELIMIT_PARTNER``, counted
    only once the signature holds), its answer and errors documented."""
    def wrap(view):
        view = signed(ratelimit.per_partner("RATELIMIT_PARTNER")(view))
        for code, what in ((401, "Not signed by an enabled partner, stale or replayed"),
                           (404, "No such order of this partner"),
                           (409, "The order's state forbids it, or no vehicle is free"),
                           (422, "A field is missing or wrong"),
                           (429, "Over the partner's request budget (Retry-After)")):
            view = api_blp.alt_response(code, schema=ErrorBodySchema, description=what)(view)
        if answer is not None:
            view = api_blp.response(status, answer)(view)
        view = api_blp.doc(**SIGNED_DOC)(view)
        return api_blp.route(rule, methods=[method])(view)
    return wrap


@signed_route("/quotes", "POST", PartnerQuotesSchema)
def partner_quotes():
    """Our pooled fleet's offers for a partner's trip, priced by our paid-use tariff."""
    return _answer(inbound.quote(db.session, g.partner, _body(PartnerTripSchema)))


@signed_route("/orders", "POST", PartnerOrderViewSchema, 201)
def partner_order():
    """Place an order (idempotent by ``order_ref``: 201 the first time, then 200 with the
    same order); it enters our dispatch queue as an approved partner trip."""
    order, created = inbound.place(db.session, g.partner, _body(PartnerOrderSchema))
    return _answer(inbound.view(db.session, order), 201 if created else 200)


@signed_route("/orders/<order_id>", "GET", PartnerOrderViewSchema)
def partner_order_status(order_id):
    """One of the partner's orders by our id (``PO000123``)."""
    return _answer(inbound.view(db.session, inbound.find(db.session, g.partner, order_id)))


@signed_route("/orders/by-ref/<order_ref>", "GET", PartnerOrderViewSchema)
def partner_order_by_ref(order_ref):
    """One of the partner's orders by the partner's own ``order_ref`` (a lost answer)."""
    return _answer(inbound.view(db.session, inbound.find_by_ref(db.session, g.partner,
                                                                order_ref)))


@signed_route("/orders/<order_id>/cancel", "POST", PartnerOrderViewSchema)
def partner_order_cancel(order_id):
    """Cancel before the vehicle sets off (free); cancelling again answers the same."""
    order = inbound.find(db.session, g.partner, order_id)
    inbound.cancel(db.session, g.partner, order, _body(PartnerCancelSchema)["reason"])
    db.session.flush()
    return _answer(inbound.view(db.session, order))


# --- admin -------------------------------------------------------------------------------

def _dump(partner: Partner) -> Partner:
    partner.service_area = admin.area_of(partner)
    return partner


@admin_blp.route("")
class Partners(MethodView):
    decorators = [platform_admin]

    @admin_blp.response(200, PartnerListSchema)
    def get(self):
        """Every partner platform (keys shown as their last four characters only)."""
        rows = db.session.scalars(select(Partner).order_by(Partner.id)).all()
        return {"items": [_dump(p) for p in rows]}

    @admin_blp.arguments(PartnerSchema)
    @admin_blp.response(201, PartnerSchema)
    def post(self, data):
        """Register a partner platform (audited); without ``unit_id`` a stand-in unit is made."""
        return _dump(admin.create(db.session, actor=current_user(), data=data))


def _partner(partner_id: int) -> Partner:
    partner = db.session.get(Partner, partner_id)
    if partner is None:
        raise NotFound()
    return partner


@admin_blp.route("/<int:partner_id>")
class PartnerItem(MethodView):
    decorators = [platform_admin]

    @admin_blp.response(200, PartnerSchema)
    def get(self, partner_id):
        return _dump(_partner(partner_id))

    @admin_blp.arguments(PartnerPatchSchema)
    @admin_blp.response(200, PartnerSchema)
    def patch(self, data, partner_id):
        """Change a partner (a new ``secret`` rotates its key; audited without the key)."""
        return _dump(admin.update(db.session, current_user(), _partner(partner_id), data))


def _platform_staff():
    user = current_user()
    if not is_platform(user):
        raise Forbidden("仅平台财务或管理员可查看", code="platform_only")
    return user


@admin_blp.route("/<int:partner_id>/statements")
@roles_required(Role.FINANCE, Role.ADMIN)
@admin_blp.arguments(PeriodArgs, location="query")
@admin_blp.response(200, PartnerStatementSchema)
def partner_statements(args, partner_id):
    """The partner's monthly statements of ``period`` in each direction (from the
    generated settlements), lines by the serving platform's order id."""
    _platform_staff()
    return statements.statement(db.session, _partner(partner_id), args["period"])


@admin_blp.route("/<int:partner_id>/statements/export")
@roles_required(Role.FINANCE, Role.ADMIN)
@admin_blp.arguments(PeriodArgs, location="query")
@admin_blp.alt_response(200, description="One direction's lines as CSV (UTF-8 with BOM), "
                        "the file the partner reconciles against", content_type="text/csv")
def partner_statement_export(args, partner_id):
    """One direction of the month as the CSV the partner reconciles against."""
    _platform_staff()
    partner = _partner(partner_id)
    data = statements.direction(db.session, partner, args["period"], args["direction"])
    return Response(statements.as_csv(data), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": "attachment; filename="
                             f"partner-{partner.code}-{args['period']}-{args['direction']}.csv"})


@admin_blp.route("/<int:partner_id>/reconciliation", methods=["POST"])
@roles_required(Role.FINANCE)
@admin_blp.arguments(ReconcileFormSchema, location="form")
@admin_blp.arguments(ReconciliationFileSchema, location="files")
@admin_blp.response(200, ReconciliationSchema)
def partner_reconciliation(form, files, partner_id):
    """Check the partner's CSV of the month against our ``direction`` (outbound: what we
    owe them, against their inbound; inbound: what they owe us, against their outbound)."""
    _platform_staff()
    try:
        return statements.check(db.session, _partner(partner_id), form["period"],
                                form["direction"], files["file"].read())
    except StatementFormatError as exc:
        raise ValidationFailed(str(exc), code="malformed_statement", errors={
            "file": [{"row": e.row, "message": e.message} for e in exc.errors]}) from None
