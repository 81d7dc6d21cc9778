"""WeChat mini-program server API adapter: login, phone number, access token, subscription messages."""
from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Callable, Protocol

import requests

log = logging.getLogger(__name__)
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")

# errcodes worth another try later: system busy, per-minute API rate limit.
TRANSIENT_ERRCODES = {-1, 45011}
# The access token was rejected: refresh it (once) and repeat the call.
TOKEN_ERRCODES = {40001, 40014, 42001}
# Permanent for this message: 45009 the daily quota is spent (a retry today fails again and
# spends nothing but the quota of other calls), 40226 the user is blocked (高风险等级用户),
# 43101 the user holds no grant for the template, 47003 a value breaks its keyword's rule.
DAILY_QUOTA, BLOCKED_USER, NO_GRANT, BAD_ARGUMENT = 45009, 40226, 43101, 47003


class WeChatError(Exception):
    """WeChat answered with a non-zero errcode, or could not be reached (errcode None)."""

    def __init__(self, errcode: int | None, errmsg: str):
        super().__init__(f"wechat errcode={errcode} {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg

    @property
    def transient(self) -> bool:
        """Worth another try later; everything else (45009, 40226, 43101, 47003, …) is not."""
        return self.errcode is None or self.errcode in TRANSIENT_ERRCODES

    @property
    def no_grant(self) -> bool:
        return self.errcode == NO_GRANT


@dataclass(frozen=True)
class WxSession:
    openid: str
    unionid: str | None = None


class TokenCache(Protocol):
    """Where the one shared access token lives; implementations serialise refreshes."""

    def get(self, refresh: Callable[[bool], tuple[str, int]], *, stale: str | None = None) -> str:
        """The current token; refreshed (once, across all workers) when missing, near
        expiry, or equal to ``stale`` — a token WeChat just rejected. ``refresh(force)``
        fetches one; ``force`` is true when the token was rejected (WeChat's
        ``force_refresh``), false when it is merely missing or near its end."""


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
                self._token, ttl = refresh(self._token is not None and self._token == stale)
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

    def _fetch_token(self, force: bool = False) -> tuple[str, int]:
        """``/cgi-bin/stable_token``: in normal mode WeChat answers the token still in force
        (a fetch never invalidates the one other processes use, unlike ``/cgi-bin/token``);
        ``force_refresh`` only after WeChat rejected the token we hold."""
        data = self._call("POST", "/cgi-bin/stable_token", json={
            "grant_type": "client_credential", "appid": self.appid, "secret": self.secret,
            "force_refresh": bool(force)})
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise WeChatError(None, "malformed response: no access_token")
        return token, int(data.get("expires_in", 7200))

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


# --- keyword values (subscribeMessage.send "参数值内容限制说明") ---------------------------------
# thing ≤ 20 characters; number ≤ 32 digits (a decimal allowed); letter ≤ 32 letters;
# symbol ≤ 5 symbols; character_string ≤ 32 digits/letters/symbols; time and date are
# 24-hour dates/times (a "~" range allowed); amount is one currency sign and ≤ 10 digits,
# decimals allowed, "元" allowed at the end; phone_number ≤ 17 digits and symbols;
# car_number ≤ 8, letters and digits, only the first and the last may be Chinese;
# name ≤ 10 Chinese characters or ≤ 20 letters/symbols; phrase ≤ 5 Chinese characters.
# No value may be empty or carry control characters. The WeChat sandbox checks the same.

KEYWORD_KINDS = ("thing", "number", "letter", "symbol", "character_string", "time", "date",
                 "amount", "phone_number", "car_number", "name", "phrase")
_KIND = re.compile(r"^([a-z_]+?)(\d+)$")


def keyword_kind(key: str) -> str:
    """``car_number12`` → ``car_number``; ValueError for a key of no known kind."""
    match = _KIND.match(key)
    if not match or match.group(1) not in KEYWORD_KINDS:
        raise ValueError(f"not a subscribe-message keyword: {key!r}")
    return match.group(1)


def is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


def is_ascii_symbol(ch: str) -> bool:
    return 0x21 <= ord(ch) <= 0x7E and not ch.isalnum()


def strip_controls(value: str) -> str:
    """Drop control and invisible format characters (newlines, NUL, zero-width, bidi)."""
    return "".join(ch for ch in value if unicodedata.category(ch) not in ("Cc", "Cf"))


def _local_minute(value: datetime) -> datetime:
    if value.tzinfo is not None:
        value = value.astimezone(BEIJING)
    return value


def fit_value(kind: str, value) -> str:
    """Make ``value`` acceptable for a keyword of ``kind`` (never empty, never over its
    limit), so that no send fails on a long purpose, a "·" in a plate or a stray newline.

    ``time``/``date`` take a datetime/date (shown in Beijing time) or an already formatted
    string; ``amount`` takes a Decimal or a numeric string (shown as ``¥12.50``)."""
    if kind in ("time", "date"):
        if isinstance(value, str):
            try:  # an ISO timestamp ("2026-12-01T09:00+08:00") is shown like a datetime
                value = datetime.fromisoformat(value.strip())
            except ValueError:
                return strip_controls(value).strip() or "-"
        if kind == "time" and isinstance(value, datetime):
            return _local_minute(value).strftime("%Y-%m-%d %H:%M")
        if isinstance(value, datetime):
            return _local_minute(value).strftime("%Y-%m-%d")
        return value.strftime("%Y-%m-%d")
    if kind == "amount":
        amount = Decimal(str(value).lstrip("¥￥").removesuffix("元").strip() or "0")
        return f"¥{amount.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}"
    text = strip_controls(str(value if value is not None else "")).strip()
    if kind == "thing":
        text = " ".join(text.split())
        return (text if len(text) <= 20 else text[:19] + "…") or "-"
    if kind == "number":
        match = re.search(r"\d+(\.\d+)?", text.replace(",", ""))
        return match.group(0)[:32].rstrip(".") if match else "0"
    if kind == "letter":
        return "".join(ch for ch in text if ch.isascii() and ch.isalpha())[:32] or "X"
    if kind == "symbol":
        return "".join(ch for ch in text if is_ascii_symbol(ch))[:5] or "-"
    if kind == "character_string":
        return "".join(ch for ch in text if 0x21 <= ord(ch) <= 0x7E)[:32] or "-"
    if kind == "phone_number":
        return "".join(ch for ch in text if ch.isdigit() or ch in "+-")[:17] or "-"
    if kind == "car_number":
        return fit_plate(text)
    if kind == "name":
        name = "".join(text.split())
        if any(is_cjk(ch) for ch in name):
            return name[:10]
        return name[:20] or "-"
    if kind == "phrase":
        return "".join(ch for ch in text if is_cjk(ch))[:5] or "待处理"
    raise ValueError(f"unknown keyword kind {kind!r}")


def fit_plate(text: str) -> str:
    """A plate as WeChat's car_number accepts it: ≤ 8, letters and digits, Chinese only
    first or last. "苏D·T0001" (the printed separator) → "苏DT0001"; "苏D-12345警" keeps
    its last character; junk that leaves nothing is "待定" (a valid placeholder)."""
    chars = [ch.upper() if ch.isascii() else ch for ch in text
             if (ch.isascii() and ch.isalnum()) or is_cjk(ch)]
    if not chars:
        return "待定"
    head = chars[0] if is_cjk(chars[0]) else ""
    tail = chars[-1] if len(chars) > 1 and is_cjk(chars[-1]) else ""
    middle = [ch for ch in chars[1 if head else 0:len(chars) - 1 if tail else len(chars)]
              if ch.isascii()]
    room = 8 - len(head) - len(tail)
    return head + "".join(middle[:room]) + tail
