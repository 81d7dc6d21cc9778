"""Demo data for the embedded default: Changzhou, two districts, a few units, staff, a pooled fleet.

Last month's trips on top of it come from app/demo_history.py, which builds on this data.
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from app.accounts.models import Driver, EnergyType, Unit, UnitLevel, User, Vehicle, VehicleClass

CITY = ("常州市", "320400")

# (key, name, level, parent key, region code)
UNITS = [
    ("city", "常州市", UnitLevel.CITY, None, "320400"),
    ("drc", "常州市发展和改革委员会", UnitLevel.CITY, "city", "320400"),
    ("tianning", "天宁区", UnitLevel.DISTRICT, "city", "320402"),
    ("tianning-office", "天宁区人民政府办公室", UnitLevel.DISTRICT, "tianning", "320402"),
    ("hongmei", "红梅街道", UnitLevel.TOWN, "tianning", "320402"),
    ("wujin", "武进区", UnitLevel.DISTRICT, "city", "320412"),
    ("wujin-market", "武进区市场监督管理局", UnitLevel.DISTRICT, "wujin", "320412"),
]

# (openid, name, phone, unit key, roles). Platform staff sit at the city root: their scope
# is the whole platform.
USERS = [
    ("demo-traveler", "张明", "13800000001", "drc", ["traveler"]),
    ("demo-approver", "李华", "13800000002", "drc", ["approver", "traveler"]),
    ("demo-platform-approver", "王芳", "13800000003", "city", ["platform_approver"]),
    ("demo-dispatcher", "赵强", "13800000004", "city", ["dispatcher"]),
    ("demo-driver", "钱进", "13800000005", "city", ["driver"]),
    ("demo-finance", "孙丽", "13800000006", "city", ["finance"]),
    ("demo-supervisor", "周正", "13800000007", "city", ["supervisor"]),
    ("demo-admin", "吴敏", "13800000008", "city", ["admin"]),
    ("demo-traveler-2", "郑伟", "13800000009", "wujin-market", ["traveler"]),
    ("demo-approver-2", "冯静", "13800000010", "wujin-market", ["approver", "traveler"]),
    ("demo-city-approver", "陈刚", "13800000011", "city", ["approver"]),
    ("demo-unit-finance", "许琳", "13800000013", "drc", ["finance"]),
]
# Pre-registered but not yet bound: logs in with a phone code for this number.
UNBOUND_USER = ("刘洋", "13800000012", "tianning-office", ["traveler"])

# (class, seats, energy, count)
FLEET = [
    (VehicleClass.SEDAN, 4, EnergyType.ELECTRIC, 4),
    (VehicleClass.SEDAN, 4, EnergyType.PETROL, 5),
    (VehicleClass.SEDAN, 4, EnergyType.HYBRID, 1),
    (VehicleClass.MPV, 6, EnergyType.PHEV, 1),
    (VehicleClass.MPV, 6, EnergyType.PETROL, 3),
    (VehicleClass.MINIBUS, 17, EnergyType.DIESEL, 2),
    (VehicleClass.MINIBUS, 14, EnergyType.ELECTRIC, 1),
    (VehicleClass.BUS, 35, EnergyType.DIESEL, 1),
    (VehicleClass.BUS, 45, EnergyType.ELECTRIC, 1),
]
# Every demo vehicle carries a positioning terminal (a 15-digit IMEI-like id) and parks at
# the pool's depot by the city hall (WGS-84).
DEPOT = (31.8106, 119.9741)


def device_id_of(n: int) -> str:
    return f"86{n:013d}"


# The first driver logs in as demo-driver; the others are pre-registered driver users who
# bind with a phone code for their number.
DRIVERS = ["钱进", "孔亮", "曹勇", "严军", "华东", "金波", "魏明", "陶然"]


def seed_demo(session) -> bool:
    """Load the demo data unless a unit tree exists already; returns whether it loaded."""
    if session.scalar(select(Unit.id).limit(1)) is not None:
        return False
    units: dict[str, Unit] = {}
    for key, name, level, parent_key, code in UNITS:
        parent = units.get(parent_key) if parent_key else None
        unit = Unit(name=name, level=level, parent=parent, region_code=code)
        session.add(unit)
        session.flush()
        unit.path = f"{parent.path if parent else '/'}{unit.id}/"
        units[key] = unit
    users: dict[str, User] = {}
    for openid, name, phone, unit_key, roles in USERS:
        user = User(name=name, phone=phone, unit=units[unit_key], openid=openid)
        user.set_roles(roles)
        session.add(user)
        users[openid] = user
    name, phone, unit_key, roles = UNBOUND_USER
    unbound = User(name=name, phone=phone, unit=units[unit_key])
    unbound.set_roles(roles)
    session.add(unbound)
    session.flush()
    pool = units["city"]
    n = 0
    for vehicle_class, seats, energy, count in FLEET:
        for _ in range(count):
            n += 1
            session.add(Vehicle(plate=f"苏D{'D' if energy.is_nev else 'G'}{1000 + n:04d}",
                                vehicle_class=vehicle_class, seats=seats, energy_type=energy,
                                pooled=True, unit=pool, odometer_km=Decimal(20000 + 1375 * n),
                                device_id=device_id_of(n), depot_lat=DEPOT[0],
                                depot_lng=DEPOT[1]))
    phones = [f"1390000{i:04d}" for i in range(1, len(DRIVERS) + 1)]
    logins = [users["demo-driver"]]
    for name, phone in zip(DRIVERS[1:], phones[1:]):
        login = User(name=name, phone=phone, unit=pool)
        login.set_roles(["driver"])
        session.add(login)
        logins.append(login)
    session.flush()
    for i, (name, phone, login) in enumerate(zip(DRIVERS, phones, logins)):
        session.add(Driver(name=name, phone=phone, unit=pool, user_id=login.id,
                           license_class="A1" if i < 3 else "B1"))
    session.flush()
    return True


def equip_positioning(session) -> int:
    """Give demo vehicles without a positioning device one, and a depot (a demo database
    made before vehicles had them); returns how many were equipped."""
    equipped = 0
    for vehicle in session.scalars(select(Vehicle).where(Vehicle.device_id.is_(None))
                                   .order_by(Vehicle.id)):
        vehicle.device_id = device_id_of(vehicle.id)
        if vehicle.depot_lat is None:
            vehicle.depot_lat, vehicle.depot_lng = DEPOT
        equipped += 1
    session.flush()
    return equipped
