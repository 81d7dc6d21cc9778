"""Notification tests drive real trips: the approval flow (tests/approvals) and dispatch
(tests/dispatch) fixtures, the WeChat sandbox over HTTP, and a grant helper."""
from __future__ import annotations

import pytest
import requests

from tests import factories
from tests.approvals.conftest import flow  # noqa: F401  (fixtures shared with approvals)
from tests.dispatch.conftest import drive, fleet, in_db, now, travel  # noqa: F401

TEMPLATES = {"trip_result": "tmpl-trip-result", "vehicle_assigned": "tmpl-vehicle-assigned",
             "trip_confirm": "tmpl-trip-confirm", "driver_task": "tmpl-driver-task",
             "approval_task": "tmpl-approval-task"}


@pytest.fixture
def wechat(sandboxes):
    url = sandboxes["wechat"].url
    yield Sandbox(url)
    requests.delete(f"{url}/__sandbox/send-errors", timeout=5)
    requests.delete(f"{url}/__sandbox/faults", timeout=5)


class Sandbox:
    def __init__(self, url: str):
        self.url = url
        self._seen = len(self.all()["items"])
        self._refused = len(self.all()["refused"])

    def all(self) -> dict:
        return requests.get(f"{self.url}/__sandbox/messages", timeout=5).json()

    def received(self, touser: str) -> list[dict]:
        """What WeChat delivered to ``touser`` during this test."""
        return [m for m in self.all()["items"][self._seen:] if m["touser"] == touser]

    def refused(self) -> list[dict]:
        return self.all()["refused"][self._refused:]

    def send_error(self, errcode: int, touser: str, times: int = 1) -> None:
        requests.post(f"{self.url}/__sandbox/send-errors", timeout=5, json={
            "errcode": errcode, "touser": touser, "times": times}).raise_for_status()


@pytest.fixture
def grant(api, wechat):
    def give(openid: str, *keys: str, times: int = 1) -> dict:
        return factories.grant(api, wechat.url, openid, [TEMPLATES[k] for k in keys], times)

    return give
