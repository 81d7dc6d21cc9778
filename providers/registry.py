"""The enabled supply providers, built from configuration alone.

``OTB_PROVIDERS_JSON`` is either empty (the defaults below: the fleet, one ride-hailing
company and two rental companies on the sandbox ports), a JSON object of per-name
overrides merged into the defaults (``{"rental-b": {"enabled": false}}``,
``{"ridehail": {"base_url": "https://open.example.com", "secret": "..."}}``), or a JSON
list that replaces them. Each entry:

    {"name": "rental-a", "kind": "fleet|ridehail|rental", "enabled": true,
     "label": "常州租车", "base_url": "...", "app_key": "...", "secret": "...",
     "connect_timeout": 0.5, "read_timeout": 3.0, "retries": 2}

A ride-hailing entry may name its wire protocol (``providers.protocol``): ``"protocol":
"didi"`` (or a mapping overriding one, e.g. another signer recipe) builds the
DiDi-Enterprise-shaped adapter, with ``app_key`` as its client_id, ``secret`` as its
client_secret and ``sign_key`` the signing key; ``products`` maps its require_levels to our
vehicle class, seats, tier and new-energy flag (``{"600": {"name": "快车", "vehicle_class":
"sedan", "seats": 4, "tier": "economy", "nev": true}}``) and ``fee_kinds`` its fee items
to our fee kinds. The default ``didi`` entry is disabled (the demo enables it): enabling it
adds its offers to every quote.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any, Callable

from providers.base import SupplyProvider
from providers.didi import DidiRideHailProvider
from providers.fleet import Availability, FleetProvider, PriceEstimator
from providers.http import INVALID_SIGN_CODE, SignedClient
from providers.protocol import OTB, protocol_from
from providers.rental import RentalProvider
from providers.ridehail import RideHailProvider

SANDBOX_PORT_BASE = 8101


@dataclass(frozen=True)
class ProviderConfig:
    name: str
    kind: str
    enabled: bool = True
    label: str = ""
    base_url: str = ""
    app_key: str = ""
    secret: str = ""
    connect_timeout: float = 0.5
    read_timeout: float = 3.0
    retries: int = 2
    sandbox_factor: str = ""  # the rental sandbox's price factor (sandboxes only)
    protocol: Any = ""  # a providers.protocol name or override mapping; "" is ours
    sign_key: str = ""  # the signing key of a protocol that signs with one (DiDi)
    products: Any = None  # require_level -> {name, vehicle_class, seats, tier, nev}
    fee_kinds: Any = None  # provider fee item -> our fee kind


DEFAULTS = (
    ProviderConfig("fleet", "fleet", label="公车平台"),
    ProviderConfig("ridehail", "ridehail", label="T3出行",
                   base_url=f"http://127.0.0.1:{SANDBOX_PORT_BASE + 1}",
                   app_key="otb-ridehail", secret="sandbox-ridehail-secret"),
    ProviderConfig("rental-a", "rental", label="常州交运租车",
                   base_url=f"http://127.0.0.1:{SANDBOX_PORT_BASE + 2}",
                   app_key="otb-rental-a", secret="sandbox-rental-a-secret",
                   sandbox_factor="0.80"),
    ProviderConfig("rental-b", "rental", label="龙城汽车租赁",
                   base_url=f"http://127.0.0.1:{SANDBOX_PORT_BASE + 3}",
                   app_key="otb-rental-b", secret="sandbox-rental-b-secret",
                   sandbox_factor="0.84"),
    ProviderConfig("didi", "ridehail", enabled=False, label="滴滴企业版",
                   base_url=f"http://127.0.0.1:{SANDBOX_PORT_BASE + 4}", protocol="didi",
                   app_key="otb-didi-client", secret="sandbox-didi-secret",
                   sign_key="sandbox-didi-sign-key"),
)
_FIELDS = {f.name for f in fields(ProviderConfig)}
# Disabled by default, enabled in the demo (``make run``).
DEMO_ENABLED = ("didi",)


def _entry(data: dict[str, Any], base: ProviderConfig | None = None) -> ProviderConfig:
    unknown = set(data) - _FIELDS
    if unknown:
        raise ValueError(f"unknown provider setting(s): {', '.join(sorted(unknown))}")
    return replace(base, **data) if base else ProviderConfig(**data)


def load_config(text: str | None) -> list[ProviderConfig]:
    """Every configured provider (enabled or not), in order."""
    if not text or not text.strip():
        return list(DEFAULTS)
    data = json.loads(text)
    if isinstance(data, list):
        return [_entry(item) for item in data]
    if not isinstance(data, dict):
        raise ValueError("PROVIDERS_JSON must be a JSON list or object")
    by_name = {c.name: c for c in DEFAULTS}
    for name, override in data.items():
        by_name[name] = _entry(override, by_name.get(name)) if name in by_name \
            else _entry({"name": name, **override})
    return list(by_name.values())


def client_for(cfg: ProviderConfig) -> SignedClient:
    protocol = protocol_from(cfg.protocol)
    return SignedClient(cfg.base_url, cfg.app_key, cfg.secret, provider=cfg.name,
                        connect_timeout=cfg.connect_timeout, read_timeout=cfg.read_timeout,
                        retries=cfg.retries, protocol=protocol, sign_key=cfg.sign_key,
                        signature_codes=frozenset({INVALID_SIGN_CODE}) if protocol is OTB
                        else None)


def _is_didi(cfg: ProviderConfig) -> bool:
    return cfg.kind == "ridehail" and protocol_from(cfg.protocol).name == "didi"


def build_providers(configs: list[ProviderConfig], *, fleet_availability: Availability,
                    fleet_price: PriceEstimator,
                    now: Callable[[], datetime] | None = None) -> dict[str, SupplyProvider]:
    """The enabled providers by name; the fleet's collaborators come from the app."""
    built: dict[str, SupplyProvider] = {}
    for cfg in configs:
        if not cfg.enabled:
            continue
        if cfg.kind == "fleet":
            built[cfg.name] = FleetProvider(cfg.name, availability=fleet_availability,
                                            price=fleet_price, label=cfg.label or "公车平台",
                                            now=now)
        elif _is_didi(cfg):
            built[cfg.name] = DidiRideHailProvider(
                cfg.name, client_for(cfg), label=cfg.label or "滴滴企业版",
                products=cfg.products, fee_kinds=cfg.fee_kinds, now=now)
        elif cfg.kind == "ridehail":
            built[cfg.name] = RideHailProvider(cfg.name, client_for(cfg),
                                               label=cfg.label or "网约车")
        elif cfg.kind == "rental":
            built[cfg.name] = RentalProvider(cfg.name, client_for(cfg),
                                             label=cfg.label or "租赁公司")
        else:
            raise ValueError(f"unknown provider kind {cfg.kind!r} for {cfg.name}")
    return built


