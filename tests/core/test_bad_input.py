"""Bad input is answered with a clear 4xx and a Chinese error body, never a server error
(issue 12 #14), and field errors are in Chinese (issue 12 #16)."""
import base64
import json

import pytest

from tests.factories import ok, trip_request

HUGE = 2**63  # one above the largest 64-bit integer


def _refused(resp, *statuses):
    body = resp.get_json()
    assert resp.status_code in statuses, (resp.status_code, body)
    assert set(body) >= {"code", "message", "status", "errors"}
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message"]), body
    return body


def _cursor(value: int) -> str:
    return base64.urlsafe_b64encode(str(value).encode()).decode()


@pytest.mark.parametrize("method, path", [
    ("GET", f"/trips/{HUGE}"), ("GET", f"/trips/{2**31}"), ("POST", f"/trips/{HUGE}/quotes"),
    ("GET", f"/admin/users/{HUGE}"), ("PATCH", f"/admin/drivers/{HUGE}")])
def test_ids_beyond_the_id_range_in_paths_are_404(api, method, path):
    _refused(api.call(method, path, as_="demo-admin", json={}), 404)


@pytest.mark.parametrize("value", [HUGE, 2**31, 0, -5])
def test_cursors_beyond_the_id_range_are_refused(api, value):
    body = _refused(api.get("/trips", as_="demo-traveler",
                            query_string={"cursor": _cursor(value)}), 422)
    assert body["code"] == "invalid_cursor"


@pytest.mark.parametrize("field", ["unit_id", "user_id"])
def test_ids_beyond_the_id_range_in_bodies_are_field_errors(api, demo, field):
    body = {"name": "新司机", "phone": "13900000099", "unit_id": demo["units"]["常州市"]}
    body[field] = HUGE
    refusal = _refused(api.post("/admin/drivers", as_="demo-admin", json=body), 422)
    assert field in refusal["errors"]


def test_a_lone_surrogate_in_json_is_400(api):
    text = json.dumps(trip_request(text="会议"), ensure_ascii=False).replace("会议", "\\ud800")
    resp = api.call("POST", "/trips", as_="demo-traveler", data=text,
                    content_type="application/json")
    _refused(resp, 400)


@pytest.mark.parametrize("where", ["purpose", "cancel reason"])
def test_a_nul_character_in_free_text_is_a_field_error(api, where):
    """PostgreSQL cannot store NUL in text: the attack re-run got a 500 for both."""
    if where == "purpose":
        body = json.dumps(trip_request(text="会议"), ensure_ascii=False).replace("会议", "会\\u0000议")
        resp = api.call("POST", "/trips", as_="demo-traveler", data=body,
                        content_type="application/json")
    else:
        trip_id = api.post("/trips", as_="demo-traveler", json=trip_request()).get_json()["id"]
        resp = api.call("POST", f"/trips/{trip_id}/cancel", as_="demo-traveler",
                        data='{"reason": "\\u0000"}', content_type="application/json")
    _refused(resp, 422)
    refused = ["不能包含控制字符或不可见字符"]
    assert resp.get_json()["errors"] == ({"purpose": {"text": refused}} if where == "purpose"
                                         else {"reason": refused})


def test_json_nested_100000_deep_is_400(api):
    deep = "[" * 100_000 + "]" * 100_000
    resp = api.call("POST", "/trips", as_="demo-traveler",
                    data='{"purpose": ' + deep + "}", content_type="application/json")
    _refused(resp, 400)


@pytest.mark.parametrize("payload", ['{"order_id": ' + "[" * 100_000 + "]" * 100_000 + "}",
                                     '{"order_id": "\\ud800"}'])
def test_a_malformed_callback_is_422(client, payload):
    resp = client.post("/api/v1/webhooks/ridehail", data=payload,
                       content_type="application/json")
    assert _refused(resp, 422)["code"] == "malformed_callback"


def test_a_json_body_larger_than_any_request_is_413(api):
    body = trip_request(passengers=1)
    body["purpose"]["text"] = "长" * 400_000
    _refused(api.post("/trips", as_="demo-traveler", json=body), 413)


@pytest.mark.parametrize("path, field", [
    ("/trips", "passengers"), ("/trips", "stops")])
def test_oversized_lists_are_refused_before_their_items(api, path, field):
    body = trip_request()
    body[field] = [{"bad": "item"}] * 5000
    refusal = _refused(api.post(path, as_="demo-traveler", json=body), 422)
    # One message for the list, not one per item.
    assert isinstance(refusal["errors"][field], list), refusal["errors"][field]


def test_a_time_beyond_the_calendar_in_utc_is_a_field_error(api):
    body = trip_request()
    body["depart_at"] = "9999-12-31T20:00-12:00"
    body["return_at"] = "9999-12-31T22:00-12:00"
    refusal = _refused(api.post("/trips", as_="demo-traveler", json=body), 422)
    assert {"depart_at", "return_at"} <= set(refusal["errors"])


@pytest.mark.parametrize("period", ["0000-01", "9999-12"])
def test_a_period_outside_the_calendar_is_refused(api, period):
    resp = api.post("/settlements", as_="demo-finance", json={"period": period})
    refusal = _refused(resp, 422)
    assert "period" in refusal["errors"]


def test_a_second_driver_record_for_one_user_is_409(api, demo):
    body = {"name": "钱进", "phone": "13800000005", "unit_id": demo["units"]["常州市"],
            "user_id": demo["users"]["demo-driver"]}
    refusal = _refused(api.post("/admin/drivers", as_="demo-admin", json=body), 409)
    assert refusal["code"] == "driver_exists"
