"""Demo history: last month's trips, told through the app's own use cases, so that finance
can settle a month in the demo.

``seed_demo_with_history(session, now=...)`` loads the demo data (app/seed.py) and, on it,
about 40 trips of the previous Asia/Shanghai calendar month (relative to ``now``) across
three paying units and every supplier of the default registry (the fleet centre,
ride-hailing, two rental companies). Nothing is random: the plan below is a fixed table
laid onto the month's weekdays.

Each trip is a story of steps at set times, each step the use case the app runs for that
request or job: the applicant creates the trip (``trips.service.create_trip``), asks for
quotes (``quotes.service.request_quotes``) and submits the planned offer
(``approvals.workflow.submit_trip``); whoever the workflow names approves
(``approvals.workflow.decide``, one or two steps as the policy routes it); then

- fleet: the dispatcher auto-assigns a vehicle and a driver (``dispatch.assignment.assign``);
  the driver sets off and returns with the odometer, tolls, parking, lodging and waiting
  (``start_trip``, ``finish_trip``), and billing prices the run by the tariff in force;
- rental and ride-hailing: the worker's booking job places the order
  (``orders.booking.open_orders``, ``claim_due``, ``record``) and the company's callbacks
  move it on (``orders.callbacks.apply_callback``: assigned, in trip, completed with its final
  bill, which billing checks against our agreement ceiling or the locked estimate);

and the applicant confirms (``dispatch.passenger.confirm``), objects first (``dispute``,
answered by a dispatcher with ``resolve_dispute``), or leaves it to the worker's 72-hour
auto-confirmation (``auto_confirm_due``). The stories run interleaved in time order under
the app clock (``clock.set_now``), so every row carries the time it happened at; each
quote round starts with a commit, as its request would (the quote use case ends the
transaction before it calls out).

The companies' side is played in-process by ``Supplier`` (it quotes and takes orders like
a provider adapter, and says what a callback would), not by the HTTP sandboxes: the story
needs bills the sandboxes do not send (80 % of our agreement ceiling, one rental bill above
it, one ride-hailing fare more than 20 % over its estimate) and must not depend on a
sandbox or a webhook being up when the demo is seeded. The pooled fleet is the app's own.

Given a partner city (``partner``: the devserver registers Fuzhou), its visitors ride our
fleet in the month too (SPEC §7, inbound): the partner's platform places each order two
days ahead (``partners.inbound.place``, approved there), our dispatcher assigns, our
driver drives, billing prices the run by our tariff with its market reference, and the
partner trip is confirmed at finish — what the visitors' savings report shows.

Last, every event of these trips is marked as demo history in its comment, and the approval
messages their workflows queued (and the partner callbacks) are closed unsent: they belong
to last month.
"""
from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import scoped_session, selectinload

from app import clock, seed, supply
from app.accounts.models import Role, Unit, User, Vehicle
from app.admin import service as admin_service
from app.approvals import workflow as approvals
from app.approvals.calendar import PrcCalendar
from app.approvals.models import ApprovalTask, TaskState
from app.billing import tariff as engine
from app.billing.models import Charge, TariffKind
from app.billing.service import tariff_in_force
from app.dispatch import assignment as dispatching, passenger, run as driving
from app.money import round_money
from app.notifications.models import OutboxMessage, OutboxState
from app.orders import booking, callbacks
from app.orders.models import ProviderOrder
from app.partners import inbound
from app.partners.models import CallbackState, Partner, PartnerCallback
from app.quotes import policy as quote_policy
from app.quotes import service as quotes
from app.trips import service as trips
from app.trips.models import Channel, Offer, Trip
from providers.base import (Bill, FeeLine, NotApplicable, Order, OrderRequest, ProviderOffer,
                            QuoteRequest)
from providers.ridehail import fee_lines
from providers.sandbox.rental import PRICE_LIST as RENTAL_MODELS
from providers.sandbox.ridehail import TIERS as RIDE_TIERS
from providers.sandbox.ridehail import Tier

MARK = "演示历史数据"

