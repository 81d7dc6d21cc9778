"""The embedded default, all in one process: sandboxes, migrated and seeded SQLite, worker, API.

``python -m app.devserver`` (what ``make run`` calls). ``PORT`` (default 8000),
``SANDBOX_PORT_BASE`` (default 8101) and ``DATABASE_URL`` override the defaults. Prints
``READY <url>`` once everything answers; Ctrl-C stops it cleanly.

``PARTNER_DEMO=1`` (``make run-partner``) starts the partner city instead: Fuzhou, on port
8200 with sandboxes from 8201 and ``var/partner.sqlite``, seeded with Fuzhou's own units,
fleet and tariff. Each demo city registers the other as its partner at
``PARTNER_URL`` (Changzhou: ``http://127.0.0.1:8200/api/v1``; Fuzhou:
``http://127.0.0.1:8000/api/v1``).
"""
from __future__ import annotations

import os
import secrets
import signal
import sys
import threading
from pathlib import Path

from sqlalchemy import select
from werkzeug.serving import make_server

from app.accounts.models import User
from app.auth.passwords import ensure_demo_accounts, one_time_password


def main() -> int:
    partner_demo = os.environ.get("PARTNER_DEMO", "") in ("1", "true", "yes")
    port = int(os.environ.get("PORT", "8200" if partner_demo else "8000"))
    sandbox_base = int(os.environ.get("SANDBOX_PORT_BASE", "8201" if partner_demo else "8101"))
    db_url = os.environ.get("DATABASE_URL", "sqlite:///var/partner.sqlite" if partner_demo
                            else "sqlite:///var/otb.sqlite")
    partner_url = os.environ.get("PARTNER_URL", "http://127.0.0.1:8000/api/v1" if partner_demo
                                 else "http://127.0.0.1:8200/api/v1")
    if db_url.startswith("sqlite:///") and not db_url.startswith("sqlite:////"):
        Path(db_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)

    from providers.sandbox import runner

    sandboxes = runner.start_all(sandbox_base)

    from app import clock, create_app, db, demo_history, seed
    from app.positions.simulation import Feeder
    from app.migrate import upgrade
    from app.partners import demo as partner_demo_data
    from app.worker import Worker

    upgrade(db_url)
    city = ({"CITY_REGION_CODE": partner_demo_data.FUZHOU_REGION_CODE,
             "CITY_BOUNDS": partner_demo_data.FUZHOU_BOUNDS} if partner_demo else {})
    # The positioning gateway's secret (the demo's simulated Traccar sends it).
    traccar_token = os.environ.get("OTB_TRACCAR_TOKEN") or secrets.token_urlsafe(24)
    app = create_app({"DATABASE_URL": db_url, "SANDBOX_MODE": True, **city,
                      **runner.settings_for(sandboxes),
                      **_sandbox_provider_settings(sandboxes, port),
                      "TRACCAR_TOKEN": traccar_token})
    with app.app_context():
        if partner_demo:
            seeded = partner_demo_data.seed_fuzhou(db.session)
            partner_demo_data.register_partner(db.session, partner_demo_data.CHANGZHOU,
                                               base_url=partner_url, our_id="fuzhou")
            history_period, history_trips = None, 0
        else:
            def fuzhou(session):
                return partner_demo_data.register_partner(
                    session, partner_demo_data.FUZHOU, base_url=partner_url, our_id="changzhou")

            # Fuzhou registered first, so that its visitors ride in last month's history.
            seeded = demo_history.seed_demo_with_history(db.session, partner=fuzhou)
            fuzhou(db.session)  # an existing database: registered once
            seed.equip_positioning(db.session)
        db.session.commit()
        if not partner_demo:
            history_period, history_trips = demo_history.summary(db.session, clock.now())
        logins = login_lines(db.session)
        demo_password = os.environ.get("OTB_DEMO_PASSWORD") or one_time_password()
        console_users = ensure_demo_accounts(db.session, demo_password)
        db.session.commit()
        db.session.remove()
    worker = Worker(app).start()
    server = make_server("127.0.0.1", port, app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    feeder = Feeder(app, sandboxes["gateway"].url).start(url, traccar_token)

    stop = threading.Event()

    def _stop(*_):
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)

    print(f"\nOfficial travel backend on {url}/api/v1  (OpenAPI: {url}/api/v1/openapi.json)")
    print(f"Point the mini-program at {url}/api/v1 (miniprogram_stub/config.js)")
    print("City:", "福州市 (partner demo)" if partner_demo else "常州市",
          f"— partner platform at {partner_url}")
    print("Database:", db_url, "(demo data loaded)" if seeded else "(existing data kept)")
    for name, srv in sandboxes.items():
        print(f"Sandbox {name}: {srv.url}")
    print("Demo logins: POST /api/v1/auth/wechat-login {\"code\": \"sandbox:<openid>\"}")
    for line in logins:
        print("  " + line)
    print(sandbox_controls(sandboxes))
    print(console_banner(url, console_users, demo_password))
    print(telemetry_lines(sandboxes, traccar_token))
    if history_trips:
        print(f"Demo history: {history_trips} confirmed trips in {history_period} — log in as "
              f"demo-finance and POST /api/v1/settlements {{\"period\": \"{history_period}\"}}")
    print(f"READY {url}", flush=True)
    try:
        server.serve_forever()
    finally:
        feeder.stop()
        worker.stop()
        for srv in sandboxes.values():
            srv.stop()
        print("stopped", flush=True)
    return 0


