"""The built console at /console/: index for every history-mode route, hashed assets cached
for a year, the API's 404s untouched, and a clear answer when it was not built."""
import pytest


@pytest.fixture
def dist(app, tmp_path, monkeypatch):
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>控制台</title>", encoding="utf-8")
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log(1)")
    (tmp_path / "favicon.ico").write_bytes(b"\0")
    monkeypatch.setitem(app.config, "CONSOLE_DIST", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("path", ["/console/", "/console/dispatch", "/console/trips/42",
                                  "/console/admin/vehicles"])
def test_history_routes_get_the_index_never_cached(client, dist, path):
    resp = client.get(path)
    assert resp.status_code == 200 and "控制台" in resp.get_data(as_text=True)
    assert resp.mimetype == "text/html" and resp.headers["Cache-Control"] == "no-cache"


def test_hashed_assets_are_cached_for_a_year(client, dist):
    resp = client.get("/console/assets/index-abc123.js")
    assert resp.status_code == 200 and resp.get_data(as_text=True) == "console.log(1)"
    assert resp.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert client.get("/console/favicon.ico").status_code == 200
    missing = client.get("/console/assets/gone-000.js")
    assert missing.status_code == 404 and missing.get_json()["code"] == "not_found"


def test_no_escape_from_the_build_directory(client, dist):
    assert "控制台" in client.get("/console/../app/config.py").get_data(as_text=True)
    resp = client.get("/console/%2e%2e/%2e%2e/etc/passwd")
    assert b"root:" not in resp.data


def test_root_and_bare_path_lead_to_the_console(client, dist):
    assert client.get("/").headers["Location"].endswith("/console/")
    assert client.get("/console").headers["Location"].endswith("/console/")
    api_404 = client.get("/api/v1/nothing-here")
    assert api_404.status_code == 404 and api_404.is_json


def test_an_unbuilt_console_says_how_to_build_it(client, app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "CONSOLE_DIST", str(tmp_path / "missing"))
    resp = client.get("/console/dispatch")
    assert resp.status_code == 404 and resp.get_json()["code"] == "console_not_built"
    assert "make run" in resp.get_json()["message"]
