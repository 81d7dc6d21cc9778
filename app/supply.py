"""Supply providers and the route estimator as an app extension (core wiring).

``init_app`` is called once by ``create_app`` with the fleet's collaborators (its
availability and price come from the domains); the adapters are built from the app's
configuration (``PROVIDERS_JSON``) on first use and kept on the app. Domains ask for them
here: ``providers()`` for quoting, ``ordering(name)`` for the enabled provider that takes
orders and callbacks (``None`` for the fleet, a disabled or an unknown provider).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import Flask, current_app

from app import clock
from providers import base, registry
from providers.fleet import Availability, PriceEstimator
from providers.route import FallbackRoute, GaodeRoute, HaversineRoute, RouteEstimator

EXTENSION = "otb.supply"
ROUTE_EXTENSION = "otb.route"


@dataclass
class Supply:
    fleet_availability: Availability
    fleet_price: PriceEstimator
    built: dict[str, base.SupplyProvider] | None = None
    # Providers known from data rather than configuration (partner platforms): each source
    # is ``fn() -> {name: provider}``, asked on every use (it reads its own tables).
    sources: list = field(default_factory=list)


def init_app(app: Flask, *, fleet_availability: Availability,
             fleet_price: PriceEstimator) -> None:
    app.extensions[EXTENSION] = Supply(fleet_availability, fleet_price)


def _supply(app: Flask | None) -> Supply:
    return (app or current_app).extensions[EXTENSION]


def providers(app: Flask | None = None) -> dict[str, base.SupplyProvider]:
    """The enabled providers of this app by name, built once from its configuration."""
    app = app or current_app._get_current_object()
    supply = _supply(app)
    if supply.built is None:
        supply.built = registry.build_providers(
            registry.load_config(app.config["PROVIDERS_JSON"]),
            fleet_availability=supply.fleet_availability, fleet_price=supply.fleet_price,
            now=clock.now)
    return supply.built


def add_source(app: Flask, source) -> None:
    """Add providers built from data (``source() -> {name: provider}``), e.g. partner
    platforms registered by admins; a domain calls this in its ``init_app``."""
    _supply(app).sources.append(source)


def dynamic(app: Flask | None = None) -> dict[str, base.SupplyProvider]:
    """The providers of every data source, by name."""
    found: dict[str, base.SupplyProvider] = {}
    for source in _supply(app).sources:
        found.update(source())
    return found


def quoting(request: base.QuoteRequest, app: Flask | None = None
            ) -> dict[str, base.SupplyProvider]:
    """The providers to ask for ``request``: the configured ones, plus each data-source
    provider that serves the trip (a partner platform whose area holds its destination)."""
    chosen = dict(providers(app))
    for name, provider in dynamic(app).items():
        serves = getattr(provider, "serves", None)
        if serves is None or serves(request):
            chosen[name] = provider
    return chosen


def replace_providers(built: dict[str, base.SupplyProvider], app: Flask | None = None) -> None:
    """Use ``built`` as the enabled providers (configuration reloads, tests)."""
    _supply(app).built = built


def ordering(name: str, app: Flask | None = None) -> base.SupplyProvider | None:
    """The enabled provider ``name`` if it takes orders and callbacks, else None."""
    provider = providers(app).get(name)
    if provider is None and _supply(app).sources:
        provider = dynamic(app).get(name)
    return provider if provider is not None and provider.takes_orders else None


def route_estimator(app: Flask | None = None) -> RouteEstimator:
    """The configured route estimator: Gaode's driving route falling back to the straight
    lines (``ROUTE_PROVIDER=gaode``), or the straight lines alone. Built once per app."""
    app = app or current_app._get_current_object()
    built = app.extensions.get(ROUTE_EXTENSION)
    if built is None:
        cfg = app.config
        built = HaversineRoute(detour=float(cfg["ROUTE_DETOUR_FACTOR"]),
                               speed_kmh=float(cfg["ROUTE_SPEED_KMH"]))
        if cfg.get("ROUTE_PROVIDER") == "gaode":
            timeout = float(cfg["ROUTE_TIMEOUT_SECONDS"])
            built = FallbackRoute(GaodeRoute(cfg["ROUTE_BASE_URL"], cfg["ROUTE_KEY"],
                                             connect_timeout=min(0.5, timeout),
                                             read_timeout=timeout), built)
        elif cfg.get("ROUTE_PROVIDER", "straight_line") != "straight_line":
            raise ValueError(f"unknown ROUTE_PROVIDER {cfg['ROUTE_PROVIDER']!r}")
        app.extensions[ROUTE_EXTENSION] = built
    return built
