"""A provider's wire protocol as configuration: signer recipe, answer envelope and its success
rule, content type, authentication and money unit.

Every HTTP supply provider speaks the one contract of ``providers.http.SignedClient``; what
differs between companies is data, not code branches:

- ``SignRecipe``: which parameters are signed and how. The parameters other than ``sign``
  (nulls left out) are sorted by name and joined as ``k=v&k=v`` (percent-encoded or raw);
  the secret either keys an HMAC (ours), or joins the parameters under a name of its own
  that is never sent (DiDi Enterprise: ``sign_key``, MD5), or is appended as a suffix (T3:
  ``&token=<secret>``, MD5); the digest is hex, lower- or uppercase. The recipes below for
  DiDi, Cao Cao and T3 come from their public client libraries (the companies' own signing
  pages are not public); a deployment corrects one in configuration, not in code.
- ``Envelope``: the answer's code field and the values that mean success (ours ``code: 0``,
  DiDi ``errno: 0``, Cao Cao ``code: 200``, Gaode ``result_code: "0"``), its message and
  data fields, and whether answers are signed (ours are; the ride-hailing platforms' are not).
- ``content_type``: ``json`` bodies (ours) or ``form`` (``application/x-www-form-urlencoded``).
- ``auth``: ``signed`` (``app_key``, ``timestamp``, ``nonce`` on every call) or ``token``
  (``client_id`` and a short-lived ``access_token`` fetched from ``token_path`` with the
  client secret, refreshed before it expires and when the provider says it has).
- ``money_unit``: ``yuan`` (decimal strings) or ``fen`` (integers), converted exactly.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from typing import Any, Mapping
from urllib.parse import quote

from providers.money import CENT, money

DIGESTS = {"md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256}
ALGORITHMS = {"hmac-sha256", *DIGESTS}


def as_text(value: Any) -> str:
    """A parameter as the text that is signed and sent: strings as they are, numbers and
    booleans plainly, anything else as compact JSON with sorted keys."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _escape(text: str) -> str:
    return quote(text, safe="-_.~")


@dataclass(frozen=True)
class SignRecipe:
    """How a provider signs a set of parameters (see the module docstring)."""

    algorithm: str = "hmac-sha256"  # keyed by the secret, or a plain digest: md5, sha1, sha256
    secret_param: str = ""  # the secret is signed as this parameter and never sent
    suffix: str = ""  # appended to the joined string; "{secret}" stands for the secret
    percent_encode: bool = True  # RFC 3986 keys and values (ours), or raw
    uppercase: bool = False
    sign_field: str = "sign"

    def __post_init__(self):
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"unknown signing algorithm {self.algorithm!r}")
        if self.algorithm != "hmac-sha256" and not (self.secret_param or "{secret}" in self.suffix):
            raise ValueError("a plain digest must sign the secret (secret_param or suffix)")

    def base_string(self, params: Mapping[str, Any], secret: str) -> str:
        """The string that is hashed: sorted ``k=v`` pairs without ``sign`` and nulls."""
        items = {k: v for k, v in params.items() if k != self.sign_field and v is not None}
        if self.secret_param:
            items[self.secret_param] = secret
        enc = _escape if self.percent_encode else (lambda text: text)
        joined = "&".join(f"{enc(key)}={enc(as_text(items[key]))}" for key in sorted(items))
        return joined + self.suffix.replace("{secret}", secret)

    def sign(self, params: Mapping[str, Any], secret: str) -> str:
        text = self.base_string(params, secret).encode()
        if self.algorithm == "hmac-sha256":
            digest = hmac.new(secret.encode(), text, hashlib.sha256).hexdigest()
        else:
            digest = DIGESTS[self.algorithm](text).hexdigest()
        return digest.upper() if self.uppercase else digest

    def holds(self, params: Mapping[str, Any], secret: str) -> bool:
        """Whether ``params`` carry the right ``sign`` (compared in constant time)."""
        given = params.get(self.sign_field)
        if not isinstance(given, str) or not given:
            return False
        return hmac.compare_digest(self.sign(params, secret).encode(), given.encode())


@dataclass(frozen=True)
class Envelope:
    """The answer's shape: where its code, message and data are, and what success is."""

    code_field: str = "code"
    success: tuple = (0,)
    message_field: str = "msg"
    data_field: str = "data"
    signed: bool = True  # answers carry app_key, timestamp, nonce and sign (ours)

    def ok(self, body: Mapping[str, Any]) -> bool:
        # Compared as text: Gaode answers the string "0", others the number 0 or 200.
        return str(body.get(self.code_field)) in {str(value) for value in self.success}


