"""A threaded loopback HTTP server for a sandbox Flask app, with injectable latency and faults.

Faults are set over HTTP, so tests, benchmarks and the demo all drive them the same way:

    POST   /__sandbox/faults  {"latency_ms": 300, "fault": "hang"|"5xx"|"malformed"|"bad_signature"
                                        |"lost_response",
                               "path": "/optional/prefix", "times": 3}
    DELETE /__sandbox/faults  clears every rule

A rule without ``times`` stays until cleared. ``hang`` holds the request until the
server stops or the rule is cleared (``hang_seconds`` caps it, default 60). ``lost_response``
lets the request do its work and then answers 504, as when the answer is lost on the way
back: the caller cannot know that its order was made.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field

from flask import Flask, Response, g, jsonify, request
from werkzeug.serving import make_server

FAULTS = {None, "hang", "5xx", "malformed", "bad_signature", "lost_response"}


@dataclass
class FaultRule:
    latency_ms: int = 0
    fault: str | None = None
    path: str = ""
    times: int | None = None
    hang_seconds: float = 60.0


@dataclass
class FaultBoard:
    """The rules in force; thread-safe because every request thread consults it."""

    rules: list[FaultRule] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    released: threading.Event = field(default_factory=threading.Event)

    def add(self, rule: FaultRule) -> None:
        if rule.fault not in FAULTS:
            raise ValueError(f"unknown fault {rule.fault!r}")
        with self.lock:
            self.released.clear()
            self.rules.append(rule)

    def clear(self) -> None:
        with self.lock:
            self.rules.clear()
            self.released.set()

    def take(self, path: str) -> FaultRule | None:
        with self.lock:
            for rule in self.rules:
                if path.startswith(rule.path):
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times <= 0:
                            self.rules.remove(rule)
                    return rule
        return None


def install_faults(app: Flask) -> FaultBoard:
    """Give a sandbox app the fault endpoints and the hook that applies them."""
    board = FaultBoard()
    app.extensions["faults"] = board

    @app.post("/__sandbox/faults")
    def _set_fault():
        body = request.get_json(force=True) or {}
        try:
            board.add(FaultRule(**body))
        except (TypeError, ValueError) as exc:
            return jsonify({"error": str(exc)}), 400
        return jsonify({"ok": True})

    @app.delete("/__sandbox/faults")
    def _clear_faults():
        board.clear()
        return jsonify({"ok": True})

    @app.before_request
    def _apply_fault():
        if request.path.startswith("/__sandbox/"):
            return None
        rule = board.take(request.path)
        if rule is None:
            return None
        if rule.latency_ms:
            time.sleep(rule.latency_ms / 1000)
        if rule.fault == "hang":
            board.released.wait(rule.hang_seconds)
            return Response("", status=504)
        if rule.fault == "5xx":
            return jsonify({"code": 50001, "msg": "sandbox injected server error"}), 503
        if rule.fault == "malformed":
            return Response('{"code": 0, "data": {', status=200, mimetype="application/json")
        if rule.fault == "bad_signature":
            g.bad_signature = True
        if rule.fault == "lost_response":
            g.lost_response = True
        return None

    @app.after_request
    def _lose_response(response):
        if g.get("lost_response"):
            return Response("", status=504)
        return response

    return board


class SandboxServer:
    """Runs a sandbox app on 127.0.0.1 in a background thread (port 0 picks a free one)."""

    def __init__(self, app: Flask, port: int = 0, host: str = "127.0.0.1"):
        self.app = app
        self._server = make_server(host, port, app, threaded=True)
        self._server.daemon_threads = True
        self.port = self._server.server_port
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name=f"sandbox-{app.name}", daemon=True)

    def start(self) -> "SandboxServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        board = self.app.extensions.get("faults")
        if board is not None:
            board.clear()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "SandboxServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def json_body() -> dict:
    """Parse the request body as JSON or answer 400 the way a real API would."""
    try:
        data = json.loads(request.get_data() or b"{}")
    except ValueError:
        data = None
    return data if isinstance(data, dict) else {}
