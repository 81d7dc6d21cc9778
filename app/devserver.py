"""The embedded default, all in one process: sandboxes, migrated and seeded SQLite, worker, API.

``python -m app.devserver`` (what ``make run`` calls). ``PORT`` (default 8000),
``SANDBOX_PORT_BASE`` (default 8101) and ``DATABASE_URL`` override the defaults. Prints
``READY <url>`` once everything answers; Ctrl-C stops it cleanly.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

from werkzeug.serving import make_server

DEMO_LOGINS = ["demo-traveler", "demo-traveler-2", "demo-approver", "demo-platform-approver",
               "demo-dispatcher", "demo-driver", "demo-finance", "demo-supervisor", "demo-admin"]


def main() -> int:
    port = int(os.environ.get("PORT", "8000"))
    sandbox_base = int(os.environ.get("SANDBOX_PORT_BASE", "8101"))
    db_url = os.environ.get("DATABASE_URL", "sqlite:///var/otb.sqlite")
    if db_url.startswith("sqlite:///") and not db_url.startswith("sqlite:////"):
        Path(db_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)

    from providers.sandbox import runner

    sandboxes = runner.start_all(sandbox_base)

    from app import clock, create_app, db, demo_history
    from app.migrate import upgrade
    from app.worker import Worker

    upgrade(db_url)
    app = create_app({"DATABASE_URL": db_url, **runner.settings_for(sandboxes),
                      **_sandbox_provider_settings(sandboxes, port)})
    with app.app_context():
        seeded = demo_history.seed_demo_with_history(db.session)
        db.session.commit()
        history_period, history_trips = demo_history.summary(db.session, clock.now())
        db.session.remove()
    worker = Worker(app).start()
    server = make_server("127.0.0.1", port, app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"

    stop = threading.Event()

    def _stop(*_):
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)

    print(f"\nOfficial travel backend on {url}/api/v1  (OpenAPI: {url}/api/v1/openapi.json)")
    print(f"Point the mini-program at {url}/api/v1 (miniprogram_stub/config.js)")
    print("Database:", db_url, "(demo data loaded)" if seeded else "(existing data kept)")
    for name, srv in sandboxes.items():
        print(f"Sandbox {name}: {srv.url}")
    print("Demo logins (wx.login code → openid): " +
          ", ".join(f"sandbox:{o}" for o in DEMO_LOGINS))
    print("Bind a pre-registered phone: phone code sandbox-phone:13800000012")
    if history_trips:
        print(f"Demo history: {history_trips} confirmed trips in {history_period} — log in as "
              f"demo-finance and POST /api/v1/settlements {{\"period\": \"{history_period}\"}}")
    print(f"READY {url}", flush=True)
    try:
        server.serve_forever()
    finally:
        worker.stop()
        for srv in sandboxes.values():
            srv.stop()
        print("stopped", flush=True)
    return 0


def _sandbox_provider_settings(sandboxes, api_port: int) -> dict:
    """Extra settings for supply-provider sandboxes, when the registry knows them."""
    try:
        from providers.registry import sandbox_settings
    except ImportError:
        return {}
    return sandbox_settings(sandboxes, webhook_base=f"http://127.0.0.1:{api_port}/api/v1/webhooks")


if __name__ == "__main__":
    sys.exit(main())
