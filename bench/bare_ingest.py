"""The bare endpoints the positions benchmark compares the ingest with: each accepts the same
Traccar forwarding body (parsed as JSON) and answers as the ingest does, doing nothing else.
``app`` is a bare Flask app; ``raw`` a bare WSGI callable, as the ingest's fast path for
Traccar forwards is (app/positions/gateway.py). Served by gunicorn with the same settings
as the API (``bench.bare_ingest:app``, ``bench.bare_ingest:raw``)."""
import orjson
from flask import Flask, jsonify, request

app = Flask("bare-ingest")


@app.post("/api/v1/telemetry/traccar")
def traccar():
    body = request.get_json()
    return jsonify({"status": "stored", "vehicle_id": 0, "valid": bool(body), "flaw": None})


def raw(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = orjson.loads(environ["wsgi.input"].read(length)) if length else None
    answer = orjson.dumps({"status": "stored", "vehicle_id": 0, "valid": bool(body),
                           "flaw": None})
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(answer)))])
    return [answer]
