"""The bare endpoint the positions benchmark compares the ingest with: it accepts the same
Traccar forwarding body (parsed as JSON) and answers as the ingest does, doing nothing else.
Served by gunicorn with the same settings as the API (``bench.bare_ingest:app``)."""
from flask import Flask, jsonify, request

app = Flask("bare-ingest")


@app.post("/api/v1/telemetry/traccar")
def traccar():
    body = request.get_json()
    return jsonify({"status": "stored", "vehicle_id": 0, "valid": bool(body), "flaw": None})