# Where the trips go: name → (lat, lng). The city bounds decide which are cross-region.
PLACES = {
    "市行政中心": (31.8107, 119.9741),
    "武进区政府": (31.7010, 119.9420),
    "天宁区政府": (31.7796, 119.9846),
    "常州北站": (31.8568, 119.9665),
    "金坛区政府": (31.7233, 119.5975),
    "溧阳市政府": (31.4167, 119.4842),
    "红梅街道": (31.7902, 119.9993),
    "武进高新区": (31.6860, 119.9560),
    "江苏省人民政府（南京）": (32.0603, 118.7969),
    "苏州市政府": (31.2990, 120.5853),
    "无锡市政府": (31.4912, 120.3119),
    "上海市（虹桥）": (31.1979, 121.3270),
}
# Paying unit (a seed unit key) → where its trips start; its travellers apply.
ORIGINS = {"drc": "市行政中心", "wujin-market": "武进区政府", "tianning-office": "天宁区政府"}
PURPOSES = {"meeting": "参加专题工作会议", "inspection": "项目现场检查", "enforcement": "市场执法检查",
            "reception": "接待来访考察团", "other": "公务外出"}


@dataclass(frozen=True)
class Dispute:
    """The applicant objects to the charge; a dispatcher answers, correcting a fleet run."""

    reason: str
    resolution: str
    correction: passenger.Correction = passenger.Correction()


@dataclass(frozen=True)
class Plan:
    """One trip of the month: which supplier, what happened (fixed, no randomness)."""

    supplier: str            # fleet | ridehail | rental-a | rental-b
    vehicle_class: str
    place: str
    start: str               # local HH:MM
    hours: float             # actual duration
    purpose: str = "meeting"
    passengers: int = 1
    tolls: str = "0"
    parking: str = "0"
    lodging: str = "0"
    waiting: int = 0
    factor: str = "1.00"     # actual km ÷ estimated km (ride-hailing: and minutes)
    bill_share: str = "0.80"  # rental bill ÷ agreement ceiling
    tier: str = "comfort"    # ride-hailing tier
    auto_confirmed: bool = False
    dispute: Dispute | None = None
    planned_hours: float | None = None  # the approved duration, when it differs (late return)
    odometer_gap: str = "0"  # km the vehicle moved unrecorded before this run (账实不符)


