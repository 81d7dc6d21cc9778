"""Settings from the environment, all under the ``OTB_`` prefix (plus PORT and DATABASE_URL)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields


def _env(name: str, default: str) -> str:
    return os.environ.get(f"OTB_{name}", default)


@dataclass
class Config:
    DATABASE_URL: str = field(
        default_factory=lambda: os.environ.get("DATABASE_URL", "sqlite:///var/otb.sqlite")
    )
    JWT_SECRET: str = field(default_factory=lambda: _env("JWT_SECRET", "dev-only-insecure-secret-change-me-in-production"))
    JWT_ISSUER: str = field(default_factory=lambda: _env("JWT_ISSUER", "otb-backend"))
    JWT_AUDIENCE: str = field(default_factory=lambda: _env("JWT_AUDIENCE", "otb-miniprogram"))
    JWT_TTL_SECONDS: int = field(default_factory=lambda: int(_env("JWT_TTL_SECONDS", "7200")))
    BIND_TICKET_TTL_SECONDS: int = field(
        default_factory=lambda: int(_env("BIND_TICKET_TTL_SECONDS", "600"))
    )
    # The platform's own city: a stop outside it makes a trip cross-region.
    CITY_REGION_CODE: str = field(default_factory=lambda: _env("CITY_REGION_CODE", "320400"))
    # The city's bounding box "south,west,north,east" (Changzhou by default).
    CITY_BOUNDS: str = field(default_factory=lambda: _env("CITY_BOUNDS", "31.15,119.13,32.05,120.20"))
    WECHAT_BASE_URL: str = field(
        default_factory=lambda: _env("WECHAT_BASE_URL", "http://127.0.0.1:8101")
    )
    WECHAT_APPID: str = field(default_factory=lambda: _env("WECHAT_APPID", "wx-sandbox-appid"))
    WECHAT_SECRET: str = field(default_factory=lambda: _env("WECHAT_SECRET", "wx-sandbox-secret"))
    WECHAT_TIMEOUT_SECONDS: float = field(
        default_factory=lambda: float(_env("WECHAT_TIMEOUT_SECONDS", "3"))
    )
    WECHAT_APPROVAL_TEMPLATE_ID: str = field(
        default_factory=lambda: _env("WECHAT_APPROVAL_TEMPLATE_ID", "tmpl-approval-task")
    )
    WECHAT_MINIPROGRAM_STATE: str = field(
        default_factory=lambda: _env("WECHAT_MINIPROGRAM_STATE", "developer")
    )
    # JSON list of supply providers; see providers/registry.py. Empty means built-in defaults.
    PROVIDERS_JSON: str = field(default_factory=lambda: _env("PROVIDERS_JSON", ""))
    QUOTE_DEADLINE_SECONDS: float = field(
        default_factory=lambda: float(_env("QUOTE_DEADLINE_SECONDS", "1.5"))
    )
    # Route estimate: straight lines × detour factor at an average speed (providers/route.py).
    ROUTE_DETOUR_FACTOR: float = field(
        default_factory=lambda: float(_env("ROUTE_DETOUR_FACTOR", "1.3")))
    ROUTE_SPEED_KMH: float = field(default_factory=lambda: float(_env("ROUTE_SPEED_KMH", "40")))
    TESTING: bool = False

    @classmethod
    def from_mapping(cls, overrides: dict | None = None) -> "Config":
        cfg = cls()
        for key, value in (overrides or {}).items():
            setattr(cfg, key, value)
        return cfg

    def as_flask(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}
