"""Admin CRUD under /api/v1/admin: every object is looked up within the caller's unit subtree."""
from __future__ import annotations

from flask.views import MethodView
from sqlalchemy import select

from app import db
from app.admin import service
from app.accounts.models import Driver, Role, Unit, User, Vehicle
from app.accounts.schemas import (DriverPatchSchema, DriverSchema, OdometerCorrectionSchema,
                                  UnitListArgs, UnitPatchSchema, UnitSchema, UserPatchSchema,
                                  UserSchema, VehiclePatchSchema, VehicleSchema)
from app.api import PageArgs, blueprint, page_schema, paginate
from app.security import current_user, roles_required, scope_filter, scoped_get

blp = blueprint("admin", "/admin", "Units, users, vehicles and drivers (admin)")
admin_only = roles_required(Role.ADMIN)


def _resource(path: str, model, schema, patch_schema, create, update, remove, *, unit_column,
              obj_unit=lambda o: o.unit, list_args=PageArgs, list_filter=None):
    """Register list/create/get/patch/delete for one admin resource."""
    name = model.__tablename__

    class Collection(MethodView):
        decorators = [admin_only]

        @blp.arguments(list_args, location="query")
        @blp.response(200, page_schema(schema))
        def get(self, args):
            user = current_user()
            stmt = select(model).where(scope_filter(user, unit_column))
            if list_filter:
                stmt = list_filter(stmt, args)
            return paginate(stmt, model.id, limit=args["limit"], cursor=args["cursor"])

        @blp.arguments(schema)
        @blp.response(201, schema)
        def post(self, data):
            return create(db.session, actor=current_user(), data=data)

    class Item(MethodView):
        decorators = [admin_only]

        @blp.response(200, schema)
        def get(self, obj_id):
            return scoped_get(model, obj_id, unit_of=obj_unit)

        @blp.arguments(patch_schema)
        @blp.response(200, schema)
        def patch(self, data, obj_id):
            obj = scoped_get(model, obj_id, unit_of=obj_unit)
            return update(db.session, current_user(), obj, data)

        @blp.response(204)
        def delete(self, obj_id):
            obj = scoped_get(model, obj_id, unit_of=obj_unit)
            remove(db.session, actor=current_user(), obj=obj)

    Collection.__name__ = f"{name.title()}Collection"
    Item.__name__ = f"{name.title()}Item"
    blp.route(path)(Collection)
    blp.route(f"{path}/<int:obj_id>")(Item)


def _units_filter(stmt, args):
    return stmt.where(Unit.parent_id == args["parent_id"]) if "parent_id" in args else stmt


_resource("/units", Unit, UnitSchema, UnitPatchSchema, service.create_unit,
          lambda s, a, o, d: service.update_unit(s, actor=a, unit=o, data=d),
          lambda s, actor, obj: service.delete_unit(s, actor=actor, unit=obj),
          unit_column=Unit.id, obj_unit=lambda o: o, list_args=UnitListArgs,
          list_filter=_units_filter)
_resource("/users", User, UserSchema, UserPatchSchema, service.create_user,
          lambda s, a, o, d: service.update_user(s, actor=a, user=o, data=d),
          service.deactivate, unit_column=User.unit_id)
_resource("/vehicles", Vehicle, VehicleSchema, VehiclePatchSchema, service.create_vehicle,
          lambda s, a, o, d: service.update_vehicle(s, actor=a, vehicle=o, data=d),
          lambda s, actor, obj: service.retire_vehicle(s, actor=actor, vehicle=obj),
          unit_column=Vehicle.unit_id)
_resource("/drivers", Driver, DriverSchema, DriverPatchSchema, service.create_driver,
          lambda s, a, o, d: service.update_driver(s, actor=a, driver=o, data=d),
          service.deactivate, unit_column=Driver.unit_id)


@blp.route("/vehicles/<int:obj_id>/odometer", methods=["POST"])
@admin_only
@blp.arguments(OdometerCorrectionSchema)
@blp.response(200, VehicleSchema)
def correct_odometer(data, obj_id):
    """Correct a vehicle's recorded odometer (a wrong reading); audited with the reason."""
    vehicle = scoped_get(Vehicle, obj_id)
    return service.correct_odometer(db.session, actor=current_user(), vehicle=vehicle, **data)
