"""WeChat mini-program server API adapter: login, phone number, access token, subscription messages."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Protocol

import requests

log = logging.getLogger(__name__)

# errcodes worth another try later: system busy, rate limit.
TRANSIENT_ERRCODES = {-1, 45009, 45011}
TOKEN_ERRCODES = {40001, 42001}


class WeChatError(Exception):
    """WeChat answered with a non-zero errcode, or could not be reached (errcode None)."""

    def __init__(self, errcode: int | None, errmsg: str):
        super().__init__(f"wechat errcode={errcode} {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg

    @property
    def transient(self) -> bool:
        return self.errcode is None or self.errcode in TRANSIENT_ERRCODES


@dataclass(frozen=True)
class WxSession:
    openid: str
    unionid: str | None = None


class TokenCache(Protocol):
    """Where the one shared access token lives; implementations serialise refreshes."""

    def get(self, refresh: Callable[[], tuple[str, int]], *, stale: str | None = None) -> str:
        """The current token; refreshed (once, across all workers) when missing, near
        expiry, or equal to ``stale`` — a token WeChat just rejected."""


class MemoryTokenCache:
    """Process-local cache (tests, single process); the app uses a database-backed one."""

    def __init__(self, margin_seconds: int = 300):
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = 0.0
        self._margin = margin_seconds

    def get(self, refresh, *, stale=None):
        with self._lock:
            if (self._token is None or self._token == stale
                    or time.time() > self._expires - self._margin):
                self._token, ttl = refresh()
                self._expires = time.time() + ttl
            return self._token


class WeChatClient:
    def __init__(self, base_url: str, appid: str, secret: str, *, timeout: float = 3.0,
                 token_cache: TokenCache | None = None, http: requests.Session | None = None):
        self.base_url = base_url.rstrip("/")
        self.appid = appid
        self.secret = secret
        self.timeout = timeout
        self.token_cache = token_cache or MemoryTokenCache()
        self.http = http or requests.Session()

    def _call(self, method: str, path: str, **kwargs) -> dict:
        try:
            resp = self.http.request(method, self.base_url + path, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise WeChatError(None, f"network error: {exc.__class__.__name__}") from exc
        if resp.status_code >= 500:
            raise WeChatError(None, f"http {resp.status_code}")
        try:
            data = resp.json()
        except ValueError as exc:
            raise WeChatError(None, "malformed response") from exc
        if not isinstance(data, dict):
            raise WeChatError(None, "malformed response")
        errcode = data.get("errcode", 0)
        if errcode:
            raise WeChatError(int(errcode), str(data.get("errmsg", "")))
        return data

    def code2session(self, code: str) -> WxSession:
        """Exchange a wx.login code for the openid; the session_key never leaves this method."""
        data = self._call("GET", "/sns/jscode2session", params={
            "appid": self.appid, "secret": self.secret, "js_code": code,
            "grant_type": "authorization_code"})
        if not data.get("openid"):
            raise WeChatError(None, "malformed response: no openid")
        return WxSession(openid=data["openid"], unionid=data.get("unionid"))

    def _fetch_token(self) -> tuple[str, int]:
        data = self._call("GET", "/cgi-bin/token", params={
            "grant_type": "client_credential", "appid": self.appid, "secret": self.secret})
        return data["access_token"], int(data.get("expires_in", 7200))

    def _with_token(self, path: str, body: dict) -> dict:
        token = self.token_cache.get(self._fetch_token)
        try:
            return self._call("POST", path, params={"access_token": token}, json=body)
        except WeChatError as exc:
            if exc.errcode not in TOKEN_ERRCODES:
                raise
            log.info("wechat access token rejected (%s); refreshing once", exc.errcode)
            token = self.token_cache.get(self._fetch_token, stale=token)
            return self._call("POST", path, params={"access_token": token}, json=body)

    def phone_number(self, code: str) -> str:
        """Resolve a getPhoneNumber button code to the user's phone number (no country code)."""
        data = self._with_token("/wxa/business/getuserphonenumber", {"code": code})
        info = data.get("phone_info") or {}
        phone = info.get("purePhoneNumber") or info.get("phoneNumber")
        if not phone:
            raise WeChatError(None, "malformed response: no phone")
        return phone

    def send_subscribe_message(self, *, touser: str, template_id: str, page: str,
                               data: dict[str, str], state: str = "formal") -> None:
        """Send one subscription message; ``data`` maps keys like ``thing1`` to plain values."""
        self._with_token("/cgi-bin/message/subscribe/send", {
            "touser": touser, "template_id": template_id, "page": page,
            "miniprogram_state": state, "lang": "zh_CN",
            "data": {key: {"value": value} for key, value in data.items()}})


def fit_value(kind: str, value: str) -> str:
    """Trim a value to WeChat's field rule for ``kind`` so a long name never fails a send."""
    if kind == "thing":
        return value if len(value) <= 20 else value[:19] + "…"
    if kind == "character_string":
        cleaned = "".join(ch for ch in value if 0x21 <= ord(ch) <= 0x7E)
        return cleaned[:32] or "-"
    if kind == "phrase":
        cjk = "".join(ch for ch in value if "\u4e00" <= ch <= "\u9fff")
        return cjk[:5] or "待处理"
    return value
