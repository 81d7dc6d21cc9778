"""Official travel booking backend: the Flask app factory."""
from __future__ import annotations

import logging

from flask import Flask

from app.config import Config, InsecureConfig


def create_app(config: Config | dict | None = None) -> Flask:
    """Build the app: config (real secrets outside sandbox mode) → db → providers → rate
    limits → each domain's ``init_app`` (blueprints, jobs, event handlers) → error
    handlers → CLI."""
    cfg = config if isinstance(config, Config) else Config.from_mapping(config)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        cfg.require_real_secrets()
    except InsecureConfig as exc:
        logging.getLogger(__name__).critical("%s", exc)
        raise
    app = Flask(__name__)
    app.config.update(cfg.as_flask())
    app.config.update(
        API_TITLE="Official travel booking API", API_VERSION="v1", OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1", OPENAPI_JSON_PATH="openapi.json",
        JSON_SORT_KEYS=False, MAX_CONTENT_LENGTH=8 * 1024 * 1024)
    from app import (admin, api, approvals, auth, billing, db, dispatch, idempotency, models,
                     notifications, orders, partners, quotes, ratelimit, settlements, supervision,
                     supply, trips, web)
    from app.billing.service import paid_use_price
    from app.errors import register_error_handlers
    from app.quotes.availability import pooled_availability

    db.configure(app.config["DATABASE_URL"])
    models.configure()
    api.init_app(app)
    supply.init_app(app, fleet_availability=pooled_availability(), fleet_price=paid_use_price)
    idempotency.init_app(app)
    ratelimit.init_app(app)
    for domain in (auth, admin, trips, quotes, approvals, dispatch, settlements, billing,
                   orders, notifications, supervision, partners):
        domain.init_app(app)
    register_error_handlers(app)
    web.init_app(app)

    from app import cli
    cli.init_app(app)
    return app
