"""Answers written by orjson are byte for byte what Flask's standard JSON provider writes."""
from __future__ import annotations

import json
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from flask.json.provider import DefaultJSONProvider

from app.accounts.models import Role

SAMPLES = [
    {"b": 1, "a": [1, 2.5, None, True], "名": "张明 \\u2028 \"quoted\"", "nested": {"z": {}, "y": []}},
    {"amount": Decimal("515.50"), "at": datetime(2026, 3, 1, 1, 0, tzinfo=timezone.utc),
     "day": date(2026, 3, 1), "role": Role.APPROVER},
    {1: "int key", 3: "another"},
    [{"huge": 2**70}],
    "just a string",
]


@pytest.mark.parametrize("obj", SAMPLES, ids=range(len(SAMPLES)))
def test_the_answer_is_what_the_standard_provider_writes(app, obj):
    with app.app_context():
        ours = app.json.response(obj).get_data()
        standard = DefaultJSONProvider(app)
        standard.ensure_ascii = False
        assert ours == standard.response(obj).get_data()
        assert json.loads(ours) is not None or obj is None


def test_api_answers_keep_chinese_unescaped(api):
    resp = api.get("/me", "demo-traveler")
    assert "张明".encode() in resp.get_data() and resp.get_json()["name"] == "张明"
