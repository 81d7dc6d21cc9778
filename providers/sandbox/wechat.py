"""WeChat server API simulator: jscode2session, access tokens, phone number, subscription messages.

Sandbox conventions: a login code ``sandbox:<openid>`` yields that openid (reusable, for
demos); ``sandbox:<openid>:<nonce>`` is single-use like a real code (40163 on reuse). A
phone code ``sandbox-phone:<phone>`` yields that phone.

Tokens: ``POST /cgi-bin/stable_token`` answers the token in force (a new one only when
there is none, it has expired, or ``force_refresh`` is set); ``GET /cgi-bin/token`` issues a
new token on every call and thereby invalidates the one before it, as WeChat does.

Subscription messages follow the real rules: every keyword value is checked against its
kind's limits (47003 otherwise), and each send spends one grant of the user for the
template: with no grant left the answer is 43101. Grants come from the user tapping
"allow" in ``wx.requestSubscribeMessage``; here ``POST /__sandbox/subscriptions
{touser, template_ids}`` adds one grant per template (``{touser, template_id, count}``
sets a count). ``create_app(require_grant=False)`` (the devserver's demo) lets sends
without a grant through. ``POST /__sandbox/send-errors {errcode, touser?, times?}`` makes
the next sends answer that errcode (45009 daily quota, 40226 blocked user, -1 busy).
Sent messages are recorded at ``GET /__sandbox/messages``; ``GET /__sandbox/stats``
counts tokens issued and token requests.
"""
from __future__ import annotations

import re
import secrets
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

from flask import Flask, jsonify, request

from providers.sandbox.server import install_faults, json_body

TOKEN_TTL = 7200
_PAGE = re.compile(r"^[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)*(\?[^\s]*)?$")
_KEY = re.compile(r"^([a-z_]+?)(\d+)$")


@dataclass
class WeChatState:
    appid: str
    secret: str
    require_grant: bool = True
    used_codes: set[str] = field(default_factory=set)
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (epoch)
    stable: str | None = None  # the stable_token in force
    legacy: str | None = None  # the last /cgi-bin/token
    tokens_issued: int = 0
    token_requests: int = 0  # calls to either token endpoint, answered or not
    subscriptions: dict[tuple[str, str], int] = field(default_factory=dict)
    send_errors: list[dict] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)
    refused: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _err(code: int, msg: str):
    return jsonify({"errcode": code, "errmsg": msg})


# --- the keyword rules (参数值内容限制说明), written independently of the adapter's fitting --

def _cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


def _ascii_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _symbol(ch: str) -> bool:
    return 0x21 <= ord(ch) <= 0x7E and not ch.isalnum()


def _parses(text: str, formats: tuple[str, ...]) -> bool:
    for fmt in formats:
        try:
            datetime.strptime(text, fmt)
            return True
        except ValueError:
            continue
    return False


_CLOCK = ("%H:%M", "%H:%M:%S")
_DAY = ("%Y-%m-%d", "%Y年%m月%d日", "%Y/%m/%d")


def _moment(text: str, kind: str) -> bool:
    """time: a 24-hour clock, optionally after a date; date: a date, optionally a clock."""
    day, _, clock = text.strip().partition(" ")
    if not clock:
        return _parses(day, _CLOCK if kind == "time" else _DAY)
    return _parses(day, _DAY) and _parses(clock, _CLOCK)


