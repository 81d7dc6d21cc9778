"""Who may send fixes: the positioning gateways (a secret each) and drivers' phones (a key
per vehicle, for OsmAnd, which has no authentication field)."""
from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Mapping

from app import audit
from app.accounts.models import User, Vehicle
from app.errors import Unauthorized
from app.positions.ingest import key_digest


def gateway_secrets(config: Mapping) -> dict[str, str]:
    """Gateway name → secret: ``TRACCAR_TOKEN`` (named ``default``) and
    ``TRACCAR_GATEWAYS_JSON``."""
    found = {}
    if config.get("TRACCAR_TOKEN"):
        found["default"] = config["TRACCAR_TOKEN"]
    if config.get("TRACCAR_GATEWAYS_JSON"):
        found.update({str(k): str(v) for k, v in json.loads(config["TRACCAR_GATEWAYS_JSON"]).items()
                      if v})
    return found


def authenticate_gateway(header: str, known: dict[str, str]) -> str:
    """The gateway whose secret ``Authorization: Bearer <secret>`` carries (each compared in
    constant time, all of them every time)."""
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("缺少定位网关凭证（Authorization: Bearer <secret>）",
                           code="gateway_unauthorized")
    match = None
    for name, secret in known.items():
        if hmac.compare_digest(token.encode(), secret.encode()):
            match = name
    if match is None:
        raise Unauthorized("定位网关凭证无效", code="bad_gateway_secret")
    return match


def new_device_key(session, *, actor: User, vehicle: Vehicle) -> str:
    """A fresh OsmAnd key for the vehicle's phone; only its SHA-256 is kept, so it is shown
    once. The previous key stops working."""
    key = secrets.token_urlsafe(24)
    vehicle.device_key_sha256 = key_digest(key)
    audit.record(session, entity="vehicles", entity_id=vehicle.id, action="device_key_issued",
                 actor_id=actor.id, data={"device_id": vehicle.device_id})
    return key