PLANS = [
    # The pooled fleet: in-city time blocks and cross-region mileage, pass-through costs.
    Plan("fleet", "sedan", "武进区政府", "09:00", 3.2, parking="10"),
    Plan("fleet", "sedan", "上海市（虹桥）", "07:00", 35, tolls="190.00", parking="60",
         lodging="380", waiting=120, purpose="reception", passengers=3),
    Plan("fleet", "mpv", "金坛区政府", "08:00", 10.5, purpose="inspection", passengers=5),
    Plan("fleet", "sedan", "常州北站", "07:30", 1.8, parking="15", purpose="reception",
         dispute=Dispute("停车票据为10元，记录为15元", "已核对停车票据，停车费更正为10元",
                         passenger.Correction(parking=Decimal("10")))),
    Plan("fleet", "sedan", "江苏省人民政府（南京）", "07:30", 11.5, tolls="85.50", waiting=75),
    Plan("fleet", "minibus", "溧阳市政府", "08:30", 7.5, parking="20", purpose="inspection",
         passengers=12),
    Plan("fleet", "sedan", "红梅街道", "09:30", 3.5, purpose="enforcement", passengers=2),
    Plan("fleet", "mpv", "苏州市政府", "08:00", 10, tolls="60.00", parking="20", waiting=40,
         passengers=5),
    Plan("fleet", "mpv", "武进高新区", "13:30", 4.5, parking="12", passengers=6,
         auto_confirmed=True),
    # …and a run of over three times the estimated distance (distance_overrun).
    Plan("fleet", "sedan", "无锡市政府", "09:00", 6, tolls="25.00", factor="3.2"),
    Plan("fleet", "bus", "溧阳市政府", "07:00", 9.2, purpose="inspection", passengers=30),
    Plan("fleet", "sedan", "金坛区政府", "08:00", 6, purpose="enforcement", passengers=2),
    Plan("fleet", "minibus", "江苏省人民政府（南京）", "07:00", 12, tolls="150.00", waiting=90,
         passengers=10),
    # Supervision's cases: a return 2.5 h after the approved time; a start reading 12 km
    # above the vehicle's last finish.
    Plan("fleet", "sedan", "天宁区政府", "15:00", 4.5, planned_hours=2),
    Plan("fleet", "sedan", "无锡市政府", "08:30", 8, tolls="25.00", parking="10",
         auto_confirmed=True),
    Plan("fleet", "sedan", "武进区政府", "14:00", 1.5, purpose="enforcement", odometer_gap="12"),
    # Ride-hailing (official use allows economy and comfort): one-way hops; the 1.45 fare
    # runs more than 20 % over its estimate, and its passenger objects to it.
    Plan("ridehail", "sedan", "常州北站", "07:40", 0.6, factor="1.05", tier="economy"),
    Plan("ridehail", "sedan", "武进区政府", "10:10", 0.7, factor="0.97"),
    Plan("ridehail", "sedan", "红梅街道", "14:20", 0.5, factor="1.10", purpose="reception",
         passengers=3),
    Plan("ridehail", "sedan", "天宁区政府", "16:00", 0.4, factor="1.00", tier="economy"),
    Plan("ridehail", "sedan", "武进高新区", "09:15", 0.8, factor="1.45", purpose="enforcement",
         dispute=Dispute("实际费用比预估高出许多", "已核实行程轨迹，途中因道路施工绕行，按供应商账单结算")),
    Plan("ridehail", "sedan", "常州北站", "18:30", 0.6, factor="1.02"),
    Plan("ridehail", "sedan", "市行政中心", "11:00", 0.5, factor="0.95", tier="economy"),
    Plan("ridehail", "sedan", "常州北站", "08:10", 0.7, factor="1.08", purpose="reception",
         passengers=4),
    Plan("ridehail", "sedan", "武进区政府", "15:30", 0.7, factor="1.12", tier="economy"),
    Plan("ridehail", "sedan", "红梅街道", "13:00", 0.5, factor="1.00", auto_confirmed=True),
    # Rental companies (framework agreement): billed at 80 % of the ceiling; rental-b's
    # 1.06 × ceiling bill is flagged and held.
    Plan("rental-a", "sedan", "溧阳市政府", "08:00", 9, factor="1.10", purpose="inspection"),
    Plan("rental-a", "mpv", "江苏省人民政府（南京）", "07:00", 12, factor="1.05", passengers=5),
    Plan("rental-a", "sedan", "武进区政府", "09:00", 3, factor="1.00", purpose="enforcement"),
    Plan("rental-a", "minibus", "金坛区政府", "08:00", 8, factor="1.08", purpose="reception",
         passengers=14),
    Plan("rental-a", "sedan", "苏州市政府", "08:00", 10, factor="1.05", passengers=2),
    Plan("rental-a", "bus", "溧阳市政府", "07:30", 9, factor="1.10", purpose="inspection",
         passengers=36),
    Plan("rental-a", "sedan", "常州北站", "13:00", 2.5, factor="1.00", purpose="reception"),
    Plan("rental-b", "mpv", "无锡市政府", "08:30", 9, factor="1.05", purpose="reception",
         passengers=6),
    Plan("rental-b", "sedan", "金坛区政府", "08:00", 7, factor="1.10", bill_share="1.06",
         purpose="inspection"),
    Plan("rental-b", "sedan", "天宁区政府", "14:00", 3, factor="1.00"),
    Plan("rental-b", "minibus", "江苏省人民政府（南京）", "07:00", 13, factor="1.05",
         passengers=11),
    Plan("rental-b", "sedan", "溧阳市政府", "08:00", 9, factor="1.10", purpose="enforcement"),
    Plan("rental-b", "mpv", "武进高新区", "09:30", 4, factor="1.00", passengers=5,
         auto_confirmed=True),
    Plan("rental-b", "sedan", "上海市（虹桥）", "07:00", 14, factor="1.05", purpose="reception"),
]

# A partner city's visitors (with ``partner``): from the station their train came in at to
# the place of the visit and back, on our fleet, on workdays by day.
VISIT_ARRIVAL = "常州北站"
VISITS = [
    Plan("partner", "sedan", "市行政中心", "09:30", 4, passengers=2, parking="10"),
    Plan("partner", "sedan", "武进高新区", "08:30", 7, purpose="inspection", passengers=3,
         parking="20"),
    Plan("partner", "sedan", "金坛区政府", "13:00", 4.5, purpose="inspection", passengers=2),
    Plan("partner", "sedan", "溧阳市政府", "08:00", 9, purpose="reception", passengers=3,
         waiting=60, tolls="30.00"),
]
VISITORS = [("林华", "13950000101"), ("陈建国", "13950000102"), ("黄静", "13950000103"),
            ("郑宇", "13950000104")]

