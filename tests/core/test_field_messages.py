"""Field errors are in Chinese everywhere, marshmallow's defaults included (issue 12 #16)."""
import copy

import marshmallow
import pytest
from marshmallow import fields

from tests.factories import trip_request


def _chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _messages(errors):
    if isinstance(errors, dict):
        for value in errors.values():
            yield from _messages(value)
    elif isinstance(errors, list):
        for value in errors:
            yield from _messages(value)
    else:
        yield errors


def test_a_wrong_trip_gets_a_chinese_message_per_field(api):
    body = copy.deepcopy(trip_request())  # the factory's stops are shared
    del body["depart_at"]
    body["surprise"] = 1
    body["passengers"] = [{"name": ""}, {"name": 7, "age": 3}]
    body["stops"][0]["lat"] = "north"
    body["purpose"] = "meeting"
    body["vehicle_class"] = "limousine"
    resp = api.post("/trips", "demo-traveler", json=body)
    assert resp.status_code == 422
    errors = resp.get_json()["errors"]
    assert errors["depart_at"] == ["必填"]
    assert errors["surprise"] == ["未知字段"]
    assert errors["passengers"] == {"0": {"name": ["长度应在 1 到 40 之间"]},
                                    "1": {"name": ["应为字符串"], "age": ["未知字段"]}}
    assert errors["stops"] == {"0": {"lat": ["应为数字"]}}
    assert errors["purpose"] == {"_schema": ["应为对象"]}
    assert errors["vehicle_class"][0].startswith("应为以下之一")
    for message in _messages(errors):
        assert _chinese(message), message


@pytest.mark.parametrize("method, path, as_, body, field, message", [
    ("POST", "/admin/drivers", "demo-admin", {"name": "司机", "phone": "13900000001",
                                              "unit_id": "one"}, "unit_id", "应为整数"),
    ("POST", "/admin/users", "demo-admin", {"name": "用户", "phone": "13900000002",
                                            "unit_id": 1, "roles": [], "active": "maybe"},
     "active", "应为 true 或 false"),
    ("POST", "/delegations", "demo-approver", {"delegate_id": 2, "starts_at": "tomorrow",
                                               "ends_at": "2030-01-01T00:00:00"},
     "starts_at", "应为 ISO 8601 时间，如 2026-03-01T09:00:00+08:00"),
    ("POST", "/delegations", "demo-approver", {"delegate_id": 2,
                                               "starts_at": "2030-01-01T00:00:00+08:00",
                                               "ends_at": "2030-01-01T00:00:00"},
     "ends_at", "应为带时区的时间，如 2026-03-01T09:00:00+08:00"),
    ("GET", "/trips", "demo-traveler", None, "limit", "应不小于 1 且不大于 100"),
])
def test_type_and_range_errors_are_chinese(api, method, path, as_, body, field, message):
    kwargs = {"query_string": {"limit": 0}} if method == "GET" else {"json": body}
    resp = api.call(method, path, as_=as_, **kwargs)
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["errors"][field] == [message]


def test_a_malformed_json_body_is_refused_in_chinese(api):
    resp = api.call("POST", "/trips", as_="demo-traveler", data="{not json",
                    content_type="application/json")
    assert resp.status_code == 400
    assert resp.get_json()["errors"] == ["JSON 格式错误"]


def _fields(field):
    yield field
    if isinstance(field, fields.List):
        yield from _fields(field.inner)
    if isinstance(field, fields.Nested):
        for inner in field.schema.fields.values():
            yield from _fields(inner)


def _validator_messages(validator):
    for name in ("error", "message_min", "message_max", "message_all", "message_equal",
                 "default_message"):
        text = getattr(validator, name, None)
        if isinstance(text, str):
            yield text


def test_every_schema_of_the_api_speaks_chinese(app):
    """Each request schema's field and validator messages are Chinese: a new field or
    schema cannot bring back an English default."""
    schemas = {schema for name, classes in marshmallow.class_registry._registry.items()
               for schema in classes if schema.__module__.startswith("app.")}
    assert len(schemas) > 40
    for schema_cls in schemas:
        schema = schema_cls()
        for message in schema.error_messages.values():
            assert _chinese(message), (schema_cls, message)
        for top in schema.load_fields.values():
            for field in _fields(top):
                for key, message in field.error_messages.items():
                    assert _chinese(message), (schema_cls, field.name, key, message)
                for validator in field.validators:
                    for message in _validator_messages(validator):
                        assert _chinese(message), (schema_cls, field.name, message)
