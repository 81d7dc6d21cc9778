"""API throughput against a bare endpoint, in one run.

The same threaded server and client pool hit (a) a bare Flask endpoint returning ``{}`` and
(b) ``GET /api/v1/me`` (JWT check, user and roles from the database, schema dump). The
figure is (b)'s requests per second ÷ (a)'s.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import logging

import requests
from flask import Flask

from bench.common import demo_app, serve

CLIENTS = 8
REQUESTS = 1600


def _rate(url: str, headers: dict) -> float:
    def worker(n: int) -> None:
        with requests.Session() as http:
            for _ in range(n):
                http.get(url, headers=headers, timeout=10).raise_for_status()

    per = REQUESTS // CLIENTS
    start = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(worker, [per] * CLIENTS))
    return per * CLIENTS / (time.perf_counter() - start)


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    bare = Flask("bare")
    bare.get("/bare")(lambda: {})
    with demo_app() as (app, _), serve(app) as api_url, serve(bare) as bare_url:
        token = requests.post(f"{api_url}/api/v1/auth/wechat-login",
                              json={"code": "sandbox:demo-traveler"}, timeout=10).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        _rate(f"{bare_url}/bare", {})  # warm-up
        bare_rps = _rate(f"{bare_url}/bare", {})
        me_rps = _rate(f"{api_url}/api/v1/me", auth)
    print(f"bare endpoint      {bare_rps:8.0f} req/s")
    print(f"GET /api/v1/me     {me_rps:8.0f} req/s")
    print(f"ratio me/bare      {me_rps / bare_rps:8.2f}  ({CLIENTS} clients, {REQUESTS} requests each, werkzeug threaded, SQLite)")


if __name__ == "__main__":
    main()