def check_value(kind: str, value) -> bool:
    if not isinstance(value, str) or not value:
        return False
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in value):
        return False
    if kind == "thing":
        return len(value) <= 20
    if kind == "number":
        return bool(re.fullmatch(r"\d+(\.\d+)?", value)) and len(value.replace(".", "")) <= 32
    if kind == "letter":
        return bool(re.fullmatch(r"[A-Za-z]{1,32}", value))
    if kind == "symbol":
        return len(value) <= 5 and all(_symbol(ch) for ch in value)
    if kind == "character_string":
        return bool(re.fullmatch(r"[\x21-\x7e]{1,32}", value))
    if kind in ("time", "date"):
        return all(_moment(part, kind) for part in value.split("~"))
    if kind == "amount":
        return bool(re.fullmatch(r"[¥￥$€£]\d{1,10}(\.\d{1,2})?元?", value))
    if kind == "phone_number":
        return bool(re.fullmatch(r"[\d+\-]{1,17}", value))
    if kind == "car_number":
        # ≤ 8; letters and digits; only the first and the last may be Chinese ("·" is not).
        return (len(value) <= 8 and all(_ascii_alnum(ch) for ch in value[1:-1])
                and all(_ascii_alnum(ch) or _cjk(ch) for ch in (value[0], value[-1])))
    if kind == "name":
        if any(_cjk(ch) for ch in value):
            return len(value) <= 10
        return len(value) <= 20 and all(0x21 <= ord(ch) <= 0x7E for ch in value)
    if kind == "phrase":
        return len(value) <= 5 and all(_cjk(ch) for ch in value)
    return False  # an unknown kind: WeChat's template would not have such a keyword


