"""Partner platforms registered by the platform admin (``/admin/partners``), audited; and
the supply source that turns the enabled ones into ``partner`` providers."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import audit, db
from app.accounts.models import Unit, UnitLevel, User
from app.errors import Conflict, ValidationFailed
from app.partners.models import Partner
from providers.partner import Area, PartnerClient, PartnerProvider

AREA_FIELDS = ("south", "west", "north", "east")
# What the audit log keeps of a change (never the key itself).
AUDITED = ("code", "name", "city", "base_url", "our_id", "unit_id", "enabled", *AREA_FIELDS)


def _check_area(values: dict) -> None:
    if values["south"] >= values["north"] or values["west"] >= values["east"]:
        raise ValidationFailed("服务范围无效：南界须小于北界，西界须小于东界",
                               errors={"service_area": ["南界须小于北界，西界须小于东界"]})


def _stand_in_unit(session, actor: User, data: dict) -> Unit:
    """The given unit (in the admin's scope), or a new one under the root named for the city."""
    if data.get("unit_id") is not None:
        unit = session.get(Unit, data["unit_id"])
        if unit is None or not unit.path.startswith(actor.unit.path):
            raise ValidationFailed("代表合作平台的单位不存在", errors={"unit_id": ["单位不存在"]})
        return unit
    root = actor.unit
    unit = Unit(name=f"{data['city']}（合作城市）"[:100], level=UnitLevel.CITY, parent=root,
                region_code=root.region_code)
    session.add(unit)
    session.flush()
    unit.path = f"{root.path}{unit.id}/"
    audit.record(session, entity="units", entity_id=unit.id, action="created",
                 actor_id=actor.id, data={"name": unit.name, "partner": data["code"]})
    return unit


def create(session, *, actor: User, data: dict) -> Partner:
    area = data.pop("service_area")
    _check_area(area)
    if session.scalar(select(Partner.id).where(Partner.code == data["code"])) is not None:
        raise Conflict("该合作平台标识已存在", code="partner_exists")
    unit = _stand_in_unit(session, actor, data)
    service_user = User(name=f"{data['name']}"[:60], phone=f"p:{data['code']}"[:20],
                        unit=unit, active=False)
    service_user.set_roles([])
    session.add(service_user)
    session.flush()
    partner = Partner(code=data["code"], name=data["name"], city=data["city"],
                      base_url=data["base_url"].rstrip("/"), our_id=data["our_id"],
                      secret=data["secret"], unit_id=unit.id, service_user_id=service_user.id,
                      enabled=data.get("enabled", True), **area)
    session.add(partner)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict("该合作平台标识已存在", code="partner_exists") from None
    audit.record(session, entity="partners", entity_id=partner.id, action="created",
                 actor_id=actor.id, data=_audited(partner))
    return partner


def update(session, actor: User, partner: Partner, data: dict) -> Partner:
    before = _audited(partner)
    area = data.pop("service_area", None)
    if area is not None:
        _check_area(area)
        for key in AREA_FIELDS:
            setattr(partner, key, area[key])
    if "unit_id" in data:
        partner.unit_id = _stand_in_unit(session, actor, {**data, "code": partner.code}).id
        data.pop("unit_id")
    rotated = "secret" in data
    for key, value in data.items():
        setattr(partner, key, value.rstrip("/") if key == "base_url" else value)
    session.flush()
    after = _audited(partner)
    changed = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    audit.record(session, entity="partners", entity_id=partner.id, action="updated",
                 actor_id=actor.id, data={"changed": changed, "key_rotated": rotated})
    return partner


def _audited(partner: Partner) -> dict:
    return {key: getattr(partner, key) for key in AUDITED}


def area_of(partner: Partner) -> dict:
    return {key: getattr(partner, key) for key in AREA_FIELDS}


def provider_for(partner: Partner) -> PartnerProvider:
    return PartnerProvider(
        partner.provider_name,
        PartnerClient(partner.base_url, partner.our_id, partner.secret,
                      provider=partner.provider_name),
        Area(partner.south, partner.west, partner.north, partner.east),
        label=f"{partner.city}公车平台", callback_key=f"partner:{partner.code}")


def providers() -> dict[str, PartnerProvider]:
    """The enabled partners as supply providers (``supply.add_source``). Read in a short
    session of its own: callers may be between transactions (the booking job)."""
    with db.session.session_factory() as session:
        partners = session.scalars(select(Partner).where(Partner.enabled.is_(True))
                                   .order_by(Partner.id)).all()
        return {p.provider_name: provider_for(p) for p in partners}
