"""Quote use cases: fan out to every enabled supply provider under one deadline, assess
the offers against policy, rank and store them as the trip's new quote round."""
from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Callable, Mapping

from sqlalchemy import func, select

from app import clock, db
from app.accounts.models import User, VehicleClass
from app.errors import IllegalTransition, NotFound
from app.quotes import policy
from app.quotes.models import QuoteRound
from app.quotes.route import full_estimate
from app.trips.models import Channel, Offer, Trip, TripState
from app.trips.service import get_own
from providers import base
from providers.route import RouteEstimate, RouteEstimator

log = logging.getLogger(__name__)

STATUS_MESSAGES = {"timeout": "响应超时", "error": "服务暂不可用"}


@dataclass
class ProviderOutcome:
    """How one provider answered a fan-out: ``ok``, ``timeout``, ``error`` or ``not_applicable``."""

    name: str
    channel: str
    status: str
    latency_ms: int
    offers: list[base.ProviderOffer] = field(default_factory=list)
    message: str | None = None

    def as_dict(self) -> dict:
        out = {"name": self.name, "channel": self.channel, "status": self.status,
               "latency_ms": self.latency_ms}
        if self.message:
            out["message"] = self.message
        return out


@dataclass
class QuoteResult:
    trip: Trip
    round: QuoteRound
    offers: list[Offer]
    providers: list[dict]


def quote_request_for(trip: Trip, route: RouteEstimator,
                      rules: policy.QuotePolicy = policy.DEFAULT_POLICY, *,
                      estimate: RouteEstimate | None = None) -> base.QuoteRequest:
    """The provider-neutral facts of ``trip`` (plain data, safe to hand to other threads);
    ``estimate`` is the trip's full route when already known, else asked of ``route``."""
    stops = tuple(base.Stop(s["name"], float(s["lat"]), float(s["lng"])) for s in trip.stops)
    estimate = estimate or full_estimate(trip, route)
    requested = trip.vehicle_class.value if trip.vehicle_class else None
    return base.QuoteRequest(
        trip_ref=str(trip.id), stops=stops, depart_at=trip.depart_at, return_at=trip.return_at,
        passengers=trip.passenger_count, vehicle_class=requested, est_km=estimate.km,
        est_minutes=estimate.minutes, cross_region=trip.cross_region,
        vehicle_classes=policy.classes_to_quote(trip.passenger_count, requested, rules))


def _ask(provider: base.SupplyProvider, request: base.QuoteRequest) -> ProviderOutcome:
    started = time.monotonic()

    def outcome(status: str, offers=(), message: str | None = None) -> ProviderOutcome:
        return ProviderOutcome(provider.name, provider.channel, status,
                               round((time.monotonic() - started) * 1000), list(offers), message)

    try:
        return outcome("ok", provider.quote(request))
    except base.NotApplicable as exc:
        return outcome("not_applicable", message=str(exc))
    except base.ProviderTimeout as exc:
        log.warning("quote from %s timed out: %s", provider.name, exc)
        return outcome("timeout", message=STATUS_MESSAGES["timeout"])
    except Exception as exc:  # noqa: BLE001 - one broken provider never fails the others
        log.warning("quote from %s failed: %r", provider.name, exc)
        return outcome("error", message=STATUS_MESSAGES["error"])


# The fan-out's threads, kept between requests: starting four threads per quote cost about
# 30 ms under load (each start waits for the new thread to take the GIL), most of the time
# the quote spent beyond its slowest provider. Hung calls hold a worker until their own
# timeout; with every worker busy a provider's call waits in the queue and, past the
# deadline, counts as a timeout like any late answer.
QUOTE_WORKERS = 64
_POOL = ThreadPoolExecutor(max_workers=QUOTE_WORKERS, thread_name_prefix="quote")


def fan_out(providers: Mapping[str, base.SupplyProvider], request: base.QuoteRequest, *,
            deadline: float) -> list[ProviderOutcome]:
    """Ask every provider at once; whatever has not answered by ``deadline`` seconds is a
    timeout. Never waits for the stragglers: their threads finish (or time out) on their own."""
    if not providers:
        return []
    started = time.monotonic()
    futures = {name: _POOL.submit(_ask, provider, request) for name, provider in providers.items()}
    wait(futures.values(), timeout=deadline)
    for future in futures.values():
        future.cancel()  # one still queued (every worker busy with a hung call) is dropped
    late_ms = round((time.monotonic() - started) * 1000)
    outcomes = []
    for name, future in futures.items():
        if future.done() and not future.cancelled():
            outcomes.append(future.result())
        else:
            outcomes.append(ProviderOutcome(name, providers[name].channel, "timeout", late_ms,
                                            message=STATUS_MESSAGES["timeout"]))
    return outcomes


