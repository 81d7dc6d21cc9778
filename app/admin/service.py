"""Admin use cases over units, users, vehicles and drivers; every change is audited."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import exists, func, select

from app import audit, clock
from app.accounts.models import PLATFORM_ROLES, Driver, Role, Unit, User, Vehicle
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.security import in_scope, is_platform


def _unit_in_scope(session, actor: User, unit_id: int, field: str = "unit_id") -> Unit:
    unit = session.get(Unit, unit_id)
    if unit is None or not in_scope(actor, unit):
        raise ValidationFailed("所选单位不存在或不在您的管理范围内", errors={field: ["单位无效"]})
    return unit


def _audit(session, actor: User, obj, action: str, data: dict[str, Any]) -> None:
    audit.record(session, entity=obj.__tablename__, entity_id=obj.id, action=action,
                 actor_id=actor.id, data=data)


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if not isinstance(v, (int, bool, list, type(None))) else v)
            for k, v in data.items()}


def create_unit(session, *, actor: User, data: dict) -> Unit:
    """Add a unit under a parent in the actor's subtree (a root only for a root admin)."""
    if data.get("parent_id") is None:
        if session.scalar(select(func.count()).select_from(Unit)):
            raise ValidationFailed("只能在已有单位下新建单位", errors={"parent_id": ["必填"]})
        parent = None
    else:
        parent = _unit_in_scope(session, actor, data["parent_id"], "parent_id")
    unit = Unit(name=data["name"], level=data["level"], parent=parent,
                region_code=data["region_code"])
    session.add(unit)
    session.flush()
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    _audit(session, actor, unit, "created", _jsonable(data))
    return unit


def update_unit(session, *, actor: User, unit: Unit, data: dict) -> Unit:
    for key, value in data.items():
        setattr(unit, key, value)
    _audit(session, actor, unit, "updated", _jsonable(data))
    return unit


def delete_unit(session, *, actor: User, unit: Unit) -> None:
    busy = session.scalar(select(
        exists().where(Unit.parent_id == unit.id) | exists().where(User.unit_id == unit.id)
        | exists().where(Vehicle.unit_id == unit.id) | exists().where(Driver.unit_id == unit.id)))
    if busy:
        raise Conflict("该单位下仍有下级单位、人员或车辆，不能删除", code="unit_not_empty")
    if unit.id == actor.unit_id:
        raise Conflict("不能删除自己所在的单位", code="unit_not_empty")
    _audit(session, actor, unit, "deleted", {"name": unit.name})
    session.delete(unit)


def _phone_free(session, phone: str, model, own_id: int | None = None) -> None:
    clash = session.scalar(select(model.id).where(model.phone == phone))
    if clash is not None and clash != own_id:
        raise Conflict("该手机号已被登记", code="phone_taken", errors={"phone": ["已存在"]})


def _check_roles(actor: User, unit: Unit, before: list[str], after: list[str]) -> None:
    """Platform roles are granted and revoked by platform admins only (SPEC §1). Any role at
    the root unit is one as well; only platform admins have the root unit in scope. A
    platform approver belongs to the root unit, the only place the platform step looks."""
    changed = set(before).symmetric_difference(after) & PLATFORM_ROLES
    if changed and not is_platform(actor):
        raise Forbidden("仅平台管理员可授予或撤销平台角色", code="platform_role_forbidden",
                        errors={"roles": sorted(changed)})
    if Role.PLATFORM_APPROVER in after and unit.parent_id is not None:
        raise ValidationFailed("平台审批人须为平台（根单位）人员",
                               errors={"roles": ["平台审批人须属于根单位"]})


def create_user(session, *, actor: User, data: dict) -> User:
    """Pre-register a user; they bind their WeChat account by phone on first login."""
    unit = _unit_in_scope(session, actor, data["unit_id"])
    _check_roles(actor, unit, [], data["roles"])
    _phone_free(session, data["phone"], User)
    user = User(name=data["name"], phone=data["phone"], unit_id=data["unit_id"],
                active=data.get("active", True))
    user.set_roles(data["roles"])
    session.add(user)
    session.flush()
    _audit(session, actor, user, "created", _jsonable(data))
    return user


