"""`make run`'s process end to end: it migrates, seeds, serves, logs a demo user in, stops on Ctrl-C."""
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from providers.sandbox import runner

ROOT = Path(__file__).resolve().parents[2]


def free_port_block(size: int) -> int:
    """A base port whose next ``size`` ports are free right now."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + size < 65000 and all(_free(base + i) for i in range(size)):
            return base
    raise RuntimeError("no free port block")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


@pytest.fixture
def devserver(tmp_path, empty_database):
    """``make run`` as its own process: on a fresh SQLite file, or with TEST_DATABASE_URL
    on a fresh PostgreSQL database beside it (the devserver migrates and seeds either)."""
    url = (empty_database("devserver") if os.environ.get("TEST_DATABASE_URL")
           else f"sqlite:///{tmp_path / 'dev.sqlite'}")
    env = {**os.environ, "PORT": str(free_port_block(1)),
           "SANDBOX_PORT_BASE": str(free_port_block(runner.PORT_BLOCK)), "DATABASE_URL": url}
    proc = subprocess.Popen([sys.executable, "-m", "app.devserver"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    banner = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        banner.append(line)
        if line.startswith("READY "):
            break
    else:
        proc.kill()
    if not banner or not banner[-1].startswith("READY "):
        proc.kill()
        pytest.fail("devserver did not become ready:\n" + "".join(banner))
    yield banner[-1].split()[1], "".join(banner), proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_run_command_serves_seeded_demo_and_stops_cleanly(devserver):
    url, banner, proc = devserver
    assert "demo-traveler" in banner and "demo-admin" in banner
    login = requests.post(f"{url}/api/v1/auth/wechat-login",
                          json={"code": "sandbox:demo-traveler"}, timeout=10)
    assert login.status_code == 200, login.text
    me = requests.get(f"{url}/api/v1/me", timeout=10,
                      headers={"Authorization": f"Bearer {login.json()['access_token']}"})
    assert me.status_code == 200 and me.json()["roles"] == ["traveler"]
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "stopped" in out
