"""Demo history: last month's confirmed trips, so that finance can settle a month in the demo.

``seed_history(session, now)`` adds about 40 trips of the previous Asia/Shanghai calendar
month (relative to ``now``) to the demo data, across three paying units and every supplier
of the default registry (the fleet centre, ride-hailing, two rental companies). Nothing is
random: the plan below is a fixed table laid onto the month's weekdays.

Every trip walks the states the app records (draft → quoted → pending_approval → approved →
dispatched → in_progress → completed → confirmed) through ``Trip.transition``, with the
history and audit rows that gives, marked as demo history in the comment. Money comes only
from the code real trips use:

- fleet: an assignment, the driver's run (odometer, tolls, parking, lodging, waiting) and
  the ``trip_finished`` hook, i.e. ``billing.service.charge_fleet_trip`` and the tariff in
  force; the ``trip_confirmed`` hook makes the charge final (``billing.service.finalize``);
- rental: a provider order whose final bill is 80 % of the engine's agreement ceiling for
  the trip (one bill above it, flagged and held), through the ``provider_bill`` hook
  (``billing.service.record_provider_bill``);
- ride-hailing: the provider's fee breakdown (sandbox tiers) with the locked estimate beside
  it (one bill more than 20 % above, flagged over_estimate), through the same hook.

Approval workflows and quote rounds are not created (only the trip history records the
approval); everything is in the past, so nothing waits for anyone.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select

from app import audit, clock
from app.accounts.models import Driver, Unit, User, Vehicle, VehicleClass
from app.billing import tariff as engine
from app.billing.models import Charge, TariffKind
from app.billing.service import charge_of, tariff_in_force
from app.dispatch import assignment as dispatch
from app.trips import events
from app.dispatch.models import BUFFER, Assignment, ReleaseReason, TripRun
from app.dispatch.run import run_facts
from app.money import round_money
from app.orders.models import ProviderOrder
from app.trips.models import Channel, Offer, Trip, TripState
from providers.base import Bill, FeeLine, Order
from providers.ridehail import fee_lines
from providers.route import HaversineRoute

S = TripState
MARK = "演示历史数据"
ROUTE = HaversineRoute()

# Where the trips go: name → (lat, lng, cross-region?)
PLACES = {
    "市行政中心": (31.8107, 119.9741, False),
    "武进区政府": (31.7010, 119.9420, False),
    "天宁区政府": (31.7796, 119.9846, False),
    "常州北站": (31.8568, 119.9665, False),
    "金坛区政府": (31.7233, 119.5975, False),
    "溧阳市政府": (31.4167, 119.4842, False),
    "红梅街道": (31.7902, 119.9993, False),
    "武进高新区": (31.6860, 119.9560, False),
    "江苏省人民政府（南京）": (32.0603, 118.7969, True),
    "苏州市政府": (31.2990, 120.5853, True),
    "无锡市政府": (31.4912, 120.3119, True),
    "上海市（虹桥）": (31.1979, 121.3270, True),
}
# Paying unit → (origin, applicants by openid or phone, approver openid)
UNITS = {
    "drc": ("市行政中心", ["demo-traveler", "demo-approver"], "demo-approver"),
    "wujin-market": ("武进区政府", ["demo-traveler-2", "demo-approver-2"], "demo-approver-2"),
    "tianning-office": ("天宁区政府", ["13800000012"], "demo-city-approver"),
}
UNIT_ORDER = ("drc", "wujin-market", "tianning-office")
PURPOSES = {"meeting": "参加专题工作会议", "inspection": "项目现场检查", "enforcement": "市场执法检查",
            "reception": "接待来访考察团", "other": "公务外出"}


@dataclass(frozen=True)
class Plan:
    """One trip of the month: who pays, which supplier, what happened (fixed, no randomness)."""

    supplier: str            # fleet | ridehail | rental-a | rental-b
    vehicle_class: str
    place: str
    start: str               # local HH:MM
    hours: float             # actual duration
    purpose: str = "meeting"
    tolls: str = "0"
    parking: str = "0"
    lodging: str = "0"
    waiting: int = 0
    factor: str = "1.00"     # actual km ÷ estimated km (ride-hailing: fare ÷ estimate driver)
    bill_share: str = "0.80"  # rental bill ÷ engine ceiling
    tier: str = "comfort"    # ride-hailing tier
    auto_confirmed: bool = False


PLANS = [
    # The pooled fleet: in-city time blocks and cross-region mileage, pass-through costs.
    Plan("fleet", "sedan", "武进区政府", "09:00", 3.2, parking="10"),
    Plan("fleet", "sedan", "上海市（虹桥）", "07:00", 35, tolls="190.00", parking="60",
         lodging="380", waiting=120, purpose="reception"),
    Plan("fleet", "mpv", "金坛区政府", "08:00", 10.5, purpose="inspection"),
    Plan("fleet", "sedan", "常州北站", "07:30", 1.8, parking="15", purpose="reception"),
    Plan("fleet", "sedan", "江苏省人民政府（南京）", "07:30", 11.5, tolls="85.50", waiting=75),
    Plan("fleet", "minibus", "溧阳市政府", "08:30", 7.5, parking="20", purpose="inspection"),
    Plan("fleet", "sedan", "红梅街道", "09:30", 3.5, purpose="enforcement"),
    Plan("fleet", "mpv", "苏州市政府", "08:00", 10, tolls="60.00", parking="20", waiting=40),
    Plan("fleet", "mpv", "武进高新区", "13:30", 4.5, parking="12", auto_confirmed=True),
    Plan("fleet", "sedan", "无锡市政府", "09:00", 6, tolls="25.00"),
    Plan("fleet", "bus", "溧阳市政府", "07:00", 9.2, purpose="inspection"),
    Plan("fleet", "sedan", "金坛区政府", "08:00", 6, purpose="enforcement"),
    Plan("fleet", "minibus", "江苏省人民政府（南京）", "07:00", 12, tolls="150.00", waiting=90),
    Plan("fleet", "sedan", "天宁区政府", "15:00", 2),
    Plan("fleet", "sedan", "无锡市政府", "08:30", 8, tolls="25.00", parking="10",
         auto_confirmed=True),
    Plan("fleet", "sedan", "武进区政府", "14:00", 1.5, purpose="enforcement"),
    # Ride-hailing: one-way hops; the 1.45 fare runs more than 20 % over its estimate.
    Plan("ridehail", "sedan", "常州北站", "07:40", 0.6, factor="1.05", tier="economy"),
    Plan("ridehail", "sedan", "武进区政府", "10:10", 0.7, factor="0.97"),
    Plan("ridehail", "mpv", "红梅街道", "14:20", 0.5, factor="1.10", tier="business",
         purpose="reception"),
    Plan("ridehail", "sedan", "天宁区政府", "16:00", 0.4, factor="1.00", tier="economy"),
    Plan("ridehail", "sedan", "武进高新区", "09:15", 0.8, factor="1.45", purpose="enforcement"),
    Plan("ridehail", "sedan", "常州北站", "18:30", 0.6, factor="1.02"),
    Plan("ridehail", "sedan", "市行政中心", "11:00", 0.5, factor="0.95", tier="economy"),
    Plan("ridehail", "mpv", "常州北站", "08:10", 0.7, factor="1.08", tier="business",
         purpose="reception"),
    Plan("ridehail", "sedan", "武进区政府", "15:30", 0.7, factor="1.12", tier="economy"),
    Plan("ridehail", "sedan", "红梅街道", "13:00", 0.5, factor="1.00", auto_confirmed=True),
    # Rental companies (framework agreement): billed at 80 % of the ceiling; rental-b's
    # 1.06 × ceiling bill is flagged and held.
    Plan("rental-a", "sedan", "溧阳市政府", "08:00", 9, factor="1.10", purpose="inspection"),
    Plan("rental-a", "mpv", "江苏省人民政府（南京）", "07:00", 12, factor="1.05"),
    Plan("rental-a", "sedan", "武进区政府", "09:00", 3, factor="1.00", purpose="enforcement"),
    Plan("rental-a", "minibus", "金坛区政府", "08:00", 8, factor="1.08", purpose="reception"),
    Plan("rental-a", "sedan", "苏州市政府", "08:00", 10, factor="1.05"),
    Plan("rental-a", "bus", "溧阳市政府", "07:30", 9, factor="1.10", purpose="inspection"),
    Plan("rental-a", "sedan", "常州北站", "13:00", 2.5, factor="1.00", purpose="reception"),
    Plan("rental-b", "mpv", "无锡市政府", "08:30", 9, factor="1.05", purpose="reception"),
    Plan("rental-b", "sedan", "金坛区政府", "08:00", 7, factor="1.10", bill_share="1.06",
         purpose="inspection"),
    Plan("rental-b", "sedan", "天宁区政府", "14:00", 3, factor="1.00"),
    Plan("rental-b", "minibus", "江苏省人民政府（南京）", "07:00", 13, factor="1.05"),
    Plan("rental-b", "sedan", "溧阳市政府", "08:00", 9, factor="1.10", purpose="enforcement"),
    Plan("rental-b", "mpv", "武进高新区", "09:30", 4, factor="1.00", auto_confirmed=True),
    Plan("rental-b", "sedan", "上海市（虹桥）", "07:00", 14, factor="1.05", purpose="reception"),
]
# Sandbox ride-hailing tiers: base, per km, per minute (providers/sandbox/ridehail.py).
RIDEHAIL_TIERS = {"economy": ("10.00", "1.80", "0.30"), "comfort": ("14.00", "2.40", "0.45"),
                  "business": ("22.00", "3.50", "0.70")}
PROVIDER_LABELS = {"fleet": "公车平台", "ridehail": "T3出行", "rental-a": "常州交运租车",
                   "rental-b": "龙城汽车租赁"}


def previous_month(now: datetime) -> tuple[date, date]:
    """First day of the previous Asia/Shanghai month and first day of the current one."""
    today = clock.local_date(now)
    this_month = today.replace(day=1)
    return (this_month - timedelta(days=1)).replace(day=1), this_month


def period_label(now: datetime) -> str:
    return previous_month(now)[0].strftime("%Y-%m")


def _at(day: date, hhmm: str) -> datetime:
    hour, minute = map(int, hhmm.split(":"))
    return datetime.combine(day, time(hour, minute), clock.SHANGHAI).astimezone(timezone.utc)


def _stops(origin: str, place: str, round_trip: bool) -> list[dict]:
    names = [origin, place, origin] if round_trip else [origin, place]
    return [{"name": n, "lat": PLACES[n][0], "lng": PLACES[n][1]} for n in names]


def _km(stops: list[dict]) -> Decimal:
    return ROUTE.estimate([(s["lat"], s["lng"]) for s in stops]).km


def _one_decimal(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.1"), ROUND_HALF_UP)


class _History:
    def __init__(self, session, now: datetime) -> None:
        self.session, self.now = session, now
        first, self.month_end = previous_month(now)
        days = [first + timedelta(days=i) for i in range((self.month_end - first).days)]
        self.weekdays = [d for d in days if d.weekday() < 5]
        self.users = {u.openid or u.phone: u for u in session.scalars(select(User))}
        self.units = {u.name: u for u in session.scalars(select(Unit))}
        self.vehicles: dict[str, list[Vehicle]] = {}
        for v in session.scalars(select(Vehicle).order_by(Vehicle.id)):
            self.vehicles.setdefault(str(v.vehicle_class), []).append(v)
        self.drivers = list(session.scalars(select(Driver).order_by(Driver.id)))
        self.dispatcher = self.users["demo-dispatcher"]
        self.platform_approver = self.users["demo-platform-approver"]
        self.used = {"vehicle": {}, "driver": {}}
        self.serial: dict[str, int] = {}

    # --- shared steps ------------------------------------------------------------------

    def _events(self, trip: Trip, applicant: User, approver: User, quoted_at: datetime,
                offer: Offer) -> None:
        s = self.session
        trip.transition(s, S.QUOTED, actor_id=applicant.id, at=quoted_at, comment=MARK,
                        data={"round": 1, "offers": 1, "demo_history": True})
        s.flush()
        trip.selected_offer_id = offer.id
        trip.estimate = offer.price
        trip.transition(s, S.PENDING_APPROVAL, actor_id=applicant.id,
                        at=quoted_at + timedelta(minutes=3), comment=MARK,
                        data={"offer_id": offer.id, "estimate": str(offer.price),
                              "dispatchable": False, "demo_history": True})
        approved_at = quoted_at + timedelta(hours=1)
        detail = {"step": 1, "step_name": "单位审批", "demo_history": True}
        if trip.cross_region:  # the unit approves, then the platform (跨区域用车)
            trip.note(s, "approval:approved", actor_id=approver.id, at=approved_at,
                      comment=f"同意（{MARK}）", data={**detail, "step_done": True})
            approver, approved_at = self.platform_approver, approved_at + timedelta(hours=1)
            detail = {"step": 2, "step_name": "平台审批", "demo_history": True}
        trip.transition(s, S.APPROVED, actor_id=approver.id, at=approved_at,
                        comment=f"同意（{MARK}）", data={"action": "approval:approved", **detail})

    def _confirm(self, trip: Trip, plan: Plan, applicant: User, finished_at: datetime) -> None:
        if plan.auto_confirmed:
            at = finished_at + timedelta(hours=72, minutes=5)
            actor, comment = None, f"完成后72小时未确认，系统自动确认（{MARK}）"
        else:
            at = finished_at + timedelta(hours=2 + trip.id % 14)
            actor, comment = applicant.id, f"申请人确认（{MARK}）"
        # Never in the future (a demo started right after midnight on the 1st).
        at = max(min(at, self.now - timedelta(minutes=1)), finished_at + timedelta(minutes=1))
        trip.transition(self.session, S.CONFIRMED, actor_id=actor, at=at, comment=comment,
                        data={"auto_confirmed": plan.auto_confirmed, "demo_history": True})
        events.publish(self.session, events.TRIP_CONFIRMED, trip=trip, auto=plan.auto_confirmed)
        charge = charge_of(self.session, trip.id)
        # The service stamps its own clock; history keeps the times it happened at.
        charge.computed_at, charge.finalized_at = finished_at, at

    def _trip(self, plan: Plan, unit_key: str, applicant: User, day: date) -> Trip:
        origin, *_ = UNITS[unit_key]
        place = plan.place
        if place == origin:  # a plan laid on the unit at that very place goes to the city centre
            place = "市行政中心" if origin != "市行政中心" else "武进区政府"
        cross = PLACES[place][2]
        stops = _stops(origin, place, plan.supplier != "ridehail")
        depart = _at(day, plan.start)
        planned = timedelta(hours=plan.hours)
        planned = timedelta(minutes=30 * -(-planned // timedelta(minutes=30)))
        created = depart - timedelta(days=2, hours=1)
        trip = Trip(unit_id=self.units_by_key[unit_key].id, applicant_id=applicant.id,
                    state=S.DRAFT, purpose_category=plan.purpose,
                    purpose_text=f"{PURPOSES[plan.purpose]}（{MARK}）",
                    passengers=[{"name": applicant.name, "phone": applicant.phone}],
                    stops=stops, depart_at=depart, return_at=depart + planned,
                    vehicle_class=plan.vehicle_class, cross_region=cross,
                    est_distance_km=_km(stops), est_duration_min=round(plan.hours * 60),
                    channel=Channel.FLEET if plan.supplier == "fleet" else
                    Channel.RIDEHAIL if plan.supplier == "ridehail" else Channel.RENTAL,
                    created_at=created, updated_at=created)
        self.session.add(trip)
        self.session.flush()
        return trip

    def _offer(self, trip: Trip, plan: Plan, lines, quoted_at: datetime, extra=None) -> Offer:
        vehicle_class = VehicleClass(plan.vehicle_class)
        offer = Offer(trip_id=trip.id, channel=trip.channel, provider=plan.supplier,
                      product=f"{PROVIDER_LABELS[plan.supplier]}·{vehicle_class.label}",
                      vehicle_class=vehicle_class, seats=vehicle_class.seats, nev=False,
                      price=sum((line.amount for line in lines), Decimal("0.00")),
                      breakdown=[{"kind": x.kind, "description": x.description,
                                  "amount": str(x.amount)} for x in lines],
                      available=True, expires_at=quoted_at + timedelta(minutes=30),
                      compliant=True, reasons=[], recommended=True, rank=0, quote_round=1,
                      extra=dict(extra or {}), created_at=quoted_at)
        self.session.add(offer)
        self.session.flush()
        return offer

    # --- the pooled fleet --------------------------------------------------------------

    def _pick(self, kind: str, pool: list, start: datetime, end: datetime):
        """The first of ``pool`` free over [start, end + BUFFER) among history's own tasks."""
        for row in pool:
            busy = self.used[kind].setdefault(row.id, [])
            if all(end + BUFFER <= s or start >= e + BUFFER for s, e in busy):
                busy.append((start, end))
                return row
        raise RuntimeError("demo history: no free vehicle or driver")  # the plan is too dense

    def fleet(self, plan: Plan, unit_key: str, applicant: User, approver: User, day: date,
              n: int) -> None:
        s = self.session
        trip = self._trip(plan, unit_key, applicant, day)
        quoted_at = trip.created_at + timedelta(minutes=5)
        estimate = engine.fleet_charge(
            tariff_in_force(s, TariffKind.FLEET, trip.depart_at),
            engine.ChargeableRun(plan.vehicle_class, trip.cross_region, trip.depart_at,
                                 trip.return_at, trip.est_distance_km or Decimal(0)))
        offer = self._offer(trip, plan, estimate.lines, quoted_at)
        self._events(trip, applicant, approver, quoted_at, offer)

        started_at = trip.depart_at + timedelta(minutes=5 + n % 10)
        finished_at = started_at + timedelta(hours=plan.hours)
        pool = self.vehicles[plan.vehicle_class]
        vehicle = self._pick("vehicle", pool[n % len(pool):] + pool[:n % len(pool)],
                             trip.depart_at, max(trip.return_at, finished_at))
        licensed = [d for d in self.drivers
                    if plan.vehicle_class in ("sedan", "mpv") or d.license_class == "A1"]
        driver = self._pick("driver", licensed[n % len(licensed):] + licensed[:n % len(licensed)],
                            trip.depart_at, max(trip.return_at, finished_at))
        assigned_at = trip.events[-1].at + timedelta(minutes=20)
        assignment = Assignment.for_window(trip, vehicle_id=vehicle.id, driver_id=driver.id,
                                           auto=True, assigned_by_id=self.dispatcher.id,
                                           reason="auto", assigned_at=assigned_at)
        s.add(assignment)
        s.flush()
        dispatch.audit_assignment(s, assignment, "assigned", self.dispatcher.id, MARK,
                                  at=assigned_at)
        trip.transition(s, S.DISPATCHED, actor_id=self.dispatcher.id, at=assigned_at,
                        comment=MARK, data={**dispatch.describe_assignment(assignment),
                                            "demo_history": True})

        start_km = vehicle.odometer_km
        km = _one_decimal((trip.est_distance_km or Decimal(0)) * Decimal(plan.factor)
                          + Decimal(3 + n % 7))
        end_km = start_km + km
        run = TripRun(trip=trip, assignment_id=assignment.id, vehicle_id=vehicle.id,
                      driver_id=driver.id, started_at=started_at, start_odometer_km=start_km,
                      odometer_gap_km=Decimal(0), finished_at=finished_at,
                      end_odometer_km=end_km, km=km, tolls=Decimal(plan.tolls),
                      parking=Decimal(plan.parking), lodging=Decimal(plan.lodging),
                      waiting_minutes=plan.waiting, recorded_at=finished_at)
        s.add(run)
        trip.transition(s, S.IN_PROGRESS, actor_id=driver.user_id, at=started_at, comment=MARK,
                        data={"odometer_km": str(start_km), "recorded_at": started_at.isoformat(),
                              "demo_history": True})
        vehicle.odometer_km = end_km
        assignment.release(ReleaseReason.FINISHED, actor_id=driver.user_id, at=finished_at)
        dispatch.audit_assignment(s, assignment, "released:finished", driver.user_id, MARK,
                                  at=finished_at)
        s.flush()
        trip.transition(s, S.COMPLETED, actor_id=driver.user_id, at=finished_at, comment=MARK,
                        data={"km": str(km), "recorded_at": finished_at.isoformat(),
                              "demo_history": True})
        events.publish(s, events.TRIP_FINISHED, trip=trip, facts=run_facts(trip, run, vehicle))
        self._confirm(trip, plan, applicant, finished_at)

    # --- rental and ride-hailing -------------------------------------------------------

    def provider(self, plan: Plan, unit_key: str, applicant: User, approver: User, day: date,
                 n: int) -> None:
        s = self.session
        trip = self._trip(plan, unit_key, applicant, day)
        quoted_at = trip.created_at + timedelta(minutes=5)
        started_at = trip.depart_at + timedelta(minutes=n % 12)
        finished_at = started_at + timedelta(hours=plan.hours)
        est_km = trip.est_distance_km or Decimal(0)
        actual_km = _one_decimal(est_km * Decimal(plan.factor))
        extra = {"occurred_at": finished_at.isoformat()}
        if plan.supplier == "ridehail":
            base, per_km, per_minute = map(Decimal, RIDEHAIL_TIERS[plan.tier])
            minutes = trip.est_duration_min or 0

            def fare(km: Decimal, mins: int) -> dict:
                return {"base": base, "distance": round_money(per_km * km),
                        "time": round_money(per_minute * mins)}
            quote_lines = fee_lines(fare(est_km, minutes))
            bill_lines = fee_lines(fare(actual_km, round(minutes * float(plan.factor))))
        else:
            ceiling = engine.rental_ceiling(
                tariff_in_force(s, TariffKind.RENTAL, trip.depart_at), plan.vehicle_class,
                trip.depart_at, finished_at, actual_km)
            quote = engine.rental_quote(
                tariff_in_force(s, TariffKind.RENTAL, trip.depart_at),
                engine.ChargeableRun(plan.vehicle_class, False, trip.depart_at, trip.return_at,
                                     est_km))
            share = Decimal(plan.bill_share)
            quote_lines = [FeeLine("rental", "包车费用（含司机）", round_money(quote.total * share))]
            bill_lines = (FeeLine("rental", "包车费用（含司机）", round_money(ceiling * share)),)
            extra["actual_km"] = str(actual_km)
        offer = self._offer(trip, plan, quote_lines, quoted_at)
        self._events(trip, applicant, approver, quoted_at, offer)

        self.serial[plan.supplier] = number = self.serial.get(plan.supplier, 0) + 1
        month = clock.local(trip.depart_at).strftime("%Y%m")
        order_id = f"{plan.supplier.upper().replace('-', '')}{month}{number:04d}"
        booked_at = trip.events[-1].at + timedelta(minutes=2)
        driver_name = ["王师傅", "陈师傅", "刘师傅", "黄师傅"][n % 4]
        row = ProviderOrder(trip_id=trip.id, provider=plan.supplier,
                            out_order_id=f"T{trip.id}-demo{number:04d}", order_id=order_id,
                            state="completed", plate=f"苏D{'R' if plan.supplier == 'ridehail' else 'Z'}{5100 + n:04d}",
                            driver_name=driver_name, driver_phone=f"1370000{n:04d}",
                            bill=[line.as_dict() for line in bill_lines], attempts=1,
                            last_event_at=finished_at, created_at=booked_at,
                            updated_at=finished_at)
        s.add(row)
        s.flush()
        for action, at, data in (("opened", booked_at, {"out_order_id": row.out_order_id}),
                                 ("booked", booked_at, {"order_id": order_id}),
                                 ("event:completed", finished_at, {"order_id": order_id})):
            audit.record(s, entity="provider_orders", entity_id=row.id, action=action,
                         actor_id=None, at=at,
                         data={"trip_id": trip.id, "provider": plan.supplier, "comment": MARK,
                               **data})
        event = {"provider": plan.supplier, "order_id": order_id, "plate": row.plate,
                 "driver_name": driver_name, "demo_history": True}
        trip.transition(s, S.DISPATCHED, actor_id=None, at=booked_at, comment=MARK,
                        data={**event, "event": "booked"})
        trip.transition(s, S.IN_PROGRESS, actor_id=None, at=started_at, comment=MARK,
                        data={**event, "event": "in_trip"})
        trip.transition(s, S.COMPLETED, actor_id=None, at=finished_at, comment=MARK,
                        data={**event, "event": "completed", "actual_km": str(actual_km)})
        order = Order(provider=plan.supplier, order_id=order_id, out_order_id=row.out_order_id,
                      state="completed", plate=row.plate, driver_name=driver_name,
                      bill=Bill(tuple(bill_lines)), extra=extra)
        events.publish(s, events.PROVIDER_BILL, trip=trip, bill=order.bill, order=order)
        self._confirm(trip, plan, applicant, finished_at)

    # --- the month ---------------------------------------------------------------------

    def run(self) -> int:
        self.units_by_key = {key: self.units[name] for key, name, *_ in _unit_names()}
        per_supplier: dict[str, int] = {}
        # Lay the plans onto the month's weekdays in a fixed interleaved order.
        order = sorted(range(len(PLANS)), key=lambda i: (i * 7) % len(PLANS))
        for slot, i in enumerate(order):
            plan = PLANS[i]
            k = per_supplier[plan.supplier] = per_supplier.get(plan.supplier, -1) + 1
            unit_key = UNIT_ORDER[k % len(UNIT_ORDER)]
            _, applicants, approver = UNITS[unit_key]
            applicant = self.users[applicants[k // len(UNIT_ORDER) % len(applicants)]]
            day = self.weekdays[slot * len(self.weekdays) // len(PLANS)]
            # A trip lasting into the next day still finishes in the month.
            while _at(day, plan.start) + timedelta(hours=plan.hours + 1) >= _at(self.month_end, "00:00"):
                day -= timedelta(days=1)
            step = self.fleet if plan.supplier == "fleet" else self.provider
            step(plan, unit_key, applicant, self.users[approver], day, slot)
        self.session.flush()
        return len(PLANS)


def _unit_names():
    from app.seed import UNITS as SEED_UNITS
    return [(key, name) for key, name, *_ in SEED_UNITS]


def seed_history(session, now: datetime) -> int:
    """Add last month's confirmed demo trips with their final charges; returns how many."""
    return _History(session, clock.ensure_aware(now)).run()


def summary(session, now: datetime) -> tuple[str, int]:
    """(previous period, confirmed charges finished in it): what finance can settle now."""
    first, end = previous_month(now)
    start_at, end_at = _at(first, "00:00"), _at(end, "00:00")
    count = session.scalar(select(func.count(Charge.id)).where(
        Charge.final.is_(True), Charge.finished_at >= start_at, Charge.finished_at < end_at))
    return first.strftime("%Y-%m"), int(count or 0)
