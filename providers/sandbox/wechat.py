"""WeChat server API simulator: jscode2session, access token, phone number, subscription messages.

Sandbox conventions: a login code ``sandbox:<openid>`` yields that openid (reusable, for
demos); ``sandbox:<openid>:<nonce>`` is single-use like a real code (40163 on reuse). A
phone code ``sandbox-phone:<phone>`` yields that phone. Subscriptions are unlimited unless
a test sets a count with ``POST /__sandbox/subscriptions``; at zero the send is 43101.
Sent messages are recorded at ``GET /__sandbox/messages``.
"""
from __future__ import annotations

import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from flask import Flask, jsonify, request

from providers.sandbox.server import install_faults, json_body

TOKEN_TTL = 7200
_PAGE = re.compile(r"^[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)*(\?[^\s]*)?$")
_CHAR_STRING = re.compile(r"^[\x21-\x7e]{1,32}$")
_CJK = re.compile(r"^[\u4e00-\u9fff]{1,5}$")


@dataclass
class WeChatState:
    appid: str
    secret: str
    used_codes: set[str] = field(default_factory=set)
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (epoch)
    tokens_issued: int = 0
    subscriptions: dict[tuple[str, str], int] = field(default_factory=dict)
    messages: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _err(code: int, msg: str):
    return jsonify({"errcode": code, "errmsg": msg})


def _check_value(kind: str, value: str) -> bool:
    if not isinstance(value, str) or not value:
        return False
    if kind == "thing":
        return len(value) <= 20
    if kind == "character_string":
        return bool(_CHAR_STRING.match(value))
    if kind == "phrase":
        return bool(_CJK.match(value))
    if kind == "time":
        try:
            datetime.strptime(value, "%Y-%m-%d %H:%M")
            return True
        except ValueError:
            return False
    if kind == "number":
        return bool(re.fullmatch(r"\d{1,32}(\.\d+)?", value))
    if kind == "name":
        return len(value) <= 10
    return len(value) <= 20


def create_app(appid: str = "wx-sandbox-appid", secret: str = "wx-sandbox-secret") -> Flask:
    app = Flask("wechat_sandbox")
    state = WeChatState(appid=appid, secret=secret)
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
        args = request.args
        if args.get("grant_type") != "client_credential":
            return _err(40002, "invalid grant_type")
        if args.get("appid") != state.appid:
            return _err(40013, "invalid appid")
        if args.get("secret") != state.secret:
            return _err(40125, "invalid appsecret")
        tok = secrets.token_urlsafe(24)
        with state.lock:
            state.tokens[tok] = time.time() + TOKEN_TTL
            state.tokens_issued += 1
        return jsonify({"access_token": tok, "expires_in": TOKEN_TTL})

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

    @app.post("/cgi-bin/message/subscribe/send")
    def subscribe_send():
        if (bad := token_error()) is not None:
            return bad
        body = json_body()
        touser, template_id = body.get("touser"), body.get("template_id", "")
        if not isinstance(touser, str) or not touser:
            return _err(40003, "invalid openid")
        if not template_id.startswith("tmpl-"):
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
            kind = re.sub(r"\d+$", "", key)
            value = item.get("value") if isinstance(item, dict) else None
            if not _check_value(kind, value):
                return _err(47003, f"argument invalid! data.{key}.value invalid")
        with state.lock:
            left = state.subscriptions.get((touser, template_id))
            if left is not None:
                if left <= 0:
                    return _err(43101, "user refuse to accept the msg")
                state.subscriptions[(touser, template_id)] = left - 1
            state.messages.append({**body, "received_at": time.time()})
        return _err(0, "ok")

    @app.get("/__sandbox/messages")
    def messages():
        touser = request.args.get("touser")
        with state.lock:
            items = [m for m in state.messages if touser in (None, m["touser"])]
        return jsonify({"items": items})

    @app.post("/__sandbox/subscriptions")
    def set_subscription():
        body = json_body()
        with state.lock:
            state.subscriptions[(body["touser"], body["template_id"])] = int(body["count"])
        return jsonify({"ok": True})

    @app.post("/__sandbox/expire-tokens")
    def expire_tokens():
        with state.lock:
            for tok in state.tokens:
                state.tokens[tok] = 0
        return jsonify({"ok": True})

    @app.get("/__sandbox/stats")
    def stats():
        return jsonify({"tokens_issued": state.tokens_issued, "messages": len(state.messages)})

    return app