# The story's pace around each trip's departure and finish.
CREATED_BEFORE = timedelta(days=2, hours=1)
QUOTE_AFTER = timedelta(minutes=5)
SUBMIT_AFTER = timedelta(minutes=3)
DECIDE_AFTER = timedelta(hours=1)
ASSIGN_AFTER = timedelta(minutes=20)
WORKER_TICK = timedelta(minutes=2)   # a job runs this long after it has work
ASSIGNED_BEFORE = {Channel.RIDEHAIL: timedelta(minutes=30), Channel.RENTAL: timedelta(hours=14)}
DISPUTE_AFTER = timedelta(hours=3)
RESOLVE_AFTER = timedelta(hours=23)
RECONFIRM_AFTER = timedelta(hours=25)
# Each rental company quotes at its share of our agreement ceiling.
RENTAL_QUOTE_SHARES = {"rental-a": Decimal("0.80"), "rental-b": Decimal("0.84")}
RIDE_LOCK = timedelta(minutes=10)
RENTAL_LOCK = timedelta(minutes=30)
COMPANY_DRIVERS = ["王师傅", "陈师傅", "刘师傅", "黄师傅"]
# (unit name, NEV?): the cars stationed at district units after the month.
STATIONED = [("武进区市场监督管理局", False), ("天宁区人民政府办公室", True)]


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


