"""Signing and verification rules, and the client's error translation and retries."""

import pytest
import requests
import responses

from providers.base import MalformedResponse, ProviderError, ProviderTimeout, SignatureError
from providers.http import (MemoryNonceStore, SignedClient, canonical, sign_params, signature,
                            verify)
from tests.providers.conftest import RIDEHAIL_KEYS, client, fault

KEY, SECRET = "k1", "s3cret"


def secret_for(key):
    return SECRET if key == KEY else None


def test_canonical_sorts_and_encodes_nested_values_compactly():
    params = {"b": "2", "a": 1, "sign": "x", "none": None, "obj": {"z": 1, "y": [1, "二"]}}
    assert canonical(params) == 'a=1&b=2&obj={"y":[1,"二"],"z":1}'


def test_signature_is_hmac_sha256_hex_of_the_canonical_string():
    import hashlib
    import hmac
    params = {"app_key": KEY, "timestamp": "1700000000", "nonce": "n1", "q": "v"}
    expected = hmac.new(SECRET.encode(), b"app_key=k1&nonce=n1&q=v&timestamp=1700000000",
                        hashlib.sha256).hexdigest()
    assert signature(params, SECRET) == expected


@pytest.mark.parametrize("tamper, code", [
    (lambda p: p.update(amount="9.99"), "bad_sign"),
    (lambda p: p.update(sign="0" * 64), "bad_sign"),
    (lambda p: p.update(app_key="other"), "unknown_key"),
    (lambda p: p.pop("nonce"), "missing"),
    (lambda p: p.update(timestamp="soon"), "stale"),
])
def test_verify_refuses_tampered_messages(tamper, code):
    params = sign_params({"amount": "1.00"}, KEY, SECRET)
    tamper(params)
    with pytest.raises(SignatureError) as err:
        verify(params, secret_for)
    assert err.value.code == code


@pytest.mark.parametrize("age, ok", [(0, True), (299, True), (-299, True), (301, False),
                                     (-301, False)])
def test_verify_accepts_only_a_five_minute_window(age, ok):
    now = 1_800_000_000
    params = sign_params({"x": "1"}, KEY, SECRET, now=now - age)
    if ok:
        assert verify(params, secret_for, now=now) == KEY
    else:
        with pytest.raises(SignatureError, match="window"):
            verify(params, secret_for, now=now)


def test_verify_refuses_a_replayed_nonce_but_not_a_forged_one():
    store = MemoryNonceStore()
    params = sign_params({"x": "1"}, KEY, SECRET)
    forged = {**params, "x": "2"}
    with pytest.raises(SignatureError):
        verify(forged, secret_for, nonce_store=store)  # must not burn the nonce
    assert verify(params, secret_for, nonce_store=store) == KEY
    with pytest.raises(SignatureError) as err:
        verify(params, secret_for, nonce_store=store)
    assert err.value.code == "replayed"


def test_sandbox_refuses_a_wrong_secret(ridehail_server):
    params = sign_params({"order_id": "x"}, RIDEHAIL_KEYS[0], "wrong")
    body = requests.get(f"{ridehail_server.url}/v1/orders/detail", params=params, timeout=2).json()
    assert body["code"] == 40101
    assert verify(body, {RIDEHAIL_KEYS[0]: RIDEHAIL_KEYS[1]}.get)  # the refusal is signed too


@responses.activate
def test_provider_signature_refusal_is_a_signature_error():
    c = SignedClient("http://provider.invalid", KEY, SECRET, signature_codes=frozenset({40101}))
    responses.get("http://provider.invalid/a",
                  json=sign_params({"code": 40101, "msg": "invalid sign", "data": None}, KEY, SECRET))
    with pytest.raises(SignatureError) as err:
        c.get("/a")
    assert err.value.code == 40101


def test_sandbox_refuses_a_replayed_request(ridehail_server):
    params = sign_params({"order_id": "x"}, *RIDEHAIL_KEYS)
    url = f"{ridehail_server.url}/v1/orders/detail"
    assert requests.get(url, params=params, timeout=2).json()["code"] == 40400
    assert requests.get(url, params=params, timeout=2).json()["code"] == 40101


def test_badly_signed_response_is_a_signature_error(ridehail_server):
    fault(ridehail_server, fault="bad_signature", times=1)
    with pytest.raises(SignatureError, match="response"):
        client(ridehail_server, RIDEHAIL_KEYS).get("/v1/orders/detail", {"order_id": "x"})


def test_malformed_body_is_malformed_response(ridehail_server):
    fault(ridehail_server, fault="malformed")
    with pytest.raises(MalformedResponse):
        client(ridehail_server, RIDEHAIL_KEYS, retries=0).get("/v1/orders/detail",
                                                             {"order_id": "x"})


def test_hang_is_a_timeout(ridehail_server):
    fault(ridehail_server, fault="hang", times=1)  # only the first attempt hangs
    c = client(ridehail_server, RIDEHAIL_KEYS, read_timeout=0.3)
    with pytest.raises(ProviderTimeout):  # a retry would have been answered
        c.post("/v1/estimate", {"points": []})  # a POST without out_order_id is not retried


def test_idempotent_calls_retry_through_transient_5xx(ridehail_server):
    fault(ridehail_server, fault="5xx", times=2)
    with pytest.raises(ProviderError) as err:
        client(ridehail_server, RIDEHAIL_KEYS).get("/v1/orders/detail", {"order_id": "x"})
    assert err.value.code == 40400  # the third try reached the API itself


def test_non_idempotent_calls_do_not_retry(ridehail_server):
    fault(ridehail_server, fault="5xx", times=1)
    with pytest.raises(ProviderError) as err:
        client(ridehail_server, RIDEHAIL_KEYS).post("/v1/estimate", {"points": []})
    assert err.value.code == 503


def test_retries_are_bounded(ridehail_server):
    fault(ridehail_server, fault="5xx")
    with pytest.raises(ProviderError) as err:
        client(ridehail_server, RIDEHAIL_KEYS, retries=2).get("/v1/orders/detail", {"order_id": "x"})
    assert err.value.code == 503


@responses.activate
def test_unreachable_host_and_non_dict_json_are_translated():
    c = SignedClient("http://provider.invalid", KEY, SECRET, retries=1, backoff=0)
    responses.get("http://provider.invalid/a", body=requests.ConnectionError("refused"))
    responses.get("http://provider.invalid/b", json=[1, 2, 3])
    with pytest.raises(ProviderError, match="unreachable"):
        c.get("/a")
    assert len(responses.calls) == 2  # one retry
    with pytest.raises(MalformedResponse):
        c.get("/b")


@responses.activate
def test_unsigned_envelope_is_refused():
    c = SignedClient("http://provider.invalid", KEY, SECRET)
    responses.get("http://provider.invalid/a", json={"code": 0, "msg": "ok", "data": {}})
    with pytest.raises(SignatureError):
        c.get("/a")