def sandbox_apps(configs: list[ProviderConfig] = DEFAULTS) -> dict[str, Any]:
    """Sandbox factories for the configured HTTP providers, matching their keys."""
    from providers.sandbox import didi, rental, ridehail

    apps: dict[str, Any] = {}
    for cfg in configs:
        if _is_didi(cfg):
            apps[cfg.name] = lambda cfg=cfg: didi.create_app(cfg.app_key, cfg.secret,
                                                             cfg.sign_key)
        elif cfg.kind == "ridehail":
            apps[cfg.name] = lambda cfg=cfg: ridehail.create_app(cfg.app_key, cfg.secret)
        elif cfg.kind == "rental":
            apps[cfg.name] = lambda cfg=cfg: rental.create_app(
                cfg.app_key, cfg.secret, price_factor=cfg.sandbox_factor or "0.85",
                company=cfg.label)
    return apps


def settings_for_sandboxes(servers: dict[str, Any]) -> dict[str, str]:
    """``PROVIDERS_JSON`` pointing each default HTTP provider at its running sandbox."""
    return {"PROVIDERS_JSON": json.dumps(
        {name: {"base_url": servers[name].url} for name in sandbox_apps() if name in servers})}


def sandbox_settings(servers: dict[str, Any], webhook_base: str) -> dict[str, str]:
    """As ``settings_for_sandboxes``, make each sandbox call back ``<webhook_base>/<name>``,
    and enable the providers the demo adds (``DEMO_ENABLED``: the DiDi-shaped one)."""
    import requests

    for name in sandbox_apps():
        if name in servers:
            requests.post(f"{servers[name].url}/__sandbox/config",
                          json={"webhook_url": f"{webhook_base}/{name}"}, timeout=5)
    settings = json.loads(settings_for_sandboxes(servers)["PROVIDERS_JSON"])
    for name in DEMO_ENABLED:
        if name in settings:
            settings[name]["enabled"] = True
    return {"PROVIDERS_JSON": json.dumps(settings)}