def _one_decimal(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.1"), ROUND_HALF_UP)


def _settled_after(plan: Plan, n: int) -> timedelta:
    """From finish to the trip's last step (its confirmation)."""
    if plan.dispute:
        return RECONFIRM_AFTER
    if plan.auto_confirmed:
        return passenger.AUTO_CONFIRM_AFTER + WORKER_TICK
    return timedelta(hours=2 + n % 14)


def _travellers(unit_key: str) -> list[str]:
    """A seed unit's travellers: openids, and the phone of the one not yet bound."""
    _, phone, unit, roles = seed.UNBOUND_USER
    people = [(openid, u, r) for openid, _, _, u, r in seed.USERS] + [(phone, unit, roles)]
    return [key for key, u, r in people if u == unit_key and "traveler" in r]


def _dispatcher() -> str:
    return next(openid for openid, *_, roles in seed.USERS if "dispatcher" in roles)


def _ride_fare(tier: Tier, km: Decimal, minutes: int) -> tuple[FeeLine, ...]:
    """A ride-hailing fare by the sandbox company's tier rates."""
    return fee_lines({"base": tier.base, "distance": tier.per_km * km,
                      "time": tier.per_minute * minutes})


class Supplier:
    """A rental or ride-hailing company's side of the story, in-process.

    ``quote`` and ``book`` answer like the company's adapter (the quote fan-out and the
    booking job call them); ``callback`` is the order a company's callback tells, as the
    adapter's ``parse_callback`` gives it. Order numbers and drivers are counted, not drawn.
    """

    takes_orders = True

    def __init__(self, name: str, channel: str, label: str):
        self.name, self.channel, self.label = name, channel, label
        self.numbers: dict[str, int] = {}

    def quote(self, request: QuoteRequest) -> list[ProviderOffer]:
        if self.channel == Channel.RIDEHAIL:
            offers = [self._ride(request, code, tier) for code, tier in RIDE_TIERS.items()
                      if tier.seats >= request.passengers]
            if not offers:
                raise NotApplicable("乘车人数超出网约车车型座位数")
            return offers
        return [self._rental(request, vehicle_class) for vehicle_class in request.vehicle_classes]

    def _ride(self, request: QuoteRequest, code: str, tier: Tier) -> ProviderOffer:
        fare = _ride_fare(tier, request.est_km, request.est_minutes)
        return ProviderOffer(
            provider=self.name, channel=self.channel, product=f"{self.label}·{tier.label}",
            vehicle_class=tier.vehicle_class, seats=tier.seats, nev=tier.nev,
            price=Bill(fare).total, breakdown=fare, expires_at=clock.now() + RIDE_LOCK,
            extra={"tier": code})

    def _rental(self, request: QuoteRequest, vehicle_class: str) -> ProviderOffer:
        _, _, model, seats, nev = RENTAL_MODELS[vehicle_class]
        ceiling = quote_policy.rental_ceiling(vehicle_class, request.depart_at,
                                              request.return_at, request.est_km)
        line = FeeLine("rental", "包车费用（含司机）",
                       round_money(ceiling * RENTAL_QUOTE_SHARES[self.name]))
        return ProviderOffer(
            provider=self.name, channel=self.channel, product=f"{self.label}·{model}",
            vehicle_class=vehicle_class, seats=seats, nev=nev, price=line.amount,
            breakdown=(line,), expires_at=clock.now() + RENTAL_LOCK, extra={"model": model})

    def book(self, order_request: OrderRequest) -> Order:
        number = len(self.numbers) + 1
        month = clock.local(order_request.request.depart_at).strftime("%Y%m")
        order_id = f"{self.name.upper().replace('-', '')}{month}{number:04d}"
        self.numbers[order_id] = number
        return Order(provider=self.name, order_id=order_id,
                     out_order_id=order_request.out_order_id, state="created")

    def callback(self, row: ProviderOrder, state: str, *, bill: tuple[FeeLine, ...] = (),
                 actual_km: Decimal | None = None) -> Order:
        number = self.numbers[row.order_id]
        extra = {"occurred_at": clock.now().isoformat()}
        if actual_km is not None:
            extra["actual_km"] = str(actual_km)
        plate = f"苏D{'R' if self.channel == Channel.RIDEHAIL else 'Z'}{5100 + number:04d}"
        return Order(provider=self.name, order_id=row.order_id, out_order_id=row.out_order_id,
                     state=state, plate=plate, driver_name=COMPANY_DRIVERS[number % 4],
                     driver_phone=f"1370000{number:04d}", bill=Bill(bill) if bill else None,
                     extra=extra)


class _History:
    def __init__(self, session, now: datetime, partner: Partner | None = None) -> None:
        # The quote use case ends and begins transactions itself: it needs the Session.
        self.session = session() if isinstance(session, scoped_session) else session
        self.now = now
        self.partner = partner
        first, month_end = previous_month(now)
        self.month_end = _at(month_end, "00:00")
        days = [first + timedelta(days=i) for i in range((month_end - first).days)]
        self.weekdays = [d for d in days if d.weekday() < 5]
        self.users = {u.openid or u.phone: u for u in self.session.scalars(select(User))}
        self.dispatcher = self.users[_dispatcher()]
        configured = supply.providers()
        self.suppliers = {name: Supplier(name, p.channel, p.label)
                          for name, p in configured.items() if p.takes_orders}
        self.quoting = {**{n: p for n, p in configured.items() if not p.takes_orders},
                        **self.suppliers}
        self.deadline = float(current_app.config["QUOTE_DEADLINE_SECONDS"])
        self.trip_ids: list[int] = []

    # --- the month ---------------------------------------------------------------------

    def run(self) -> None:
        """Play every plan's story, then mark what it made."""
        self._in_service_since_last_year()
        stories = [self._story(plan, unit_key, self.users[applicant], depart, n)
                   for n, (plan, unit_key, applicant, depart) in enumerate(self._laid_out())]
        if self.partner is not None:
            stories += [self._visit(plan, depart, k, len(stories) + k)
                        for k, (plan, depart) in enumerate(self._visits_laid_out())]
        _play(stories)
        self._station()
        self._mark()
        self.session.flush()

    def _laid_out(self) -> Iterator[tuple[Plan, str, str, datetime]]:
        """Each plan with its paying unit, applicant and departure, in a fixed interleaved
        order over the month's weekdays; every supplier serves every unit in turn."""
        units = list(ORIGINS)
        per_supplier: dict[str, int] = {}
        order = sorted(range(len(PLANS)), key=lambda i: (i * 7) % len(PLANS))
        for slot, i in enumerate(order):
            plan = PLANS[i]
            k = per_supplier[plan.supplier] = per_supplier.get(plan.supplier, -1) + 1
            unit_key = units[k % len(units)]
            travellers = _travellers(unit_key)
            applicant = travellers[k // len(units) % len(travellers)]
            day = self.weekdays[slot * len(self.weekdays) // len(PLANS)]
            while not self._fits(plan, _at(day, plan.start), slot):
                day -= timedelta(days=3 if day.weekday() == 0 else 1)
            yield plan, unit_key, applicant, _at(day, plan.start)

    def _started(self, plan: Plan, depart: datetime, n: int) -> datetime:
        """When the car actually leaves (a few minutes after the planned departure)."""
        late = 5 + n % 10 if self._channel(plan) == Channel.FLEET else n % 12
        return depart + timedelta(minutes=late)

    def _fits(self, plan: Plan, depart: datetime, n: int) -> bool:
        """The trip finishes within the month, and its story is over by now."""
        finished = self._started(plan, depart, n) + timedelta(hours=plan.hours)
        return (finished + timedelta(hours=1) < self.month_end
                and finished + _settled_after(plan, n) < self.now)

    # --- one trip ----------------------------------------------------------------------

    def _story(self, plan: Plan, unit_key: str, applicant: User, depart: datetime,
               n: int) -> Iterator[datetime]:
        s = self.session
        yield (at := depart - CREATED_BEFORE)
        trip_id = trips.create_trip(s, actor=applicant, bounds=trips.city_bounds(),
                                    data=self._request(plan, unit_key, applicant, depart)).id
        self.trip_ids.append(trip_id)
        yield (at := at + QUOTE_AFTER)
        s.commit()  # the quote use case ends the transaction before it calls the suppliers
        offer = self._choose(plan, quotes.request_quotes(
            s, actor=applicant, trip_id=trip_id, providers=self.quoting,
            route=supply.route_estimator(), deadline=self.deadline))
        yield (at := at + SUBMIT_AFTER)
        approvals.submit_trip(s, actor=applicant, trip=s.get(Trip, trip_id), offer_id=offer.id)
        while (task := self._pending_task(trip_id)) is not None:
            yield (at := at + DECIDE_AFTER)
            approvals.decide(s, actor=task.assignee, task_id=task.id, approve=True,
                             comment="同意")
        started = self._started(plan, depart, n)
        finished = started + timedelta(hours=plan.hours)
        if self._channel(plan) == Channel.FLEET:
            yield from self._fleet_run(plan, trip_id, at + ASSIGN_AFTER, started, finished, n)
        else:
            yield from self._provider_order(plan, trip_id, at + WORKER_TICK, started, finished)
        yield from self._close(plan, applicant, trip_id, finished, n)

    # --- a partner city's visitors ---------------------------------------------------------

    def _visits_laid_out(self) -> Iterator[tuple[Plan, datetime]]:
        """Each visit on a workday spread over the month, finished well before its end and
        before now."""
        calendar = PrcCalendar()
        days = [d for d in self.weekdays if calendar.verdict(d).workday]
        for k, plan in enumerate(VISITS):
            i = (2 * k + 1) * len(days) // (2 * len(VISITS))
            while i >= 0:
                depart = _at(days[i], plan.start)
                finished = depart + timedelta(minutes=15) + timedelta(hours=plan.hours)
                if finished + timedelta(hours=1) < min(self.month_end, self.now):
                    break
                i -= 1
            else:
                raise RuntimeError(f"demo history: no day for visit {k}")
            yield plan, depart

    def _visit(self, plan: Plan, depart: datetime, k: int, n: int) -> Iterator[datetime]:
        """The partner orders (two days ahead), our fleet serves, the bill goes back."""
        s = self.session
        yield (at := depart - CREATED_BEFORE)
        s.commit()  # our fleet quotes the order in a session of its own
        names = [VISIT_ARRIVAL, plan.place, VISIT_ARRIVAL]
        planned = timedelta(minutes=30 * -(-timedelta(hours=plan.hours) // timedelta(minutes=30)))
        name, phone = VISITORS[k % len(VISITORS)]
        code = self.partner.code.upper()
        order, _ = inbound.place(s, self.partner, {
            "stops": [{"name": x, "lat": PLACES[x][0], "lng": PLACES[x][1]} for x in names],
            "depart_at": depart, "return_at": depart + planned, "passengers": plan.passengers,
            "vehicle_class": plan.vehicle_class,
            "order_ref": f"{code}-{clock.local(depart):%Y%m%d}-{k + 1:02d}",
            "approval_ref": f"{code}-SP-{clock.local(depart):%Y%m}{k + 1:03d}",
            "contact": {"name": name, "phone": phone}})
        self.trip_ids.append(order.trip_id)
        started = depart + timedelta(minutes=5 + n % 10)
        yield from self._fleet_run(plan, order.trip_id, at + ASSIGN_AFTER, started,
                                   started + timedelta(hours=plan.hours), n)

    def _request(self, plan: Plan, unit_key: str, applicant: User, depart: datetime) -> dict:
        """What the applicant fills in (as the create-trip request carries it)."""
        origin = ORIGINS[unit_key]
        place = plan.place
        if place == origin:  # a plan laid on the unit at that very place goes to the city centre
            place = "市行政中心" if origin != "市行政中心" else "武进区政府"
        one_way = self._channel(plan) == Channel.RIDEHAIL
        names = [origin, place] + ([] if one_way else [origin])
        planned = timedelta(hours=plan.planned_hours or plan.hours)
        planned = timedelta(minutes=30 * -(-planned // timedelta(minutes=30)))
        return {"purpose": {"category": plan.purpose,
                            "text": f"{PURPOSES[plan.purpose]}（{MARK}）"},
                "passengers": [{"name": applicant.name, "phone": applicant.phone}]
                + [{"name": f"随行人员{i}"} for i in range(1, plan.passengers)],
                "stops": [{"name": n, "lat": PLACES[n][0], "lng": PLACES[n][1]} for n in names],
                "depart_at": depart, "return_at": depart + planned,
                "vehicle_class": plan.vehicle_class}

    def _channel(self, plan: Plan) -> str:
        return self.quoting[plan.supplier].channel

    @staticmethod
    def _choose(plan: Plan, result: quotes.QuoteResult) -> Offer:
        """The applicant picks the planned supplier's offer of the planned class (and tier)."""
        for offer in result.offers:
            if (offer.provider == plan.supplier and offer.vehicle_class == plan.vehicle_class
                    and (offer.channel != Channel.RIDEHAIL or offer.extra["tier"] == plan.tier)):
                return offer
        raise RuntimeError(f"demo history: no {plan.supplier} {plan.vehicle_class} offer for "
                           f"trip {result.trip.id}: {result.providers}")

    def _pending_task(self, trip_id: int) -> ApprovalTask | None:
        return self.session.scalars(select(ApprovalTask).where(
            ApprovalTask.trip_id == trip_id, ApprovalTask.state == TaskState.PENDING)
            .order_by(ApprovalTask.id).limit(1)).first()

    def _fleet_run(self, plan: Plan, trip_id: int, assign_at: datetime, started: datetime,
                   finished: datetime, n: int) -> Iterator[datetime]:
        s = self.session
        yield assign_at
        assignment = dispatching.assign(s, actor=self.dispatcher, trip_id=trip_id)
        driver = s.get(User, assignment.driver.user_id)
        yield started
        run = driving.start_trip(s, actor=driver, trip_id=trip_id,
                                  odometer_km=assignment.vehicle.odometer_km
                                  + Decimal(plan.odometer_gap))
        yield finished
        estimated = s.get(Trip, trip_id).est_distance_km
        km = _one_decimal(estimated * Decimal(plan.factor) + Decimal(3 + n % 7))
        driving.finish_trip(s, actor=driver, trip_id=trip_id, report=driving.FinishReport(
            odometer_km=run.start_odometer_km + km, tolls=Decimal(plan.tolls),
            parking=Decimal(plan.parking), lodging=Decimal(plan.lodging),
            waiting_minutes=plan.waiting))

    def _provider_order(self, plan: Plan, trip_id: int, book_at: datetime, started: datetime,
                        finished: datetime) -> Iterator[datetime]:
        yield book_at
        self._book_due()
        yield started - ASSIGNED_BEFORE[self._channel(plan)]
        self._callback(trip_id, "assigned")
        yield started
        self._callback(trip_id, "in_trip")
        yield finished
        self._callback(trip_id, "completed", *self._bill(plan, trip_id))

    def _book_due(self) -> None:
        """One run of the worker's booking job, the companies answering in-process."""
        now = clock.now()
        booking.open_orders(self.session, now)
        for claim in booking.claim_due(self.session, now):
            booking.record(self.session, claim, self.suppliers[claim.provider].book(claim.request),
                          now)

    def _callback(self, trip_id: int, state: str, bill: tuple[FeeLine, ...] = (),
                  actual_km: Decimal | None = None) -> None:
        row = self.session.scalar(select(ProviderOrder).where(ProviderOrder.trip_id == trip_id))
        order = self.suppliers[row.provider].callback(row, state, bill=bill, actual_km=actual_km)
        callbacks.apply_callback(self.session, row.provider, order, clock.now())

    def _bill(self, plan: Plan, trip_id: int) -> tuple[tuple[FeeLine, ...], Decimal | None]:
        """The company's final bill (and the km a rental bill is on), at finish."""
        trip = self.session.get(Trip, trip_id)
        factor = Decimal(plan.factor)
        actual_km = _one_decimal(trip.est_distance_km * factor)
        if self._channel(plan) == Channel.RIDEHAIL:
            minutes = int((trip.est_duration_min * factor).to_integral_value(ROUND_HALF_UP))
            return _ride_fare(RIDE_TIERS[plan.tier], actual_km, minutes), None
        ceiling = engine.rental_ceiling(
            tariff_in_force(self.session, TariffKind.RENTAL, trip.depart_at),
            plan.vehicle_class, trip.depart_at, clock.now(), actual_km)
        amount = round_money(ceiling * Decimal(plan.bill_share))
        return (FeeLine("rental", "包车费用（含司机）", amount),), actual_km

    def _close(self, plan: Plan, applicant: User, trip_id: int, finished: datetime,
               n: int) -> Iterator[datetime]:
        s = self.session
        settled_at = finished + _settled_after(plan, n)
        if plan.auto_confirmed:
            yield settled_at
            passenger.auto_confirm_due(s, clock.now())
            return
        if plan.dispute:
            yield finished + DISPUTE_AFTER
            passenger.dispute(s, actor=applicant, trip_id=trip_id, reason=plan.dispute.reason)
            yield finished + RESOLVE_AFTER
            passenger.resolve_dispute(s, actor=self.dispatcher, trip_id=trip_id,
                                     resolution=plan.dispute.resolution,
                                     correction=plan.dispute.correction)
        yield settled_at
        passenger.confirm(s, actor=applicant, trip_id=trip_id)

    # --- the fleet ledger ----------------------------------------------------------------

    def _in_service_since_last_year(self) -> None:
        """The demo's vehicles have been in service since 1 January of last year (the ledger
        date the utilisation report counts days from)."""
        since = _at(date(clock.local_date(self.now).year - 1, 1, 1), "00:00")
        for vehicle in self.session.scalars(select(Vehicle)):
            vehicle.created_at = since

    def _station(self) -> None:
        """The platform admin stations two pooled cars at district units (派驻), so the
        utilisation report has stationed vehicles (unused this year: recall candidates)
        and the NEV share differs by district."""
        admin = next(u for u in self.users.values() if u.has_role(Role.ADMIN)
                     and u.unit.parent_id is None)
        units = {u.name: u for u in self.session.scalars(select(Unit))}
        cars = list(self.session.scalars(select(Vehicle).where(
            Vehicle.vehicle_class == "sedan").order_by(Vehicle.id.desc())))
        for name, nev in STATIONED:
            car = next(v for v in cars if v.pooled and v.nev == nev)
            admin_service.update_vehicle(self.session, actor=admin, vehicle=car, data={
                "pooled": False, "unit_id": units[name].id})

    # --- afterwards --------------------------------------------------------------------

    def _mark(self) -> None:
        """Mark the trips' events as demo history; the approval messages queued for them
        (every queued message: the database was freshly seeded) stay unsent."""
        for trip in self.session.scalars(select(Trip).where(Trip.id.in_(self.trip_ids))
                                         .options(selectinload(Trip.events))):
            for event in trip.events:
                event.comment = f"{event.comment}（{MARK}）" if event.comment else MARK
        for message in self.session.scalars(select(OutboxMessage).where(
                OutboxMessage.state == OutboxState.PENDING)):
            message.state = OutboxState.SKIPPED
            message.last_error = "demo history: decided before the demo started"
        for callback in self.session.scalars(select(PartnerCallback).where(
                PartnerCallback.state == CallbackState.PENDING)):
            callback.state = CallbackState.FAILED
            callback.last_error = "demo history: not sent, the partner's side was not played"


def _play(stories: list[Iterator[datetime]]) -> None:
    """Run the stories' steps in time order, the app clock set to each step's time."""
    queue = [(next(story), seq, story) for seq, story in enumerate(stories)]
    heapq.heapify(queue)
    while queue:
        at, seq, story = heapq.heappop(queue)
        clock.set_now(at)
        following = next(story, None)
        if following is None:
            continue
        if following < at:
            raise RuntimeError(f"demo history: story {seq} goes back from {at} to {following}")
        heapq.heappush(queue, (following, seq, story))


def seed_demo_with_history(session, *, now: datetime | None = None,
                           partner: Callable[..., Partner | None] | None = None) -> bool:
    """Load the demo data (app/seed.py) and last month's trips on it, relative to ``now``
    (the app clock by default); False when data existed already (nothing is added).
    ``partner``, called with the session once the demo data is in, registers a partner
    city and returns it: its visitors' trips (``VISITS``) join the month.

    Commits the demo data first: the story's use cases run in transactions of their own.
    """
    if not seed.seed_demo(session):
        return False
    registered = partner(session) if partner is not None else None
    session.commit()
    now = clock.ensure_aware(now or clock.now())
    with clock.restored():
        _History(session, now, registered).run()
    return True


def summary(session, now: datetime) -> tuple[str, int]:
    """(previous period, confirmed charges finished in it): what finance can settle now."""
    first, end = previous_month(now)
    start_at, end_at = _at(first, "00:00"), _at(end, "00:00")
    count = session.scalar(select(func.count(Charge.id)).where(
        Charge.final.is_(True), Charge.finished_at >= start_at, Charge.finished_at < end_at))
    return first.strftime("%Y-%m"), int(count or 0)
