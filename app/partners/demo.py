"""Demo federation: a second instance seeded as Fuzhou (its own units, staff, a small fleet
and a paid-use tariff of its own), and each demo instance registering the other as its
partner (``make run`` is Changzhou on :8000, ``make run-partner`` Fuzhou on :8200)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select

from app.accounts.models import Driver, EnergyType, Unit, UnitLevel, User, Vehicle, VehicleClass
from app.billing.models import TariffKind, TariffVersion
from app.billing.tariff import DEFAULT_FLEET_TARIFF, FleetTariff
from app.partners import admin
from app.partners.models import Partner

# The demo's shared partner key (sandbox mode only; a real one is exchanged out of band).
DEMO_SECRET = "demo-partner-key-changzhou-fuzhou-2026"
CHANGZHOU = {"code": "changzhou", "name": "常州市公务用车平台", "city": "常州市",
             "service_area": {"south": 31.15, "west": 119.13, "north": 32.05, "east": 120.20}}
FUZHOU = {"code": "fuzhou", "name": "福州市公务用车平台", "city": "福州市",
          "service_area": {"south": 25.15, "west": 118.08, "north": 26.65, "east": 120.50}}
FUZHOU_REGION_CODE = "350100"
FUZHOU_BOUNDS = "25.15,118.08,26.65,120.50"

# (openid, name, phone, unit key, roles)
FUZHOU_USERS = [
    ("fz-admin", "林峰", "13950000001", "city", ["admin"]),
    ("fz-dispatcher", "陈敏", "13950000002", "city", ["dispatcher"]),
    ("fz-driver", "黄磊", "13950000003", "city", ["driver"]),
    ("fz-finance", "郑云", "13950000004", "city", ["finance"]),
    ("fz-traveler", "吴涛", "13950000005", "office", ["traveler"]),
    ("fz-approver", "许可", "13950000006", "office", ["approver", "traveler"]),
]
FUZHOU_FLEET = [(VehicleClass.SEDAN, EnergyType.ELECTRIC, 2), (VehicleClass.SEDAN,
                                                              EnergyType.PETROL, 1),
                (VehicleClass.MPV, EnergyType.PETROL, 1)]
# Fuzhou's own paid-use tariff: its sedan blocks cost more than Changzhou's (36/70/135).
FUZHOU_SEDAN_BLOCKS = ("36.00", "70.00", "135.00")


def fuzhou_tariff() -> dict:
    data = DEFAULT_FLEET_TARIFF.to_dict()
    data["effective_from"] = date(2020, 1, 1).isoformat()
    for block, price in zip(data["classes"]["sedan"]["time_blocks"], FUZHOU_SEDAN_BLOCKS):
        block["price"] = price
    FleetTariff.from_dict(data)  # validates
    return data


def seed_fuzhou(session) -> bool:
    """Fuzhou's demo data unless a unit tree exists already; returns whether it loaded."""
    if session.scalar(select(Unit.id).limit(1)) is not None:
        return False
    city = Unit(name="福州市", level=UnitLevel.CITY, region_code=FUZHOU_REGION_CODE)
    session.add(city)
    session.flush()
    city.path = f"/{city.id}/"
    office = Unit(name="福州市人民政府办公厅", level=UnitLevel.CITY, parent=city,
                  region_code=FUZHOU_REGION_CODE)
    session.add(office)
    session.flush()
    office.path = f"{city.path}{office.id}/"
    units = {"city": city, "office": office}
    users = {}
    for openid, name, phone, unit_key, roles in FUZHOU_USERS:
        user = User(name=name, phone=phone, unit=units[unit_key], openid=openid)
        user.set_roles(roles)
        session.add(user)
        users[openid] = user
    n = 0
    for vehicle_class, energy, count in FUZHOU_FLEET:
        for _ in range(count):
            n += 1
            session.add(Vehicle(plate=f"闽A{'D' if energy.is_nev else 'G'}{7000 + n:04d}",
                                vehicle_class=vehicle_class, seats=vehicle_class.seats,
                                energy_type=energy, pooled=True, unit=city,
                                odometer_km=Decimal(10000 + 911 * n)))
    session.flush()
    session.add(Driver(name="黄磊", phone="13950000003", unit=city,
                       user_id=users["fz-driver"].id, license_class="A1"))
    session.add(TariffVersion(kind=TariffKind.FLEET, effective_from=date(2020, 1, 1),
                              data=fuzhou_tariff(), created_by_id=users["fz-admin"].id))
    session.flush()
    return True


def register_partner(session, partner: dict, *, base_url: str, our_id: str,
                     secret: str = DEMO_SECRET) -> Partner | None:
    """Register the other demo city as a partner (once), as this instance's platform admin."""
    if session.scalar(select(Partner.id).where(Partner.code == partner["code"])) is not None:
        return None
    actor = next(u for u in session.scalars(select(User).join(Unit, User.unit_id == Unit.id)
                                            .where(Unit.parent_id.is_(None)))
                 if u.has_role("admin"))
    return admin.create(session, actor=actor, data={
        **partner, "service_area": dict(partner["service_area"]), "base_url": base_url,
        "our_id": our_id, "secret": secret, "enabled": True})
