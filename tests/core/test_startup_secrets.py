"""Outside the embedded default (issue 12 #2), the app refuses to start without real
secrets: the JWT secret, the WeChat secret and every enabled provider's webhook/API
secret must be set and not the public ones in this repository. The devserver and the
suite say SANDBOX_MODE; gunicorn wsgi:app does not."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from app import create_app
from app.config import Config, InsecureConfig

ROOT = Path(__file__).resolve().parents[2]
REAL = {"JWT_SECRET": "k" * 48, "WECHAT_SECRET": "a-real-wechat-app-secret",
        "PROVIDERS_JSON": json.dumps({name: {"secret": f"real-{name}-secret"}
                                      for name in ("ridehail", "rental-a", "rental-b")})}


@pytest.fixture
def production_env(monkeypatch):
    """The environment of a production node that has set no secrets."""
    for name in list(os.environ):
        if name.startswith("OTB_"):
            monkeypatch.delenv(name)


def refusal(**overrides) -> str:
    with pytest.raises(InsecureConfig) as refused:
        create_app(Config.from_mapping(overrides))
    return str(refused.value)


def test_no_secrets_refuses_to_start(production_env):
    message = refusal()
    assert "OTB_JWT_SECRET" in message and "OTB_WECHAT_SECRET" in message
    for name in ("ridehail", "rental-a", "rental-b"):
        assert f"provider '{name}'" in message


def test_each_public_secret_alone_refuses_to_start(production_env):
    assert "OTB_JWT_SECRET" in refusal(**{**REAL, "JWT_SECRET": Config().JWT_SECRET})
    assert "OTB_JWT_SECRET" in refusal(**{**REAL, "JWT_SECRET": "short"})
    assert "OTB_WECHAT_SECRET" in refusal(**{**REAL, "WECHAT_SECRET": "wx-sandbox-secret"})
    # An empty provider configuration means the defaults, with the sandboxes' secrets.
    assert "provider 'ridehail'" in refusal(**{**REAL, "PROVIDERS_JSON": ""})
    leaked = json.dumps({"ridehail": {"secret": "real-ridehail-secret"},
                         "rental-a": {"secret": "sandbox-rental-b-secret"},
                         "rental-b": {"secret": "real"}})
    message = refusal(**{**REAL, "PROVIDERS_JSON": leaked})
    assert "provider 'rental-a'" in message and "'ridehail'" not in message


def test_real_secrets_or_sandbox_mode_start(production_env):
    Config.from_mapping(REAL).require_real_secrets()
    disabled = json.dumps({"ridehail": {"secret": "real"}, "rental-a": {"enabled": False},
                           "rental-b": {"enabled": False}})
    Config.from_mapping({**REAL, "PROVIDERS_JSON": disabled}).require_real_secrets()
    Config.from_mapping({"SANDBOX_MODE": True}).require_real_secrets()


def _gunicorn(env: dict) -> subprocess.Popen:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTB_")}
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "1", "-b", "127.0.0.1:0", "--no-control-socket",
         "wsgi:app"],
        cwd=ROOT, env={**clean, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)


def test_gunicorn_without_secrets_exits_with_a_clear_log_line(tmp_path):
    proc = _gunicorn({"DATABASE_URL": f"sqlite:///{tmp_path / 'otb.sqlite'}"})
    try:
        output, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode != 0, output
    assert re.search(r"CRITICAL .*refusing to start outside sandbox mode: OTB_JWT_SECRET is "
                     r"unset", output), output


def test_gunicorn_with_real_secrets_serves(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'otb.sqlite'}",
           **{f"OTB_{name}": value for name, value in REAL.items()}}
    proc = _gunicorn(env)
    try:
        lines, listening = [], None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            lines.append(proc.stdout.readline())
            listening = re.search(r"Listening at: (http://\S+)", lines[-1])
            if listening:
                break
        assert listening, "".join(lines)
        resp = requests.get(f"{listening.group(1)}/api/v1/openapi.json", timeout=30)
        assert resp.status_code == 200
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
