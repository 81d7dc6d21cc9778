"""The web console's built files (``console/dist``, made by ``make run``) served at /console/.

History-mode routes of the single-page app fall back to ``index.html`` (never cached, so a
new build is picked up at once); the hashed files under ``assets/`` are cached for a year.
``CONSOLE_DIST`` in the app config points elsewhere when set.
"""
from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app, redirect, send_from_directory

from app.errors import error_response

DEFAULT_DIST = Path(__file__).resolve().parent.parent / "console" / "dist"
ASSET_MAX_AGE = 365 * 24 * 3600


def _dist() -> Path:
    return Path(current_app.config.get("CONSOLE_DIST") or DEFAULT_DIST)


def _index():
    dist = _dist()
    if not (dist / "index.html").is_file():
        return error_response(404, "console_not_built",
                              "控制台尚未构建：请运行 make run（或 cd console && npm ci && npm run build）")
    resp = send_from_directory(dist, "index.html", max_age=0)
    resp.headers["Cache-Control"] = "no-cache"
    return resp


def serve(path: str = ""):
    dist = _dist()
    if path and (dist / path).is_file() and path != "index.html":
        hashed = path.startswith("assets/")
        resp = send_from_directory(dist, path, max_age=ASSET_MAX_AGE if hashed else 3600)
        if hashed:
            resp.headers["Cache-Control"] = f"public, max-age={ASSET_MAX_AGE}, immutable"
        return resp
    if path.startswith("assets/"):
        return error_response(404, "not_found", "对象不存在")
    return _index()


def init_app(app: Flask) -> None:
    app.add_url_rule("/console/", "console_index", serve)
    app.add_url_rule("/console/<path:path>", "console_file", serve)
    app.add_url_rule("/console", "console_slash", lambda: redirect("/console/", 308))
    app.add_url_rule("/", "root", lambda: redirect("/console/", 302))