def login_lines(session) -> list[str]:
    """One line per active user of the database: the wx.login code of each bound user with
    roles and unit, then how each pre-registered, unbound user binds (read after seeding)."""
    users = list(session.scalars(select(User).where(User.active).order_by(User.id)))
    bound = [f"sandbox:{u.openid:<24} {','.join(u.roles):<18} {u.unit.name}"
             for u in users if u.openid]
    unbound = [f"sandbox:<new openid> → ticket; POST /api/v1/auth/bind {{\"ticket\": …, "
               f"\"phone_code\": \"sandbox-phone:{u.phone}\"}}  "
               f"{u.name} {','.join(u.roles)} {u.unit.name}"
               for u in users if not u.openid]
    return bound + unbound


def console_banner(url: str, usernames: list[str], password: str) -> str:
    """Where the web console is and how the demo users sign in to it (README.md, "Web console")."""
    built = (Path(__file__).resolve().parent.parent / "console" / "dist" / "index.html").exists()
    note = "" if built else "  (not built: make run builds it, or cd console && npm ci && npm run build)"
    return "\n".join([
        f"Web console: {url}/console/{note}",
        f"  demo console password (OTB_DEMO_PASSWORD): {password}",
        "  usernames: " + ", ".join(usernames),
    ])


def sandbox_controls(sandboxes) -> str:
    """Where to watch and drive the sandboxes (README.md, "Sandbox controls")."""
    orders = ", ".join(f"{name} {srv.url}" for name, srv in sandboxes.items()
                       if name not in ("wechat", "route", "gateway"))
    return "\n".join([
        "Sandbox controls (README.md, \"Sandbox controls\"):",
        f"  WeChat messages sent:  GET  {sandboxes['wechat'].url}/__sandbox/messages",
        f"  WeChat grant (a tap):  POST {sandboxes['wechat'].url}/__sandbox/subscriptions "
        "{\"touser\": \"demo-traveler\", \"template_ids\": [\"tmpl-trip-result\"]} "
        "(then POST /api/v1/me/subscriptions the same ids)",
        "  move a provider order: POST <sandbox>/__sandbox/orders/<order_id>/advance "
        f"({orders})",
        "  latency and faults:    POST <sandbox>/__sandbox/faults "
        "{\"latency_ms\": 300, \"fault\": \"5xx\", \"times\": 1}; DELETE clears",
    ])


def telemetry_lines(sandboxes, token: str) -> str:
    """How the demo's positions arrive and how to steer them (README.md, "Telemetry demo")."""
    gateway = sandboxes["gateway"].url
    return "\n".join([
        "Telemetry demo (README.md, \"Telemetry demo\"): a simulated Traccar forwards every "
        "vehicle's fixes to POST /api/v1/telemetry/traccar",
        f"  gateway secret:        Authorization: Bearer {token}  (OTB_TRACCAR_TOKEN)",
        f"  vehicles on the map:   GET /api/v1/vehicles/positions (demo-dispatcher); devices "
        f"in GET /api/v1/admin/vehicles; simulator state GET {gateway}/__sandbox/devices",
        f"  inject a deviation:    POST {gateway}/__sandbox/devices/<device_id>/deviate "
        "{\"offset_km\": 5, \"minutes\": 15}",
        f"  off-hours movement:    POST {gateway}/__sandbox/devices/<device_id>/night-move "
        "{\"km\": 5}",
    ])


def _sandbox_provider_settings(sandboxes, api_port: int) -> dict:
    """Extra settings for supply-provider sandboxes, when the registry knows them."""
    try:
        from providers.registry import sandbox_settings
    except ImportError:
        return {}
    return sandbox_settings(sandboxes, webhook_base=f"http://127.0.0.1:{api_port}/api/v1/webhooks")


if __name__ == "__main__":
    sys.exit(main())