def _facts(offer: base.ProviderOffer) -> policy.OfferFacts:
    return policy.OfferFacts(channel=offer.channel, vehicle_class=offer.vehicle_class,
                             seats=offer.seats, price=offer.price, nev=offer.nev,
                             available=offer.available, tier=offer.extra.get("tier"))


def request_quotes(session, *, actor: User, trip_id: int,
                   providers: Mapping[str, base.SupplyProvider]
                   | Callable[[base.QuoteRequest], Mapping[str, base.SupplyProvider]],
                   route: RouteEstimator,
                   deadline: float, rules: policy.QuotePolicy = policy.DEFAULT_POLICY
                   ) -> QuoteResult:
    """Quote a draft or quoted trip: a new round of ranked offers; the trip becomes ``quoted``.

    The provider calls happen outside any transaction (SQLite's writer lock is not held
    while we wait for the network); the write phase starts with ``db.begin_write`` and
    re-checks the trip, which may have moved on meanwhile.
    """
    trip = get_own(session, actor, trip_id)
    _check_quotable(trip)
    request = quote_request_for(trip, route, rules)
    if callable(providers):  # chosen for the trip (e.g. a partner city serving its destination)
        providers = providers(request)
    session.rollback()  # end the read transaction before the network calls

    outcomes = fan_out(providers, request, deadline=deadline)

    db.begin_write(session)
    trip = get_own(session, actor, trip_id)
    _check_quotable(trip)
    now = clock.now()
    trip_facts = policy.QuotedTrip(request.passengers, request.vehicle_class, request.depart_at,
                                   request.return_at, request.est_km)
    offered = [offer for outcome in outcomes for offer in outcome.offers]
    assessed = [policy.assess(_facts(offer), trip_facts, now, rules) for offer in offered]
    best = policy.recommended(assessed)
    number = (session.scalar(select(func.max(QuoteRound.round))
                             .where(QuoteRound.trip_id == trip.id)) or 0) + 1
    rows = []
    for position, i in enumerate(policy.rank(assessed), start=1):
        offer, facts = offered[i], assessed[i]
        rows.append(Offer(
            trip_id=trip.id, channel=Channel(offer.channel), provider=offer.provider,
            product=offer.product, vehicle_class=VehicleClass(offer.vehicle_class),
            seats=offer.seats,
            nev=offer.nev, price=offer.price,
            breakdown=[line.as_dict() for line in offer.breakdown], available=offer.available,
            expires_at=offer.expires_at, compliant=facts.compliant, reasons=list(facts.reasons),
            recommended=i == best, rank=position, quote_round=number, extra=dict(offer.extra)))
    statuses = [outcome.as_dict() for outcome in outcomes]
    quote_round = QuoteRound(trip_id=trip.id, round=number, requested_by_id=actor.id,
                             requested_at=now, deadline_ms=round(deadline * 1000),
                             est_distance_km=request.est_km, est_duration_min=request.est_minutes,
                             providers=statuses)
    session.add_all([quote_round, *rows])
    trip.est_distance_km = request.est_km
    trip.est_duration_min = request.est_minutes
    trip.transition(session, TripState.QUOTED, actor_id=actor.id,
                    data={"round": number, "offers": len(rows)})
    session.flush()
    return QuoteResult(trip, quote_round, rows, statuses)


def latest_quotes(session, *, actor: User, trip_id: int) -> QuoteResult:
    """The trip's most recent quote round, as it was answered."""
    trip = get_own(session, actor, trip_id)
    quote_round = session.scalar(select(QuoteRound).where(QuoteRound.trip_id == trip.id)
                                 .order_by(QuoteRound.round.desc()).limit(1))
    if quote_round is None:
        raise NotFound("该行程尚未询价", code="not_quoted")
    # Rank 0: an offer re-quoted at booking (app.orders.requote), not part of the round.
    rows = session.scalars(select(Offer).where(Offer.trip_id == trip.id,
                                               Offer.quote_round == quote_round.round,
                                               Offer.rank >= 1)
                           .order_by(Offer.rank)).all()
    return QuoteResult(trip, quote_round, list(rows), quote_round.providers)


def _check_quotable(trip: Trip) -> None:
    if not trip.quotable:
        raise IllegalTransition("行程已提交或已结束，不能重新询价",
                                errors={"state": trip.state.value})


def provider_offer(offer: Offer) -> base.ProviderOffer:
    """A stored offer as the provider contract's ProviderOffer (what ``book`` needs)."""
    return base.ProviderOffer(
        provider=offer.provider, channel=offer.channel.value, product=offer.product,
        vehicle_class=offer.vehicle_class.value, seats=offer.seats, nev=offer.nev, price=offer.price,
        breakdown=tuple(base.FeeLine.from_dict(line) for line in offer.breakdown),
        expires_at=offer.expires_at, available=offer.available, extra=dict(offer.extra))
