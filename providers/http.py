"""The one signed HTTP client for supply providers, and the signature rules both ways.

``SignedClient`` speaks any provider's wire protocol given as configuration
(``providers.protocol.WireProtocol``: signer recipe, envelope and success rule, content
type, signed calls or an access token, money unit); the default is ours, described here.

Signing (ours, SPEC §3): every request carries ``app_key``, ``timestamp`` (Unix seconds) and
``nonce``; ``sign`` is the lowercase hex HMAC-SHA256, keyed by the shared secret, of the
parameters other than ``sign`` sorted by name and joined as ``k=v&k=v``, each key and value
percent-encoded (RFC 3986: all but ``A-Z a-z 0-9 - _ . ~``), so that no ``&`` or ``=`` in a
value can move a boundary (``nonce=n&occurred_at=t`` and ``nonce=n%26occurred_at%3Dt``
differ). Strings are taken as they are; every other value as compact JSON with sorted keys
(so nested objects of a JSON body sign the same on both sides). GET requests sign their
query parameters, POST requests their top-level JSON body. Responses (``{code, msg,
data}``) and ride-hailing callbacks are signed the same way, and ``verify`` checks all of
them: the signature, a 5-minute timestamp window and, given a nonce store, that the nonce
was not seen before.

Callbacks of our own protocol (rental suppliers) follow Standard Webhooks: the JSON body
goes as it is, and the headers ``webhook-id``, ``webhook-timestamp`` and
``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` sign it (raw
bytes; a secret ``whsec_<base64>`` is the base64-decoded key, any other its UTF-8 bytes).
``verify_webhook`` checks the signature, the same window and, given a nonce store, that
the ``webhook-id`` was not seen before (a sender keeps the id when it retries a message).

Transport time is the wall clock (``time.time``), not ``app.clock``: signatures are about
the two machines' real clocks, even while a test freezes the application's time.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import time
from typing import Any, Callable, Mapping, Protocol

import requests

from providers.base import MalformedResponse, ProviderError, ProviderTimeout, SignatureError
from providers.protocol import OTB, WireProtocol, as_text

log = logging.getLogger(__name__)

SIGNATURE_WINDOW_SECONDS = 300
# The code the supply APIs answer when our signature does not hold.
INVALID_SIGN_CODE = 40101
AUTH_FIELDS = ("app_key", "timestamp", "nonce", "sign")
WEBHOOK_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
# A webhook id holds no "." (the separator of the signed string) and fits the nonce table.
WEBHOOK_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")


def canonical(params: Mapping[str, Any]) -> str:
    """The string that is signed: sorted, percent-encoded ``k=v`` pairs without ``sign`` and
    without nulls (our protocol's recipe, ``providers.protocol.OTB``)."""
    return OTB.signer.base_string(params, "")


def signature(params: Mapping[str, Any], secret: str) -> str:
    return OTB.signer.sign(params, secret)


def sign_params(params: Mapping[str, Any], app_key: str, secret: str, *,
                now: float | None = None) -> dict[str, Any]:
    """``params`` plus ``app_key``, ``timestamp``, ``nonce`` and their ``sign``."""
    signed = {**params, "app_key": app_key,
              "timestamp": str(int(now if now is not None else time.time())),
              "nonce": secrets.token_hex(16)}
    signed["sign"] = signature(signed, secret)
    return signed


class NonceStore(Protocol):
    def add(self, key: str, nonce: str, expires_at: float) -> bool:
        """Remember ``nonce`` for ``key`` until ``expires_at``; False when it was seen already."""


class MemoryNonceStore:
    """Process-local nonce memory (sandboxes, tests); the app can back it with a table."""

    def __init__(self):
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def add(self, key: str, nonce: str, expires_at: float) -> bool:
        now = time.time()
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen = {k: exp for k, exp in self._seen.items() if exp > now}
            if self._seen.get((key, nonce), 0) > now:
                return False
            self._seen[(key, nonce)] = expires_at
            return True


def _webhook_key(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        return base64.b64decode(secret.removeprefix("whsec_"))
    return secret.encode()


def webhook_signature(msg_id: str, timestamp: str, body: bytes, secret: str) -> str:
    """Standard Webhooks' v1 signature: base64 HMAC-SHA256 of ``id.timestamp.body``."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return base64.b64encode(hmac.new(_webhook_key(secret), signed, hashlib.sha256).digest()
                            ).decode()


def sign_webhook(msg_id: str, body: bytes, secret: str, *,
                 now: float | None = None) -> dict[str, str]:
    """The Standard Webhooks headers that sign ``body`` as message ``msg_id``."""
    timestamp = str(int(now if now is not None else time.time()))
    return {"webhook-id": msg_id, "webhook-timestamp": timestamp,
            "webhook-signature": "v1," + webhook_signature(msg_id, timestamp, body, secret)}


def verify_webhook(headers: Mapping[str, str], body: bytes, secret: str, *, key: str,
                   nonce_store: NonceStore | None = None, now: float | None = None,
                   window: int = SIGNATURE_WINDOW_SECONDS) -> None:
    """Check a Standard Webhooks message; its id is remembered under ``key`` in the store.

    Raises SignatureError like ``verify`` (missing, stale, bad_sign, replayed); the id is
    recorded only after the signature holds.
    """
    missing = [h for h in WEBHOOK_HEADERS if not headers.get(h)]
    if missing:
        raise SignatureError(f"missing {', '.join(missing)}", code="missing")
    msg_id, timestamp = headers["webhook-id"], headers["webhook-timestamp"]
    if not WEBHOOK_ID.fullmatch(msg_id):
        raise SignatureError("malformed webhook-id", code="bad_sign")
    if not timestamp.isascii() or not timestamp.isdigit():
        raise SignatureError("timestamp is not an integer", code="stale")
    now = now if now is not None else time.time()
    if abs(now - int(timestamp)) > window:
        raise SignatureError("timestamp outside the window", code="stale")
    expected = webhook_signature(msg_id, timestamp, body, secret)
    given = [sig.removeprefix("v1,") for sig in headers["webhook-signature"].split()
             if sig.startswith("v1,")]
    if not any(hmac.compare_digest(expected.encode(), sig.encode()) for sig in given):
        raise SignatureError("signature mismatch", code="bad_sign")
    if nonce_store is not None and not nonce_store.add(key, msg_id, int(timestamp) + window):
        raise SignatureError("webhook-id replayed", code="replayed")


def verify(params: Mapping[str, Any], secret_for: Callable[[str], str | None], *,
           nonce_store: NonceStore | None = None, now: float | None = None,
           window: int = SIGNATURE_WINDOW_SECONDS) -> str:
    """Check a signed request, response or callback; returns its ``app_key``.

    Raises SignatureError (``code`` says why: missing, unknown_key, stale, bad_sign,
    replayed). The nonce is recorded only after the signature holds, so forged messages
    cannot use up nonces.
    """
    missing = [f for f in AUTH_FIELDS if not params.get(f)]
    if missing:
        raise SignatureError(f"missing {', '.join(missing)}", code="missing")
    app_key = str(params["app_key"])
    secret = secret_for(app_key)
    if not secret:
        raise SignatureError("unknown app_key", code="unknown_key")
    try:
        timestamp = int(str(params["timestamp"]))
    except ValueError:
        raise SignatureError("timestamp is not an integer", code="stale") from None
    now = now if now is not None else time.time()
    if abs(now - timestamp) > window:
        raise SignatureError("timestamp outside the window", code="stale")
    if not hmac.compare_digest(signature(params, secret), str(params["sign"])):
        raise SignatureError("signature mismatch", code="bad_sign")
    if nonce_store is not None and not nonce_store.add(app_key, str(params["nonce"]),
                                                        timestamp + window):
        raise SignatureError("nonce replayed", code="replayed")
    return app_key


class SignedClient:
    """Signed calls to one provider in its wire protocol (``providers.protocol``), with its
    timeouts, retries and error translation.

    ``call`` returns the envelope's data or raises ProviderTimeout, ProviderError (a code
    other than success, 5xx, unreachable), MalformedResponse or SignatureError (a signed
    answer whose signature does not hold, or a code the protocol lists as "bad signature").
    Our protocol signs every call with ``app_key``, ``timestamp`` and ``nonce`` and checks
    the signed answer; a token protocol (DiDi) sends ``client_id``, ``access_token`` and
    ``timestamp``, signs with ``sign_key`` (never sent), fetches the token with the client
    secret, renews it a minute before it expires and once more when the provider answers
    a token code. Retries (with exponential backoff) happen only for idempotent calls:
    every GET, and a POST the caller marks ``idempotent`` because it carries an id the
    provider deduplicates.
    """

    TOKEN_MARGIN_SECONDS = 60

    def __init__(self, base_url: str, app_key: str, secret: str, *, provider: str = "",
                 connect_timeout: float = 0.5, read_timeout: float = 3.0, retries: int = 2,
                 backoff: float = 0.1, signature_codes: frozenset | None = None,
                 protocol: WireProtocol = OTB, sign_key: str = "",
                 session: requests.Session | None = None):
        self.base_url = base_url.rstrip("/")
        self.app_key = app_key
        self.secret = secret
        self.sign_key = sign_key or secret
        self.provider = provider
        self.protocol = protocol
        self.timeout = (connect_timeout, read_timeout)
        self.retries = retries
        self.backoff = backoff
        self.signature_codes = (protocol.signature_codes if signature_codes is None
                                else signature_codes)
        self.http = session or requests.Session()
        self._token: tuple[str, float] | None = None  # (access_token, expires at, wall clock)
        self._token_lock = threading.Lock()

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.call("GET", path, params or {}, idempotent=True)

    def post(self, path: str, body: Mapping[str, Any], *, idempotent: bool = False) -> Any:
        return self.call("POST", path, body, idempotent=idempotent)

    def call(self, method: str, path: str, payload: Mapping[str, Any], *,
             idempotent: bool) -> Any:
        attempts = 1 + (self.retries if idempotent else 0)
        for attempt in range(attempts):
            try:
                return self._once(method, path, payload)
            except _TokenRefused:
                # The provider no longer takes our token: a new one, and the call once more.
                self._forget_token()
                try:
                    return self._once(method, path, payload, retry_token=False)
                except _Transient as exc:
                    raise exc.as_provider_error() from None
            except (ProviderTimeout, _Transient) as exc:
                if attempt + 1 == attempts:
                    raise exc.as_provider_error() if isinstance(exc, _Transient) else exc
                delay = self.backoff * (2 ** attempt)
                log.info("%s %s %s failed (%s); retry %d in %.2fs", self.provider, method,
                         path, exc, attempt + 1, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")

    # --- authentication -------------------------------------------------------------------

    def sign(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``params`` with this protocol's authentication fields and their ``sign``."""
        if self.protocol.auth == "signed":
            if self.protocol is OTB:
                return sign_params(params, self.app_key, self.secret)
            signed = {**params, "app_key": self.app_key, "timestamp": str(int(time.time())),
                      "nonce": secrets.token_hex(16)}
        else:
            signed = {**params, "client_id": self.app_key, "access_token": self.access_token(),
                      "timestamp": str(int(time.time()))}
        signed[self.protocol.signer.sign_field] = self.protocol.signer.sign(signed, self.sign_key)
        return signed

    def access_token(self) -> str:
        """The current access token, fetched (or renewed shortly before expiry) as needed."""
        with self._token_lock:
            if self._token is None or self._token[1] - self.TOKEN_MARGIN_SECONDS <= time.time():
                self._token = self._fetch_token()
            return self._token[0]

    def _forget_token(self) -> None:
        with self._token_lock:
            self._token = None

    def _fetch_token(self) -> tuple[str, float]:
        params = {"client_id": self.app_key, "client_secret": self.secret,
                  "grant_type": "client_credentials", "timestamp": str(int(time.time()))}
        params[self.protocol.signer.sign_field] = self.protocol.signer.sign(params, self.sign_key)
        path = self.protocol.token_path
        try:
            resp = self.http.post(self.base_url + path, timeout=self.timeout,
                                  **self._body(params))
        except requests.Timeout as exc:
            raise ProviderTimeout(f"POST {path} timed out", provider=self.provider) from exc
        except requests.RequestException as exc:
            raise ProviderError(f"POST {path} unreachable: {exc.__class__.__name__}",
                                provider=self.provider) from exc
        data = self._unwrap(resp, f"POST {path}", token_call=True)
        try:
            return str(data["access_token"]), time.time() + int(data["expires_in"])
        except (KeyError, TypeError, ValueError):
            raise MalformedResponse(f"POST {path}: no access_token/expires_in",
                                    provider=self.provider) from None

    # --- one call -------------------------------------------------------------------------

    def _body(self, signed: Mapping[str, Any]) -> dict[str, Any]:
        if self.protocol.content_type == "form":
            return {"data": {k: _form_value(v) for k, v in signed.items()}}
        return {"json": signed}

    def _once(self, method: str, path: str, payload: Mapping[str, Any], *,
              retry_token: bool = True) -> Any:
        signed = self.sign(payload)
        url = self.base_url + path
        kwargs = {"params": signed} if method == "GET" else self._body(signed)
        try:
            resp = self.http.request(method, url, timeout=self.timeout, **kwargs)
        except requests.Timeout as exc:
            raise ProviderTimeout(f"{method} {path} timed out", provider=self.provider) from exc
        except requests.RequestException as exc:
            raise _Transient(f"{method} {path} unreachable: {exc.__class__.__name__}",
                             self.provider, None) from exc
        if resp.status_code >= 500:
            raise _Transient(f"{method} {path} answered HTTP {resp.status_code}",
                             self.provider, resp.status_code)
        return self._unwrap(resp, f"{method} {path}", retry_token=retry_token)

    def verify(self, params: Mapping[str, Any], *, nonce_store: NonceStore | None = None,
               now: float | None = None) -> None:
        """Check that ``params`` were signed with this provider's key (see ``verify``)."""
        verify(params, lambda key: self.secret if key == self.app_key else None,
               nonce_store=nonce_store, now=now)

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, *,
                       nonce_store: NonceStore | None = None, now: float | None = None) -> None:
        """Check a Standard Webhooks message signed with this provider's secret (see
        ``verify_webhook``); its id is remembered under our ``app_key``."""
        verify_webhook(headers, body, self.secret, key=self.app_key, nonce_store=nonce_store,
                       now=now)

    def _unwrap(self, resp: requests.Response, what: str, *, retry_token: bool = False,
                token_call: bool = False) -> Any:
        envelope = self.protocol.envelope
        try:
            body = resp.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or envelope.code_field not in body:
            raise MalformedResponse(f"{what}: not a JSON envelope (HTTP {resp.status_code})",
                                    provider=self.provider, code=resp.status_code)
        if envelope.signed:
            try:
                self.verify(body)
            except SignatureError as exc:
                raise SignatureError(f"{what}: response {exc}", provider=self.provider,
                                     code=exc.code) from None
        if not envelope.ok(body):
            code = body[envelope.code_field]
            if code in self.protocol.token_codes and retry_token and not token_call:
                raise _TokenRefused()
            cls = SignatureError if code in self.signature_codes else ProviderError
            raise cls(f"{what}: code {code} {body.get(envelope.message_field, '')}",
                      provider=self.provider, code=code)
        return body.get(envelope.data_field)


def _form_value(value: Any) -> str:
    """A form field's text: strings as they are, anything else as it is signed."""
    return as_text(value)


class _TokenRefused(Exception):
    """The provider refused our access token (expired or revoked before we knew)."""


class _Transient(Exception):
    """A retryable failure (unreachable, 5xx) before it becomes a ProviderError."""

    def __init__(self, message: str, provider: str, code: int | None):
        super().__init__(message)
        self.provider = provider
        self.code = code

    def as_provider_error(self) -> ProviderError:
        err = ProviderError(str(self), provider=self.provider, code=self.code)
        err.__cause__ = self.__cause__
        return err