def update_user(session, *, actor: User, user: User, data: dict) -> User:
    if "unit_id" in data or "roles" in data:
        unit = (_unit_in_scope(session, actor, data["unit_id"]) if "unit_id" in data
                else user.unit)
        _check_roles(actor, unit, user.roles, data.get("roles", user.roles))
    if "phone" in data:
        _phone_free(session, data["phone"], User, user.id)
        if data["phone"] != user.phone:
            user.openid = None  # a new phone must be bound again
    if user.id == actor.id and data.get("active") is False:
        raise Conflict("不能停用自己的账号", code="cannot_disable_self")
    for key, value in data.items():
        if key == "roles":
            user.set_roles(value)
        else:
            setattr(user, key, value)
    _audit(session, actor, user, "updated", _jsonable(data))
    return user


def deactivate(session, *, actor: User, obj) -> None:
    """Users and drivers are deactivated, never deleted: trips and audits point at them."""
    if obj is actor:
        raise Conflict("不能停用自己的账号", code="cannot_disable_self")
    obj.active = False
    _audit(session, actor, obj, "deactivated", {})


def _device_free(session, device_id: str | None, own_id: int | None = None) -> None:
    clash = device_id and session.scalar(select(Vehicle.id).where(Vehicle.device_id == device_id))
    if clash and clash != own_id:
        raise Conflict("该设备编号已登记到其他车辆", code="device_taken",
                       errors={"device_id": ["已存在"]})


def create_vehicle(session, *, actor: User, data: dict) -> Vehicle:
    _unit_in_scope(session, actor, data["unit_id"])
    _device_free(session, data.get("device_id"))
    if session.scalar(select(Vehicle.id).where(Vehicle.plate == data["plate"])):
        raise Conflict("该车牌已登记", code="plate_taken", errors={"plate": ["已存在"]})
    vehicle = Vehicle(**data)
    session.add(vehicle)
    session.flush()
    _audit(session, actor, vehicle, "created", _jsonable(data))
    return vehicle


def update_vehicle(session, *, actor: User, vehicle: Vehicle, data: dict) -> Vehicle:
    if "unit_id" in data:
        _unit_in_scope(session, actor, data["unit_id"])
    if "device_id" in data:
        _device_free(session, data["device_id"], vehicle.id)
    for key, value in data.items():
        setattr(vehicle, key, value)
    _audit(session, actor, vehicle, "updated", _jsonable(data))
    return vehicle


def retire_vehicle(session, *, actor: User, vehicle: Vehicle) -> None:
    vehicle.status = "retired"
    _audit(session, actor, vehicle, "retired", {})


def correct_odometer(session, *, actor: User, vehicle: Vehicle, odometer_km: Decimal,
                     reason: str) -> Vehicle:
    """Replace a wrong recorded reading; the next reading is judged against this one, as
    read now."""
    before = vehicle.odometer_km
    vehicle.odometer_km, vehicle.odometer_at = odometer_km, clock.now()
    _audit(session, actor, vehicle, "odometer_corrected",
           {"from": str(before), "to": str(odometer_km), "reason": reason})
    return vehicle


def create_driver(session, *, actor: User, data: dict) -> Driver:
    _unit_in_scope(session, actor, data["unit_id"])
    if data.get("user_id") is not None:
        login = session.get(User, data["user_id"])
        if login is None or not in_scope(actor, login.unit):
            raise NotFound("关联的用户不存在")
        if session.scalar(select(Driver.id).where(Driver.user_id == login.id)) is not None:
            raise Conflict("该用户已有司机档案", code="driver_exists")
    driver = Driver(**data)
    session.add(driver)
    session.flush()
    _audit(session, actor, driver, "created", _jsonable(data))
    return driver


def update_driver(session, *, actor: User, driver: Driver, data: dict) -> Driver:
    if "unit_id" in data:
        _unit_in_scope(session, actor, data["unit_id"])
    for key, value in data.items():
        setattr(driver, key, value)
    _audit(session, actor, driver, "updated", _jsonable(data))
    return driver