@dataclass(frozen=True)
class WireProtocol:
    name: str
    signer: SignRecipe = field(default_factory=SignRecipe)
    envelope: Envelope = field(default_factory=Envelope)
    content_type: str = "json"  # json | form
    auth: str = "signed"  # signed | token
    token_path: str = ""
    money_unit: str = "yuan"  # yuan | fen
    # Provider codes meaning "your signature is wrong" and "your token is not valid".
    signature_codes: frozenset = frozenset()
    token_codes: frozenset = frozenset()

    def __post_init__(self):
        if self.content_type not in ("json", "form"):
            raise ValueError(f"unknown content type {self.content_type!r}")
        if self.auth not in ("signed", "token") or (self.auth == "token" and not self.token_path):
            raise ValueError("auth is 'signed' or 'token' (with a token_path)")
        if self.money_unit not in ("yuan", "fen"):
            raise ValueError(f"unknown money unit {self.money_unit!r}")

    def to_money(self, amount: Any) -> Decimal:
        """A provider amount as Decimal yuan. Fen must be whole: ``1922`` is ¥19.22."""
        if self.money_unit == "yuan":
            return money(amount)
        if isinstance(amount, float) or isinstance(amount, bool):
            raise TypeError("an amount in fen must be an integer, not float")
        fen = Decimal(str(amount))
        if fen != fen.to_integral_value():
            raise ValueError(f"an amount in fen must be whole, got {amount!r}")
        return (fen / 100).quantize(CENT)

    def from_money(self, amount: Decimal) -> int | str:
        """Decimal yuan as the provider's amount (fen as an integer, exact)."""
        amount = money(amount)
        if self.money_unit == "yuan":
            return str(amount)
        return int(amount * 100)


OTB = WireProtocol("otb", signature_codes=frozenset({40101}))
PROTOCOLS: dict[str, WireProtocol] = {
    "otb": OTB,
    "didi": WireProtocol(
        "didi", SignRecipe(algorithm="md5", secret_param="sign_key", percent_encode=False),
        Envelope("errno", (0,), "errmsg", "data", signed=False), content_type="form",
        auth="token", token_path="/river/Auth/authorize", money_unit="fen",
        signature_codes=frozenset({40001}), token_codes=frozenset({40002})),
    "caocao": WireProtocol(
        "caocao", SignRecipe(algorithm="sha1", secret_param="sign_key", percent_encode=False),
        Envelope("code", (200,), "message", "data", signed=False), content_type="form",
        money_unit="fen"),
    "t3": WireProtocol(
        "t3", SignRecipe(algorithm="md5", suffix="&token={secret}", percent_encode=False),
        Envelope("code", (200,), "msg", "data", signed=False), content_type="json",
        money_unit="fen"),
    "gaode": WireProtocol(
        "gaode", SignRecipe(algorithm="md5", secret_param="sign_key", percent_encode=False),
        Envelope("result_code", ("0",), "result_msg", "data", signed=False),
        content_type="form", money_unit="fen"),
}


def protocol_from(spec: str | Mapping[str, Any] | None) -> WireProtocol:
    """A protocol by name, or a mapping that overrides one: ``{"base": "didi", "signer":
    {"algorithm": "sha1"}, "envelope": {"success": [0, 200]}, "money_unit": "yuan"}``."""
    if not spec:
        return OTB
    if isinstance(spec, str):
        if spec not in PROTOCOLS:
            raise ValueError(f"unknown provider protocol {spec!r}")
        return PROTOCOLS[spec]
    spec = dict(spec)
    base = protocol_from(spec.pop("base", "otb"))
    known = {f.name for f in fields(WireProtocol)} - {"name"}
    unknown = set(spec) - known
    if unknown:
        raise ValueError(f"unknown protocol setting(s): {', '.join(sorted(unknown))}")
    if "signer" in spec:
        spec["signer"] = replace(base.signer, **spec["signer"])
    if "envelope" in spec:
        env = dict(spec["envelope"])
        if "success" in env:
            env["success"] = tuple(env["success"])
        spec["envelope"] = replace(base.envelope, **env)
    for codes in ("signature_codes", "token_codes"):
        if codes in spec:
            spec[codes] = frozenset(spec[codes])
    return replace(base, **spec)
