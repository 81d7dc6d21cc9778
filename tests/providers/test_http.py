"""Signing and verification rules, and the client's error translation and retries."""

import base64
import hashlib
import hmac
import time

import pytest
import requests
import responses

from providers.base import MalformedResponse, ProviderError, ProviderTimeout, SignatureError
from providers.http import (MemoryNonceStore, SignedClient, canonical, sign_params,
                            sign_webhook, signature, verify, verify_webhook)
from tests.providers.conftest import RIDEHAIL_KEYS, client, fault

KEY, SECRET = "k1", "s3cret"


def secret_for(key):
    return SECRET if key == KEY else None


def test_canonical_sorts_and_encodes_nested_values_compactly():
    params = {"b": "2", "a": 1, "sign": "x", "none": None, "obj": {"z": 1, "y": [1, "二"]}}
    # {"y":[1,"二"],"z":1}, percent-encoded as UTF-8
    assert canonical(params) == \
        "a=1&b=2&obj=%7B%22y%22%3A%5B1%2C%22%E4%BA%8C%22%5D%2C%22z%22%3A1%7D"


def test_canonical_escapes_separators_so_no_boundary_can_move():
    assert canonical({"nonce": "n1&occurred_at=t", "a-b_c.d~": "&="}) == \
        "a-b_c.d~=%26%3D&nonce=n1%26occurred_at%3Dt"


def test_a_field_moved_into_the_nonce_breaks_the_signature():
    """The shift attack: the signed ``occurred_at`` folded into the nonce once gave the same
    string (``…&nonce=N&occurred_at=T&…``) and so a valid signature with a "new" nonce."""
    store = MemoryNonceStore()
    params = sign_params({"event": "order.state", "occurred_at": "2026-12-02T08:00:00+00:00",
                          "order_id": "RH1", "state": "in_trip"}, KEY, SECRET)
    assert verify(params, secret_for, nonce_store=store) == KEY
    shifted = {**params, "nonce": f"{params['nonce']}&occurred_at={params['occurred_at']}"}
    del shifted["occurred_at"]
    with pytest.raises(SignatureError) as err:
        verify(shifted, secret_for, nonce_store=store)
    assert err.value.code == "bad_sign"


BODY = b'{"event":"reservation.state","order_id":"RS1","state":"finished"}'


def test_webhook_signature_follows_standard_webhooks():
    # The specification's example: msg_p5jXN8AQM9LWM0D4loKWxJek, 1614265330, whsec_MfKQ9r8…
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    headers = sign_webhook("msg_p5jXN8AQM9LWM0D4loKWxJek", body, secret, now=1614265330)
    assert headers == {"webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
                       "webhook-timestamp": "1614265330",
                       "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}
    # Our plain secrets are keys as UTF-8; any of several space-separated signatures will do.
    plain = sign_webhook("msg_1", BODY, SECRET, now=1614265330)
    raw = base64.b64encode(hmac.new(SECRET.encode(), b"msg_1.1614265330." + BODY,
                                    hashlib.sha256).digest()).decode()
    assert plain["webhook-signature"] == "v1," + raw
    verify_webhook({**plain, "webhook-signature": f"v1,bm90IHRoaXM= v1,{raw}"}, BODY, SECRET,
                   key=KEY, now=1614265330)


@pytest.mark.parametrize("tamper, code", [
    (lambda h, b: (h, b.replace(b"finished", b"cancelled")), "bad_sign"),
    (lambda h, b: ({**h, "webhook-id": "msg_2"}, b), "bad_sign"),  # a "new" id
    (lambda h, b: ({**h, "webhook-timestamp": str(int(h["webhook-timestamp"]) + 1)}, b),
     "bad_sign"),
    (lambda h, b: ({**h, "webhook-signature": h["webhook-signature"][3:]}, b), "bad_sign"),
    (lambda h, b: ({**h, "webhook-id": "msg_1.1"}, b), "bad_sign"),  # no "." in an id
    (lambda h, b: ({**h, "webhook-id": "m" * 81}, b), "bad_sign"),
    (lambda h, b: ({k: v for k, v in h.items() if k != "webhook-id"}, b), "missing"),
    (lambda h, b: ({**h, "webhook-timestamp": "１２"}, b), "stale"),
])
def test_verify_webhook_refuses_tampered_messages(tamper, code):
    headers, body = tamper(sign_webhook("msg_1", BODY, SECRET), BODY)
    with pytest.raises(SignatureError) as err:
        verify_webhook(headers, body, SECRET, key=KEY)
    assert err.value.code == code


@pytest.mark.parametrize("age, ok", [(299, True), (-299, True), (301, False), (-301, False)])
def test_verify_webhook_accepts_only_a_five_minute_window(age, ok):
    now = 1_800_000_000
    headers = sign_webhook("msg_1", BODY, SECRET, now=now - age)
    if ok:
        verify_webhook(headers, BODY, SECRET, key=KEY, now=now)
    else:
        with pytest.raises(SignatureError, match="window"):
            verify_webhook(headers, BODY, SECRET, key=KEY, now=now)


def test_verify_webhook_refuses_a_seen_id_even_re_signed_but_not_a_forged_one():
    store = MemoryNonceStore()
    headers = sign_webhook("msg_1", BODY, SECRET)
    with pytest.raises(SignatureError):  # must not use up the id
        verify_webhook({**headers, "webhook-signature": "v1,AAAA"}, BODY, SECRET, key=KEY,
                       nonce_store=store)
    verify_webhook(headers, BODY, SECRET, key=KEY, nonce_store=store)
    again = sign_webhook("msg_1", BODY, SECRET, now=time.time() + 1)  # a later signing
    with pytest.raises(SignatureError) as err:
        verify_webhook(again, BODY, SECRET, key=KEY, nonce_store=store)
    assert err.value.code == "replayed"


def test_signature_is_hmac_sha256_hex_of_the_canonical_string():
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