def create_app(appid: str = "wx-sandbox-appid", secret: str = "wx-sandbox-secret", *,
               require_grant: bool = True) -> Flask:
    app = Flask("wechat_sandbox")
    state = WeChatState(appid=appid, secret=secret, require_grant=require_grant)
    app.extensions["wechat_state"] = state
    install_faults(app)

    def token_error():
        token = request.args.get("access_token", "")
        expiry = state.tokens.get(token)
        if expiry is None:
            return _err(40001, "invalid credential, access_token is invalid or not latest")
        if expiry < time.time():
            return _err(42001, "access_token expired")
        return None

    def credentials_error(args):
        if args.get("grant_type") != "client_credential":
            return _err(40002, "invalid grant_type")
        if args.get("appid") != state.appid:
            return _err(40013, "invalid appid")
        if args.get("secret") != state.secret:
            return _err(40125, "invalid appsecret")
        return None

    def issue() -> str:
        tok = secrets.token_urlsafe(24)
        state.tokens[tok] = time.time() + TOKEN_TTL
        state.tokens_issued += 1
        return tok

    @app.get("/sns/jscode2session")
    def jscode2session():
        args = request.args
        if args.get("appid") != state.appid:
            return _err(40013, "invalid appid")
        if args.get("secret") != state.secret:
            return _err(40125, "invalid appsecret")
        if args.get("grant_type") != "authorization_code":
            return _err(40002, "invalid grant_type")
        code = args.get("js_code", "")
        parts = code.split(":")
        if len(parts) not in (2, 3) or parts[0] != "sandbox" or not parts[1]:
            return _err(40029, "invalid code")
        with state.lock:
            if len(parts) == 3:
                if code in state.used_codes:
                    return _err(40163, "code been used")
                state.used_codes.add(code)
        return jsonify({"openid": parts[1], "session_key": secrets.token_urlsafe(16)})

    @app.get("/cgi-bin/token")
    def token():
        with state.lock:
            state.token_requests += 1
        if (bad := credentials_error(request.args)) is not None:
            return bad
        with state.lock:
            if state.legacy is not None:  # each fetch invalidates the previous token
                state.tokens.pop(state.legacy, None)
            state.legacy = tok = issue()
        return jsonify({"access_token": tok, "expires_in": TOKEN_TTL})

    @app.post("/cgi-bin/stable_token")
    def stable_token():
        body = json_body()
        if (bad := credentials_error(body)) is not None:
            return bad
        with state.lock:
            state.token_requests += 1
        force = body.get("force_refresh", False)
        if not isinstance(force, bool):
            return _err(47001, "data format error: force_refresh")
        with state.lock:
            current = state.stable
            left = state.tokens.get(current, 0) - time.time() if current else 0
            if force or left <= 0:
                if current is not None:
                    state.tokens.pop(current, None)
                state.stable = current = issue()
                left = TOKEN_TTL
        return jsonify({"access_token": current, "expires_in": int(left)})

    @app.post("/wxa/business/getuserphonenumber")
    def phone_number():
        if (bad := token_error()) is not None:
            return bad
        code = json_body().get("code", "")
        if not code.startswith("sandbox-phone:") or len(code) <= len("sandbox-phone:"):
            return _err(40029, "invalid code")
        phone = code.split(":", 1)[1]
        return jsonify({"errcode": 0, "errmsg": "ok", "phone_info": {
            "phoneNumber": phone, "purePhoneNumber": phone, "countryCode": "86",
            "watermark": {"timestamp": int(time.time()), "appid": state.appid}}})

    def injected_error(touser: str):
        for rule in state.send_errors:
            if rule.get("touser") in (None, touser):
                if rule.get("times") is not None:
                    rule["times"] -= 1
                    if rule["times"] <= 0:
                        state.send_errors.remove(rule)
                return rule["errcode"]
        return None

    @app.post("/cgi-bin/message/subscribe/send")
    def subscribe_send():
        if (bad := token_error()) is not None:
            return bad
        body = json_body()
        touser, template_id = body.get("touser"), body.get("template_id", "")
        if not isinstance(touser, str) or not touser:
            return _err(40003, "invalid openid")
        if not isinstance(template_id, str) or not template_id.startswith("tmpl-"):
            return _err(40037, "invalid template_id")
        page = body.get("page")
        if page is not None and not _PAGE.match(page):
            return _err(41030, "invalid page")
        if body.get("miniprogram_state", "formal") not in ("developer", "trial", "formal"):
            return _err(47003, "argument invalid! miniprogram_state invalid")
        data = body.get("data")
        if not isinstance(data, dict) or not data:
            return _err(47003, "argument invalid! data is empty")
        for key, item in data.items():
            match = _KEY.match(key)
            value = item.get("value") if isinstance(item, dict) else None
            if not match or not check_value(match.group(1), value):
                with state.lock:
                    state.refused.append({**body, "errcode": 47003, "key": key})
                return _err(47003, f"argument invalid! data.{key}.value invalid")
        with state.lock:
            if (errcode := injected_error(touser)) is not None:
                state.refused.append({**body, "errcode": errcode})
                return _err(errcode, {45009: "reach max api daily quota limit",
                                      40226: "invalid user, user is blocked"}.get(errcode,
                                                                                  "error"))
            left = state.subscriptions.get((touser, template_id))
            if left is not None or state.require_grant:
                if not left:
                    state.refused.append({**body, "errcode": 43101})
                    return _err(43101, "user refuse to accept the msg")
                state.subscriptions[(touser, template_id)] = left - 1
            state.messages.append({**body, "received_at": time.time()})
        return _err(0, "ok")

    @app.get("/__sandbox/messages")
    def messages():
        touser = request.args.get("touser")
        with state.lock:
            items = [m for m in state.messages if touser in (None, m["touser"])]
            refused = [m for m in state.refused if touser in (None, m["touser"])]
        return jsonify({"items": items, "refused": refused})

    @app.post("/__sandbox/subscriptions")
    def set_subscription():
        """The user taps "allow": one grant per template (or set ``count`` for one)."""
        body = json_body()
        with state.lock:
            if "count" in body:
                state.subscriptions[(body["touser"], body["template_id"])] = int(body["count"])
            else:
                for template_id in body["template_ids"]:
                    key = (body["touser"], template_id)
                    state.subscriptions[key] = state.subscriptions.get(key, 0) + 1
            grants = {t: n for (u, t), n in state.subscriptions.items() if u == body["touser"]}
        return jsonify({"ok": True, "grants": grants})

    @app.post("/__sandbox/send-errors")
    def send_errors():
        body = json_body()
        with state.lock:
            state.send_errors.append({"errcode": int(body["errcode"]),
                                      "touser": body.get("touser"), "times": body.get("times")})
        return jsonify({"ok": True})

    @app.delete("/__sandbox/send-errors")
    def clear_send_errors():
        with state.lock:
            state.send_errors.clear()
        return jsonify({"ok": True})

    @app.post("/__sandbox/expire-tokens")
    def expire_tokens():
        with state.lock:
            for tok in state.tokens:
                state.tokens[tok] = 0
        return jsonify({"ok": True})

    @app.get("/__sandbox/stats")
    def stats():
        return jsonify({"tokens_issued": state.tokens_issued, "token_requests": state.token_requests,
                        "messages": len(state.messages)})

    return app
