"""Quote latency against the slowest provider, and against the deadline when one hangs.

The API (real threaded HTTP server) and the supply sandboxes run in this process on
loopback. Provider latencies are injected through the sandboxes' fault endpoints:
ride-hailing 50 ms, rental-a 150 ms, rental-b 300 ms (the fleet answers from the
database). Figures:

* median and p95 of ``POST /trips/{id}/quotes`` ÷ the slowest provider's latency
  (target: median ≤ 1.10, p95 ≤ 1.15: the fan-out costs about as much as the slowest
  provider, not the sum);
* with ride-hailing hanging, median ÷ ``QUOTE_DEADLINE_SECONDS`` (target ≤ 1.05: a hung
  provider costs the deadline and nothing more).

Run: ``python -m bench.bench_quotes [N]`` (default N = 40 requests per scenario).
"""
from __future__ import annotations

import logging
import os
import sys
import time
from datetime import timedelta

import requests

if __package__ in (None, ""):  # python bench/bench_quotes.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import demo_app, median, percentile, serve  # noqa: E402

LATENCIES_MS = {"ridehail": 50, "rental-a": 150, "rental-b": 300}
DEADLINE_SECONDS = 1.5
STOPS = [{"name": "市民广场", "lat": 31.81, "lng": 119.97},
         {"name": "武进区政府", "lat": 31.70, "lng": 119.94}]


def _set_faults(sandboxes, rules: dict[str, dict]) -> None:
    for name in LATENCIES_MS:
        requests.delete(f"{sandboxes[name].url}/__sandbox/faults", timeout=5)
    for name, rule in rules.items():
        requests.post(f"{sandboxes[name].url}/__sandbox/faults", json=rule,
                      timeout=5).raise_for_status()


def _new_trip(http: requests.Session, api_url: str) -> int:
    from app import clock

    depart = clock.now() + timedelta(days=1)
    resp = http.post(f"{api_url}/api/v1/trips", timeout=10, json={
        "purpose": {"category": "meeting", "text": "基准测试"}, "passengers": [{"name": "张明"}],
        "stops": STOPS, "depart_at": depart.isoformat(),
        "return_at": (depart + timedelta(hours=3)).isoformat(), "vehicle_class": None})
    resp.raise_for_status()
    return resp.json()["id"]


def _quote_latencies(http: requests.Session, api_url: str, n: int) -> list[float]:
    """Seconds per quote request; a fresh trip every 10 requests keeps rounds realistic."""
    latencies = []
    trip_id = None
    for i in range(n):
        if i % 10 == 0:
            trip_id = _new_trip(http, api_url)
        started = time.perf_counter()
        resp = http.post(f"{api_url}/api/v1/trips/{trip_id}/quotes", json={}, timeout=30)
        latencies.append(time.perf_counter() - started)
        resp.raise_for_status()
    return latencies


def main(argv: list[str] | None = None) -> None:
    n = int((argv or sys.argv[1:] or ["40"])[0])
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("app.quotes.service").setLevel(logging.ERROR)
    # The per-user quote limit (20 a minute) would stop the run: measured here is latency.
    with demo_app({"QUOTE_DEADLINE_SECONDS": DEADLINE_SECONDS,
                   "RATELIMIT_QUOTES": "100000 per minute"}) as (app, sandboxes), \
            serve(app) as api_url, requests.Session() as http:
        token = http.post(f"{api_url}/api/v1/auth/wechat-login",
                          json={"code": "sandbox:demo-traveler"}, timeout=10).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"

        _set_faults(sandboxes, {name: {"latency_ms": ms, "path": "/"}
                                for name, ms in LATENCIES_MS.items()})
        _quote_latencies(http, api_url, 3)  # warm-up
        slowest = max(LATENCIES_MS.values()) / 1000
        normal = _quote_latencies(http, api_url, n)

        _set_faults(sandboxes, {**{name: {"latency_ms": ms, "path": "/"}
                                   for name, ms in LATENCIES_MS.items()},
                                "ridehail": {"fault": "hang", "path": "/"}})
        hung = _quote_latencies(http, api_url, max(5, n // 4))
        _set_faults(sandboxes, {})

    print(f"providers: {LATENCIES_MS} ms; fleet from the database; {n} quote requests")
    print(f"quote latency   median {median(normal) * 1000:7.1f} ms   p95 "
          f"{percentile(normal, 95) * 1000:7.1f} ms   slowest provider {slowest * 1000:.0f} ms")
    print(f"ratio median/slowest   {median(normal) / slowest:6.3f}   (target <= 1.10)")
    print(f"ratio p95/slowest      {percentile(normal, 95) / slowest:6.3f}   (target <= 1.15)")
    print(f"ridehail hanging: median {median(hung) * 1000:7.1f} ms, deadline "
          f"{DEADLINE_SECONDS * 1000:.0f} ms ({len(hung)} requests)")
    print(f"ratio median/deadline  {median(hung) / DEADLINE_SECONDS:6.3f}   (target <= 1.05)")


if __name__ == "__main__":
    main()
