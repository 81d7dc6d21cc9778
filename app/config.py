"""Settings from the environment, all under the ``OTB_`` prefix (plus PORT and DATABASE_URL)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields

from providers import registry

# Public development defaults: only the embedded default (SANDBOX_MODE) may run on them.
PUBLIC_JWT_SECRET = "dev-only-insecure-secret-change-me-in-production"
SANDBOX_WECHAT_SECRET = "wx-sandbox-secret"
SANDBOX_ROUTE_KEY = "sandbox-gaode-key"  # providers/sandbox/gaode.py
MIN_JWT_SECRET_LENGTH = 32


class InsecureConfig(RuntimeError):
    """Outside sandbox mode, a secret is missing or is one published in this repository."""


def _env(name: str, default: str) -> str:
    return os.environ.get(f"OTB_{name}", default)


@dataclass
class Config:
    DATABASE_URL: str = field(
        default_factory=lambda: os.environ.get("DATABASE_URL", "sqlite:///var/otb.sqlite")
    )
    # The embedded default (``make run``, the tests): the sandboxes stand in for WeChat and the
    # providers, so the public development secrets are accepted. Anywhere else (gunicorn
    # wsgi:app, the worker, the CLI) the app refuses to start without real secrets.
    SANDBOX_MODE: bool = field(
        default_factory=lambda: _env("SANDBOX_MODE", "").lower() in ("1", "true", "yes"))
    JWT_SECRET: str = field(default_factory=lambda: _env("JWT_SECRET", PUBLIC_JWT_SECRET))
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
    WECHAT_SECRET: str = field(default_factory=lambda: _env("WECHAT_SECRET", SANDBOX_WECHAT_SECRET))
    WECHAT_TIMEOUT_SECONDS: float = field(
        default_factory=lambda: float(_env("WECHAT_TIMEOUT_SECONDS", "3"))
    )
    WECHAT_APPROVAL_TEMPLATE_ID: str = field(
        default_factory=lambda: _env("WECHAT_APPROVAL_TEMPLATE_ID", "tmpl-approval-task")
    )
    # The other subscription-message templates (app/notifications/templates.py), by key.
    WECHAT_TRIP_RESULT_TEMPLATE_ID: str = field(
        default_factory=lambda: _env("WECHAT_TRIP_RESULT_TEMPLATE_ID", "tmpl-trip-result"))
    WECHAT_VEHICLE_TEMPLATE_ID: str = field(
        default_factory=lambda: _env("WECHAT_VEHICLE_TEMPLATE_ID", "tmpl-vehicle-assigned"))
    WECHAT_CONFIRM_TEMPLATE_ID: str = field(
        default_factory=lambda: _env("WECHAT_CONFIRM_TEMPLATE_ID", "tmpl-trip-confirm"))
    WECHAT_DRIVER_TASK_TEMPLATE_ID: str = field(
        default_factory=lambda: _env("WECHAT_DRIVER_TASK_TEMPLATE_ID", "tmpl-driver-task"))
    WECHAT_VIOLATION_TEMPLATE_ID: str = field(
        default_factory=lambda: _env("WECHAT_VIOLATION_TEMPLATE_ID", "tmpl-violation-opened"))
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
    # A road-distance API in front of it: "gaode" (Gaode's driving-route API v3 at
    # ROUTE_BASE_URL with ROUTE_KEY; the straight lines when it fails) or "straight_line".
    ROUTE_PROVIDER: str = field(default_factory=lambda: _env("ROUTE_PROVIDER", "straight_line"))
    ROUTE_BASE_URL: str = field(
        default_factory=lambda: _env("ROUTE_BASE_URL", "https://restapi.amap.com"))
    ROUTE_KEY: str = field(default_factory=lambda: _env("ROUTE_KEY", ""))
    ROUTE_TIMEOUT_SECONDS: float = field(
        default_factory=lambda: float(_env("ROUTE_TIMEOUT_SECONDS", "1.5")))
    # Rate limits (flask-limiter): in memory by default, one process; several API nodes
    # share a store, e.g. OTB_RATELIMIT_STORAGE_URI=redis://redis:6379/0. Limits are
    # flask-limiter strings ("30 per minute;300 per hour"): sign-in per client IP,
    # quotes per user.
    RATELIMIT_STORAGE_URI: str = field(
        default_factory=lambda: _env("RATELIMIT_STORAGE_URI", "memory://"))
    RATELIMIT_LOGIN: str = field(default_factory=lambda: _env("RATELIMIT_LOGIN", "30 per minute"))
    RATELIMIT_QUOTES: str = field(default_factory=lambda: _env("RATELIMIT_QUOTES", "20 per minute"))
    # Partner platforms' signed API (/partner/v1/...): per partner, all its routes together.
    RATELIMIT_PARTNER: str = field(
        default_factory=lambda: _env("RATELIMIT_PARTNER", "600 per minute"))
    # Reverse proxies in front of the API that append to X-Forwarded-For: the client IP the
    # sign-in limit counts by is the address the outermost of them saw (0: the peer's).
    PROXY_COUNT: int = field(default_factory=lambda: int(_env("PROXY_COUNT", "0")))
    # Vehicle positions (SPEC §6.3). The positioning gateways' secrets, each sent as the
    # header Traccar's ``forward.header`` adds (``Authorization: Bearer <secret>``): the
    # demo's one in TRACCAR_TOKEN, more as a JSON object {"gateway name": "secret"}.
    TRACCAR_TOKEN: str = field(default_factory=lambda: _env("TRACCAR_TOKEN", ""))
    TRACCAR_GATEWAYS_JSON: str = field(default_factory=lambda: _env("TRACCAR_GATEWAYS_JSON", ""))
    # Whole months of fixes kept before the current one; partitions made this far ahead.
    POSITION_RETENTION_MONTHS: int = field(
        default_factory=lambda: int(_env("POSITION_RETENTION_MONTHS", "12")))
    POSITION_PARTITIONS_AHEAD: int = field(
        default_factory=lambda: int(_env("POSITION_PARTITIONS_AHEAD", "3")))
    # The group-commit writer of fixes (app/positions/writer.py): fixes waiting at most (more
    # are answered 503 at once), and how long a request waits for its batch's commit.
    POSITION_WRITER_QUEUE: int = field(
        default_factory=lambda: int(_env("POSITION_WRITER_QUEUE", "2000")))
    POSITION_WRITER_TIMEOUT_S: float = field(
        default_factory=lambda: float(_env("POSITION_WRITER_TIMEOUT_S", "10")))
    TESTING: bool = False

    @classmethod
    def from_mapping(cls, overrides: dict | None = None) -> "Config":
        cfg = cls()
        for key, value in (overrides or {}).items():
            setattr(cfg, key, value)
        return cfg

    def insecure_settings(self) -> list[str]:
        """What keeps these settings from running outside sandbox mode (English, for logs)."""
        problems = []
        if self.JWT_SECRET == PUBLIC_JWT_SECRET or len(self.JWT_SECRET) < MIN_JWT_SECRET_LENGTH:
            problems.append("OTB_JWT_SECRET is unset, the public development default or shorter "
                            f"than {MIN_JWT_SECRET_LENGTH} characters")
        if not self.WECHAT_SECRET or self.WECHAT_SECRET == SANDBOX_WECHAT_SECRET:
            problems.append("OTB_WECHAT_SECRET is unset or the sandbox's")
        if self.ROUTE_PROVIDER == "gaode" and self.ROUTE_KEY in ("", SANDBOX_ROUTE_KEY):
            problems.append("OTB_ROUTE_KEY is unset or the sandbox's (or set "
                            "OTB_ROUTE_PROVIDER=straight_line)")
        sandbox_secrets = {c.secret for c in registry.DEFAULTS if c.secret}
        for provider in registry.load_config(self.PROVIDERS_JSON):
            if provider.enabled and provider.kind != "fleet" and (
                    not provider.secret or provider.secret in sandbox_secrets):
                problems.append(f"provider {provider.name!r} has no secret or the sandbox's "
                                "(set it in OTB_PROVIDERS_JSON, or disable the provider)")
        return problems

    def require_real_secrets(self) -> None:
        """Raise ``InsecureConfig`` outside sandbox mode when a secret is not a real one."""
        problems = [] if self.SANDBOX_MODE else self.insecure_settings()
        if problems:
            raise InsecureConfig("refusing to start outside sandbox mode: " + "; ".join(problems)
                                 + " (OTB_SANDBOX_MODE=1 is for the embedded default only)")

    def as_flask(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}
