from __future__ import annotations

from flask.views import MethodView
from sqlalchemy import select

from app import clock, db
from app.accounts.models import Role
from app.api import PageArgs, blueprint, page_schema, paginate
from app.billing import service
from app.billing.models import Charge, TariffKind, TariffVersion
from app.billing.schemas import (ChargeSchema, PreviewResultSchema, PreviewSchema, ReleaseSchema,
                                 TariffArgs, TariffBodySchema, TariffSchema)
from app.billing.tariff import ChargeableRun
from app.errors import Forbidden, NotFound
from app.security import (current_user, is_platform, platform_admin, roles_required,
                          scope_filter)
from app.trips import service as trips

blp = blueprint("billing", "/billing", "Charges: the tariff engine's preview")
trip_blp = blueprint("trip-charges", "/trips", "The charge of a trip")
admin_blp = blueprint("tariff-admin", "/admin", "Tariffs as versioned data")


@trip_blp.route("/<int:trip_id>/charge")
@trip_blp.response(200, ChargeSchema)
def charge_of_trip(trip_id):
    """The trip's charge with its lines (provisional until confirmed); 404 before finish."""
    trip = trips.get_visible(db.session, current_user(), trip_id)
    charge = service.charge_of(db.session, trip.id)
    if charge is None:
        raise NotFound("该行程尚未产生费用", code="no_charge")
    return charge


@trip_blp.route("/<int:trip_id>/charge/release", methods=["POST"])
@roles_required(Role.FINANCE)
@trip_blp.arguments(ReleaseSchema)
@trip_blp.response(200, ChargeSchema)
def release_held_charge(data, trip_id):
    """Platform finance decides a rental bill held over the ceiling: accept it or cap it."""
    user = current_user()
    if not is_platform(user):
        raise Forbidden("只有平台财务可以处理超限账单", code="platform_finance_only")
    trip = trips.get_visible(db.session, user, trip_id)
    return service.release_held(db.session, actor=user, trip=trip, **data)


@blp.route("/preview", methods=["POST"])
@roles_required(Role.FINANCE, Role.ADMIN)
@blp.arguments(PreviewSchema)
@blp.response(200, PreviewResultSchema)
def preview(data):
    """Price trip facts with the same engine and tariff version as real charges."""
    channel = data.pop("channel")
    charge = service.preview(db.session, channel=channel, facts=ChargeableRun(**data))
    return {"lines": charge.lines, "total": charge.total}


def _listing(row, in_force_ids: set) -> dict:
    if isinstance(row, dict):
        return {**row, "in_force": row["kind"] in in_force_ids}
    return {"id": row.id, "kind": str(row.kind), "effective_from": row.effective_from,
            "data": row.data, "created_by_id": row.created_by_id, "created_at": row.created_at,
            "in_force": row.id in in_force_ids}


def _in_force_ids() -> set:
    """Ids of the stored versions in force now, or the kind's name when its default is."""
    ids = set()
    for kind in TariffKind:
        row = service.version_row_in_force(db.session, kind, clock.now())
        ids.add(row.id if row is not None else str(kind))
    return ids


@admin_blp.route("/tariffs")
class Tariffs(MethodView):
    decorators = [platform_admin]

    @admin_blp.arguments(TariffArgs, location="query")
    @admin_blp.arguments(PageArgs, location="query")
    @admin_blp.response(200, page_schema(TariffSchema))
    def get(self, args, page_args):
        """Stored versions newest first; the built-in defaults (id null) end the last page."""
        stmt = select(TariffVersion)
        if args["kind"]:
            stmt = stmt.where(TariffVersion.kind == TariffKind(args["kind"]))
        page = paginate(stmt, TariffVersion.id, limit=page_args["limit"],
                        cursor=page_args["cursor"])
        items = page["items"]
        if page["next_cursor"] is None:
            items = [*items, *service.defaults_as_rows(TariffKind(args["kind"]) if args["kind"]
                                                       else None)]
        in_force = _in_force_ids()
        return {"items": [_listing(row, in_force) for row in items],
                "next_cursor": page["next_cursor"]}

    @admin_blp.arguments(TariffBodySchema)
    @admin_blp.response(201, TariffSchema)
    def post(self, data):
        """Publish a new immutable version, in force from ``effective_from`` (Asia/Shanghai)."""
        kind = data.pop("kind")
        row = service.publish_tariff(db.session, actor=current_user(), kind=kind, data=data)
        return _listing(row, _in_force_ids())


@blp.route("/held-charges")
@roles_required(Role.FINANCE)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_schema(ChargeSchema))
def held_charges(args):
    """Charges held over the framework ceiling, waiting for a decision (accept or cap), in
    the caller's unit subtree; platform finance decides them (POST …/charge/release)."""
    stmt = select(Charge).where(Charge.held, scope_filter(current_user(), Charge.unit_id))
    return paginate(stmt, Charge.id, limit=args["limit"], cursor=args["cursor"])
