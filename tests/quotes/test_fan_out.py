"""The quote fan-out with fake providers: one deadline, partial results, no waiting on stragglers."""
import threading

from app.quotes.service import fan_out
from providers.base import NotApplicable, ProviderError, ProviderTimeout
from tests.factories import quote_request


class Fake:
    channel = "rental"

    def __init__(self, name, behave):
        self.name = name
        self.behave = behave

    def quote(self, request):
        return self.behave()


def test_each_outcome_is_reported_and_a_hung_provider_is_not_waited_for():
    release, hung_up = threading.Event(), threading.Event()

    def hang():
        release.wait(10)
        hung_up.set()
        return []

    def raise_(exc):
        def behave():
            raise exc
        return behave

    providers = {"ok": Fake("ok", lambda: ["offer"]), "hung": Fake("hung", hang),
                 "na": Fake("na", raise_(NotApplicable("不适用"))),
                 "slow": Fake("slow", raise_(ProviderTimeout("read timeout"))),
                 "down": Fake("down", raise_(ProviderError("503"))),
                 "bug": Fake("bug", raise_(KeyError("price")))}
    outcomes = {o.name: o for o in fan_out(providers, quote_request(), deadline=0.3)}
    still_hanging = not hung_up.is_set()  # the answer came before the hung call returned
    release.set()
    assert still_hanging
    assert {n: o.status for n, o in outcomes.items()} == {
        "ok": "ok", "hung": "timeout", "na": "not_applicable", "slow": "timeout",
        "down": "error", "bug": "error"}
    assert outcomes["ok"].offers == ["offer"]
    assert outcomes["na"].message == "不适用"
    assert outcomes["hung"].latency_ms >= 300


def test_no_providers_no_outcomes():
    assert fan_out({}, quote_request(), deadline=0.1) == []
