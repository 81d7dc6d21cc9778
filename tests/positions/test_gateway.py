"""Plain Traccar forwards are answered before Flask (app/positions/gateway.py): the answers
are the Flask view's, request for request, and whatever is not a plain forward still
reaches the documented view."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from werkzeug.test import Client, EnvironBuilder

from app.positions.gateway import TraccarFastPath
from tests.positions.conftest import T0, TOKEN, traccar

TRACCAR = "/api/v1/telemetry/traccar"


def _cases(device: str, at):
    """(case, headers, body bytes) of what gateways send, good and bad."""
    good = json.dumps(traccar(device, at, 31.78, 119.95)).encode()
    missing = traccar(device, at, 31.78, 119.95)
    missing["position"].pop("latitude")
    jump = json.dumps(traccar(device, at + timedelta(seconds=10), 31.78, 121.95)).encode()
    future = json.dumps(traccar(device, at + timedelta(days=2), 31.78, 119.95)).encode()
    gateway = {"Authorization": f"Bearer {TOKEN}"}
    return [
        ("stored", gateway, good),
        ("duplicate", gateway, good),
        ("jump, kept invalid", gateway, jump),
        ("unknown device", gateway,
         json.dumps(traccar("999000111222333", at, 31.78, 119.95)).encode()),
        ("no secret", {}, good),
        ("wrong secret", {"Authorization": "Bearer not-the-secret"}, good),
        ("not a secret", {"Authorization": "Basic dXNlcjpwYXNz"}, good),
        ("malformed JSON", gateway, b'{"position": {'),
        ("empty body", gateway, b""),
        ("a list", gateway, b"[]"),
        ("latitude missing", gateway, json.dumps(missing).encode()),
        ("from the future", gateway, future),
    ]


def test_the_fast_path_answers_each_request_as_the_flask_view_does(app, gateway, devices,
                                                                  now):
    """The same requests, once through the app as served (the fast path answers) and once
    straight to Flask (the view answers), for two vehicles: the same statuses and bodies,
    vehicle ids aside."""
    fast = app.test_client()
    assert isinstance(app.wsgi_app, TraccarFastPath)
    flask_only = Client(app.wsgi_app.wsgi_app)
    (first, first_device), (second, second_device) = list(devices.items())[:2]
    answers = {}
    for name, client, device in (("fast", fast, first_device),
                                 ("flask", flask_only, second_device)):
        answers[name] = []
        for case, headers, body in _cases(device, T0):
            resp = client.post(TRACCAR, data=body, headers=headers,
                               content_type="application/json")
            document = resp.get_json() if resp.is_json else resp.get_data(as_text=True)
            if isinstance(document, dict) and "vehicle_id" in document:
                document["vehicle_id"] = "*"
            answers[name].append((case, resp.status_code, document))
    assert answers["fast"] == answers["flask"]
    statuses = {case: status for case, status, _ in answers["fast"]}
    assert statuses == {"stored": 200, "duplicate": 200, "jump, kept invalid": 200,
                        "unknown device": 404, "no secret": 401, "wrong secret": 401,
                        "not a secret": 401, "malformed JSON": 422, "empty body": 422,
                        "a list": 422, "latitude missing": 422, "from the future": 422}
    body = dict((case, document) for case, _, document in answers["fast"])
    assert body["jump, kept invalid"] == {"status": "stored", "vehicle_id": "*",
                                          "valid": False, "flaw": "jump"}
    assert body["unknown device"]["code"] == "unknown_device"
    assert list(body["latitude missing"]["errors"]) == ["position.latitude"]


def test_a_plain_forward_never_reaches_flask_and_anything_else_does(app, gateway, devices,
                                                                    now, monkeypatch):
    client = app.test_client()
    device = list(devices.values())[0]
    reached = []
    view = app.view_functions["telemetry.traccar"]

    def counted(*args, **kwargs):
        reached.append(1)
        return view(*args, **kwargs)

    monkeypatch.setitem(app.view_functions, "telemetry.traccar", counted)
    body = traccar(device, T0, 31.78, 119.95)
    assert client.post(TRACCAR, json=body, headers=gateway).status_code == 200
    assert reached == []
    # another media type: the view answers (not a JSON forward), in Chinese
    resp = client.post(TRACCAR, data={"x": "1"}, headers=gateway)
    assert (resp.status_code, reached) == (422, [1])
    assert resp.get_json()["errors"] == {"json": ["应为 Traccar 转发的 JSON 对象"]}
    # an Idempotency-Key goes through the app's idempotency machinery (which leaves
    # gateway requests alone: a fix's vehicle and time make a retry a duplicate anyway)
    body = traccar(device, T0 + timedelta(seconds=10), 31.78, 119.95)
    headers = {**gateway, "Idempotency-Key": "fix-42"}
    first = client.post(TRACCAR, json=body, headers=headers)
    again = client.post(TRACCAR, json=body, headers=headers)
    assert (first.status_code, first.get_json()["status"]) == (200, "stored")
    assert (again.status_code, again.get_json()["status"]) == (200, "duplicate")
    too_long = client.post(TRACCAR, json=body, headers={**gateway, "Idempotency-Key": "k" * 129})
    assert (too_long.status_code, too_long.get_json()["code"]) == (422, "invalid_idempotency_key")
    # another method: Flask's 405, in the app's error body
    resp = client.get(TRACCAR, headers=gateway)
    assert (resp.status_code, resp.get_json()["code"]) == (405, "method_not_allowed")
    assert len(reached) == 3  # the form, the keyed fix and its retry (the long key: refused)


@pytest.mark.parametrize("length", ["", "-1", "abc"])
def test_a_body_without_a_plain_length_is_left_to_flask(app, gateway, devices, now, length):
    """A chunked or oddly declared body is read by Werkzeug, not by the fast path."""
    body = json.dumps(traccar(list(devices.values())[0], T0, 31.78, 119.95)).encode()
    environ = {"CONTENT_LENGTH": length} if length else {}
    fast = TraccarFastPath(app, lambda env, start: ["passed on"])
    built = EnvironBuilder(path=TRACCAR, method="POST", data=body, headers=gateway,
                           content_type="application/json").get_environ()
    built.update(environ)
    if not length:
        built.pop("CONTENT_LENGTH", None)
        built["HTTP_TRANSFER_ENCODING"] = "chunked"
    assert fast(built, lambda *a: None) == ["passed on"]
